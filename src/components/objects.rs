//! Kubernetes objects as the model stores them in etcd: each packed into one 64-bit value, so that they
//! travel through Raft cheaply. Node leases hold a renew counter; Node objects the Ready condition and
//! taints; Pods their workload, node binding and deletion mark.

/// A pod's stored state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Index of the workload (Deployment/ReplicaSet) that owns it.
    pub workload: u16,
    /// The node it is bound to (None: pending).
    pub node: Option<u16>,
    /// Has a deletionTimestamp (evicted or scaled down): Terminating.
    pub terminating: bool,
}

impl Pod {
    /// Packs into a non-zero value.
    pub fn pack(self) -> u64 {
        (self.workload as u64 + 1)
            | (self.node.map(|n| n as u64 + 1).unwrap_or(0) << 16)
            | ((self.terminating as u64) << 32)
    }

    /// Unpacks a stored value.
    pub fn unpack(v: u64) -> Pod {
        let node = (v >> 16) & 0xffff;
        Pod {
            workload: ((v & 0xffff) as u16).saturating_sub(1),
            node: if node == 0 {
                None
            } else {
                Some(node as u16 - 1)
            },
            terminating: (v >> 32) & 1 == 1,
        }
    }
}

/// A Node object's stored state (as the node lifecycle controller maintains it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeObj {
    /// Ready condition True (false: Unknown, the kubelet stopped posting).
    pub ready: bool,
    /// `node.kubernetes.io/unreachable:NoExecute`.
    pub unreachable_taint: bool,
    /// When the taint was added, in whole seconds of the run (TimeAdded).
    pub taint_added_s: u32,
}

impl NodeObj {
    /// Packs into a non-zero value.
    pub fn pack(self) -> u64 {
        1 | ((self.ready as u64) << 1)
            | ((self.unreachable_taint as u64) << 2)
            | ((self.taint_added_s as u64) << 32)
    }

    /// Unpacks a stored value.
    pub fn unpack(v: u64) -> NodeObj {
        NodeObj {
            ready: (v >> 1) & 1 == 1,
            unreachable_taint: (v >> 2) & 1 == 1,
            taint_added_s: (v >> 32) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_and_nodes_round_trip() {
        for p in [
            Pod {
                workload: 0,
                node: None,
                terminating: false,
            },
            Pod {
                workload: 3,
                node: Some(0),
                terminating: true,
            },
            Pod {
                workload: 7,
                node: Some(120),
                terminating: false,
            },
        ] {
            assert_ne!(p.pack(), 0);
            assert_eq!(Pod::unpack(p.pack()), p);
        }
        let n = NodeObj {
            ready: false,
            unreachable_taint: true,
            taint_added_s: 4000,
        };
        assert_eq!(NodeObj::unpack(n.pack()), n);
    }
}

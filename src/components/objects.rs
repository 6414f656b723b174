//! Kubernetes objects as the model stores them in etcd: each packed into one 64-bit value, so that they
//! travel through Raft cheaply. Node leases hold a renew counter; Node objects the Ready condition and
//! taints; Pods their workload, node binding, Ready condition and deletion mark; EndpointSlice entries
//! the pod behind each endpoint of a workload's Service.

/// A pod's stored state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Index of the workload (Deployment/ReplicaSet) that owns it.
    pub workload: u16,
    /// The node it is bound to (None: pending).
    pub node: Option<u16>,
    /// Has a deletionTimestamp (evicted or scaled down): Terminating.
    pub terminating: bool,
    /// The pod's Ready condition as stored: set True by the kubelet once its containers are ready,
    /// False by the node lifecycle controller's `MarkPodsNotReady` when the node stops being Ready.
    pub ready: bool,
}

impl Pod {
    /// Packs into a non-zero value.
    pub fn pack(self) -> u64 {
        (self.workload as u64 + 1)
            | (self.node.map(|n| n as u64 + 1).unwrap_or(0) << 16)
            | ((self.terminating as u64) << 32)
            | ((self.ready as u64) << 33)
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
            ready: (v >> 33) & 1 == 1,
        }
    }
}

/// One ready endpoint of a workload's Service, as the EndpointSlice controller publishes it (keyed
/// by the pod's uid): which workload and which node the pod runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointObj {
    pub workload: u16,
    pub node: u16,
}

impl EndpointObj {
    /// Packs into a non-zero value.
    pub fn pack(self) -> u64 {
        (self.workload as u64 + 1) | ((self.node as u64) << 16)
    }

    /// Unpacks a stored value.
    pub fn unpack(v: u64) -> EndpointObj {
        EndpointObj {
            workload: ((v & 0xffff) as u16).saturating_sub(1),
            node: ((v >> 16) & 0xffff) as u16,
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
                ready: false,
            },
            Pod {
                workload: 3,
                node: Some(0),
                terminating: true,
                ready: true,
            },
            Pod {
                workload: 7,
                node: Some(120),
                terminating: false,
                ready: true,
            },
        ] {
            assert_ne!(p.pack(), 0);
            assert_eq!(Pod::unpack(p.pack()), p);
        }
        for e in [
            EndpointObj {
                workload: 0,
                node: 0,
            },
            EndpointObj {
                workload: 9_999,
                node: 4_000,
            },
        ] {
            assert_ne!(e.pack(), 0);
            assert_eq!(EndpointObj::unpack(e.pack()), e);
        }
        let n = NodeObj {
            ready: false,
            unreachable_taint: true,
            taint_added_s: 4000,
        };
        assert_eq!(NodeObj::unpack(n.pack()), n);
    }
}

//! What an etcd member can carry: the CPU each request takes on its cores, and the leader's
//! bandwidth to each follower.
//!
//! CPU (modelling choices, stated in `settings.etcd`): a read (Get or Range) costs `cpu_per_read` on
//! the member that serves it; a write costs `cpu_per_write` on every member that applies it (the
//! leader's proposal and replication and the client's gRPC handling folded in), so a cluster's
//! writes are bounded by one member's `cores / cpu_per_write` however many members it has, as in
//! etcd, where every member applies every entry. The work runs on the member's first free core; the
//! answer leaves when it is done. The store applies at once (the order of entries is Raft's); only
//! the answer waits for the CPU, so a saturated member answers ever later until its clients time out.
//!
//! Batching: the member takes a new Ready only when the previous one's WAL write is fsynced
//! (`EtcdMember::handle_ready`), so the proposals that arrive during an fsync go out together in
//! the next Ready: one fsync per batch, as etcd's raftNode loop does.
//!
//! Bandwidth: an append carrying writes takes their size (`bytes_per_revision` each) over
//! `peer_bandwidth_bytes_per_s`, one message after another on each leader-to-follower link (etcd's
//! rafthttp stream is one TCP connection per peer); a message behind it on the same link waits for it,
//! so the order on a link is kept.

use super::types::{EntryData, MemberId, RaftMsg};
use crate::engine::{Nanos, SEC};
use std::collections::BTreeMap;

/// A member's capacity settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdCapacity {
    pub cores: u32,
    pub read_cpu_ns: Nanos,
    pub write_cpu_ns: Nanos,
    pub peer_bytes_per_s: u64,
    /// The size of a write's entry on the wire.
    pub entry_bytes: u64,
}

impl EtcdCapacity {
    /// No cost: every request answers as soon as the protocol allows (the model before issue 14).
    pub const FREE: EtcdCapacity = EtcdCapacity {
        cores: 1,
        read_cpu_ns: 0,
        write_cpu_ns: 0,
        peer_bytes_per_s: 0,
        entry_bytes: 0,
    };

    /// The bytes of a Raft message that take time on the link: its writes.
    pub fn wire_bytes(&self, m: &RaftMsg) -> u64 {
        let puts = m
            .entries
            .iter()
            .filter(|e| match e.data {
                EntryData::Put { .. } => true,
                EntryData::Empty
                | EntryData::ConfChange(_)
                | EntryData::Alarm { .. }
                | EntryData::Disarm { .. } => false,
            })
            .count() as u64;
        puts.saturating_mul(self.entry_bytes)
    }

    /// The time `bytes` take on one link; 0 with the bandwidth off.
    pub fn transfer_ns(&self, bytes: u64) -> Nanos {
        if self.peer_bytes_per_s == 0 || bytes == 0 {
            return 0;
        }
        Nanos::try_from((bytes as u128 * SEC as u128).div_ceil(self.peer_bytes_per_s as u128))
            .unwrap_or(Nanos::MAX)
    }
}

/// The leader's links to its followers: when each is free again.
#[derive(Clone, Debug, Default)]
pub struct Links {
    free_at: BTreeMap<MemberId, Nanos>,
}

impl Links {
    /// A message of `bytes` to `to` handed to its link at `now`: when it has left in full (now when
    /// the link is idle and the message takes no time).
    pub fn send(&mut self, to: MemberId, now: Nanos, took_ns: Nanos) -> Nanos {
        let free = self.free_at.get(&to).copied().unwrap_or(0);
        let done = free.max(now).saturating_add(took_ns);
        if done > now {
            self.free_at.insert(to, done);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::etcd::types::{Entry, MsgType};

    #[test]
    fn appends_queue_on_their_link_and_others_wait_behind_them() {
        let cap = EtcdCapacity {
            peer_bytes_per_s: 1_000_000,
            entry_bytes: 1000,
            ..EtcdCapacity::FREE
        };
        let mut m = RaftMsg::new(MsgType::App, 1, 2, 1);
        for i in 0..3 {
            m.entries.push(Entry {
                term: 1,
                index: i + 1,
                data: EntryData::Put {
                    key: 1,
                    value: 1,
                    write_id: i,
                    expected_rev: None,
                },
            });
        }
        m.entries.push(Entry {
            term: 1,
            index: 4,
            data: EntryData::Empty,
        });
        assert_eq!(cap.wire_bytes(&m), 3000);
        let took = cap.transfer_ns(cap.wire_bytes(&m));
        assert_eq!(took, 3 * crate::engine::MS);
        let mut links = Links::default();
        assert_eq!(links.send(2, 0, took), 3 * crate::engine::MS);
        // A heartbeat right after waits for the append; another follower's link is free.
        assert_eq!(links.send(2, crate::engine::MS, 0), 3 * crate::engine::MS);
        assert_eq!(links.send(3, crate::engine::MS, 0), crate::engine::MS);
        assert_eq!(
            links.send(2, 5 * crate::engine::MS, 0),
            5 * crate::engine::MS
        );
    }
}

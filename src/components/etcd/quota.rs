//! The backend database's size against `--quota-backend-bytes` (2 GiB by default; etcd
//! server/storage/quota.go `DefaultQuotaBytes`), and the NOSPACE alarm.
//!
//! Size: bbolt's file is a high-water mark: pages freed by compaction are reused, the file does not
//! shrink without a defrag. The model counts `bytes_per_revision` for every live key and every revision
//! not yet compacted, where kube-apiserver compacts every 5 minutes to the revision it saw at the
//! previous round (`--etcd-compaction-interval` 5m; k8s.io/apiserver storage/etcd3/compact.go), so it
//! keeps 5 to 10 minutes of history; the database size is the largest this ever was.
//!
//! NOSPACE, as etcd does it: a member whose own database would pass the quota with a Put refuses
//! that Put with `etcdserver: mvcc: database space exceeded` and proposes an
//! `AlarmRequest{ACTIVATE, NOSPACE}` for itself through Raft (server/etcdserver/api/v3rpc/quota.go,
//! `quotaKVServer`; rpctypes `ErrGRPCNoSpace`). Every member applies the alarm (logging `"alarm
//! raised"` the first time it sees that member's alarm, server/etcdserver/apply.go `applyAlarm`) and
//! from then on refuses every Put at apply (`applierV3Capped`), also a Put a member with room
//! proposed, while reads and deletes go on (FACTS.md "Capacity"). The alarm is part of the store
//! (etcd's `alarm` bucket), so it survives restarts and leader changes and travels in snapshots. etcd
//! keeps it until an operator compacts, defragments and runs `etcdctl alarm disarm` (the
//! `alarm-disarm` fault: each alarm deactivated through Raft, `EntryData::Disarm`); without that it
//! lasts to the end of the run. Where etcd proposes an AlarmRequest for every
//! refused request (the store keeps one per member), the model proposes once per start of the
//! member; the outcome is the same. A restarted member starts from its store's current size.

use crate::engine::{Nanos, MIN};

/// kube-apiserver's `--etcd-compaction-interval`, 5 m.
pub const COMPACTION_INTERVAL_NS: Nanos = 5 * MIN;

/// Quota settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaConfig {
    pub quota_backend_bytes: u64,
    pub bytes_per_revision: u64,
}

/// One member's backend size and alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    pub high_water_bytes: u64,
    compacted_rev: u64,
    mark_rev: u64,
    next_compaction_ns: Nanos,
    /// This member found its database full (and proposed the alarm).
    pub full: bool,
}

impl Backend {
    /// A backend opened at `now` on a store of `live` keys at revision `rev`.
    pub fn open(cfg: QuotaConfig, now: Nanos, live: u64, rev: u64) -> Backend {
        Backend {
            high_water_bytes: live.saturating_mul(cfg.bytes_per_revision),
            compacted_rev: rev,
            mark_rev: rev,
            next_compaction_ns: now + COMPACTION_INTERVAL_NS,
            full: false,
        }
    }

    fn size(&self, cfg: QuotaConfig, live: u64, rev: u64) -> u64 {
        live.saturating_add(rev.saturating_sub(self.compacted_rev))
            .saturating_mul(cfg.bytes_per_revision)
    }

    /// kube-apiserver's compaction rounds due by `now`, the store at revision `rev`: each compacts
    /// to the revision the round before it saw. They run on the API server's clock whether or not
    /// anything is written (etcd serves a Compact under the NOSPACE alarm).
    fn compact_due(&mut self, now: Nanos, rev: u64) {
        while now >= self.next_compaction_ns {
            self.compacted_rev = self.mark_rev;
            self.mark_rev = rev;
            self.next_compaction_ns += COMPACTION_INTERVAL_NS;
        }
    }

    /// A write was applied at `now`: the store has `live` keys at revision `rev`.
    pub fn applied(&mut self, cfg: QuotaConfig, now: Nanos, live: u64, rev: u64) {
        self.compact_due(now, rev);
        self.high_water_bytes = self.high_water_bytes.max(self.size(cfg, live, rev));
    }

    /// `etcdctl defrag` at `now`: bbolt rewrites the file with only the pages in use, so it shrinks
    /// to the live size (keys plus revisions not yet compacted, counting the compaction rounds due
    /// by now: under the NOSPACE alarm nothing is written, and the history still compacts). Returns
    /// the size before.
    pub fn defragment(&mut self, cfg: QuotaConfig, now: Nanos, live: u64, rev: u64) -> u64 {
        self.compact_due(now, rev);
        let before = self.high_water_bytes;
        self.high_water_bytes = self.size(cfg, live, rev);
        before
    }

    /// Whether a Put of `value` may be proposed by this member, judged by its own size (a deletion
    /// always may); returns (admitted, newly full: the member should propose the alarm).
    pub fn admit_put(&mut self, cfg: QuotaConfig, value: u64) -> (bool, bool) {
        if value == 0 {
            return (true, false);
        }
        let full = self.full
            || self.high_water_bytes.saturating_add(cfg.bytes_per_revision)
                > cfg.quota_backend_bytes;
        let newly = full && !self.full;
        self.full |= full;
        (!full, newly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_finds_its_database_full_at_the_quota_and_lets_deletes_through() {
        let cfg = QuotaConfig {
            quota_backend_bytes: 10 * 1024,
            bytes_per_revision: 1024,
        };
        let mut b = Backend::open(cfg, 0, 0, 0);
        let mut rev = 0;
        while b.admit_put(cfg, 7).0 {
            rev += 1;
            b.applied(cfg, 1, 1, rev);
        }
        assert!(b.full);
        assert_eq!(rev, 9, "one live key and 9 revisions fill 10 KiB");
        assert_eq!(b.admit_put(cfg, 0), (true, false));
        assert_eq!(b.admit_put(cfg, 7), (false, false));
    }

    #[test]
    fn compaction_keeps_the_size_bounded() {
        let cfg = QuotaConfig {
            quota_backend_bytes: u64::MAX,
            bytes_per_revision: 1,
        };
        let mut b = Backend::open(cfg, 0, 0, 0);
        // 1 write a second for an hour on one key: at most 10 minutes of history are kept.
        for s in 1..=3600u64 {
            b.applied(cfg, s * crate::engine::SEC, 1, s);
        }
        assert!(b.high_water_bytes <= 601, "{}", b.high_water_bytes);
        assert!(b.high_water_bytes >= 300);
    }
}

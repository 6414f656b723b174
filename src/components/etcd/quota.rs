//! The backend database's size against `--quota-backend-bytes` (2 GiB by default; etcd
//! server/storage/quota.go `DefaultQuotaBytes`), and the NOSPACE alarm.
//!
//! Size: bbolt's file is a high-water mark: pages freed by compaction are reused, the file does not
//! shrink without a defrag. The model counts `bytes_per_revision` for every live key and every revision
//! not yet compacted, where kube-apiserver compacts every 5 minutes to the revision it saw at the
//! previous round (`--etcd-compaction-interval` 5m; k8s.io/apiserver storage/etcd3/compact.go), so it
//! keeps 5 to 10 minutes of history; the database size is the largest this ever was.
//!
//! NOSPACE: a Put that would take the size past the quota is refused with `etcdserver: mvcc: database
//! space exceeded` and raises the alarm (server/etcdserver/api/v3rpc/quota.go, `quotaKVServer`;
//! rpctypes `ErrGRPCNoSpace`); while it is raised every Put is refused, reads and deletes go on
//! (FACTS.md "Capacity"). etcd keeps it until an operator compacts, defragments and runs `etcdctl
//! alarm disarm`; the model has no operator, so it lasts to the end of the run. Simplified: each member
//! judges its own size (they apply the same entries, so they raise it within one apply of each other)
//! instead of replicating the AlarmRequest through Raft; a restarted member starts from its store's
//! current size.

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
    pub nospace: bool,
}

impl Backend {
    /// A backend opened at `now` on a store of `live` keys at revision `rev`.
    pub fn open(cfg: QuotaConfig, now: Nanos, live: u64, rev: u64) -> Backend {
        Backend {
            high_water_bytes: live.saturating_mul(cfg.bytes_per_revision),
            compacted_rev: rev,
            mark_rev: rev,
            next_compaction_ns: now + COMPACTION_INTERVAL_NS,
            nospace: false,
        }
    }

    fn size(&self, cfg: QuotaConfig, live: u64, rev: u64) -> u64 {
        live.saturating_add(rev.saturating_sub(self.compacted_rev))
            .saturating_mul(cfg.bytes_per_revision)
    }

    /// A write was applied at `now`: the store has `live` keys at revision `rev`.
    pub fn applied(&mut self, cfg: QuotaConfig, now: Nanos, live: u64, rev: u64) {
        while now >= self.next_compaction_ns {
            self.compacted_rev = self.mark_rev;
            self.mark_rev = rev;
            self.next_compaction_ns += COMPACTION_INTERVAL_NS;
        }
        self.high_water_bytes = self.high_water_bytes.max(self.size(cfg, live, rev));
    }

    /// `etcdctl defrag`: bbolt rewrites the file with only the pages in use, so it shrinks to the live
    /// size (keys plus revisions not yet compacted). Returns the size before.
    pub fn defragment(&mut self, cfg: QuotaConfig, live: u64, rev: u64) -> u64 {
        let before = self.high_water_bytes;
        self.high_water_bytes = self.size(cfg, live, rev);
        before
    }

    /// Whether a Put of `value` may be proposed (a deletion always may). Raises the alarm when it may
    /// not; returns (admitted, alarm newly raised).
    pub fn admit_put(&mut self, cfg: QuotaConfig, value: u64) -> (bool, bool) {
        if value == 0 {
            return (true, false);
        }
        let full = self.nospace
            || self.high_water_bytes.saturating_add(cfg.bytes_per_revision)
                > cfg.quota_backend_bytes;
        let raised = full && !self.nospace;
        self.nospace |= full;
        (!full, raised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_rises_at_the_quota_and_lets_deletes_through() {
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
        assert!(b.nospace);
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

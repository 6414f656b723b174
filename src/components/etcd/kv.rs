//! The replicated key-value store every member applies committed entries to (etcd's MVCC, reduced to
//! what the model needs: values, mod revisions, compare-and-swap, ranges).

use crate::components::msg::{Key, KeyValue};
use std::collections::BTreeMap;

/// The store's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    data: BTreeMap<Key, (u64, u64)>,
    /// The store revision: the number of applied writes.
    pub rev: u64,
    /// The cluster's membership as of this store, as etcd keeps it in its backend's `members`
    /// bucket (so snapshots carry it): None until the first change, meaning the initial cluster of
    /// `--initial-cluster`.
    pub members: Option<Vec<MemberRecord>>,
    /// The members with an active NOSPACE alarm, in id order: etcd keeps alarms in its backend's
    /// `alarm` bucket (server/etcdserver/api/v3alarm), so they survive a restart and travel in
    /// snapshots. While any is active, the store refuses Puts (etcd's `applierV3Capped`).
    pub nospace: Vec<crate::components::etcd::types::MemberId>,
}

/// One member of the cluster's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    pub id: crate::components::etcd::types::MemberId,
    /// Where its peer URL points.
    pub proc: u16,
    pub learner: bool,
}

impl Kv {
    /// The membership: the stored one, or `initial` (every member a voter).
    pub fn members_or(&self, initial: &[(u64, u16)]) -> Vec<MemberRecord> {
        self.members.clone().unwrap_or_else(|| {
            initial
                .iter()
                .map(|&(id, proc)| MemberRecord {
                    id,
                    proc,
                    learner: false,
                })
                .collect()
        })
    }

    /// Applies a committed membership change (etcd's `applyConfChange` on the v3 store).
    pub fn apply_conf(
        &mut self,
        cc: crate::components::etcd::types::ConfChange,
        initial: &[(u64, u16)],
    ) {
        use crate::components::etcd::types::ConfChange;
        let mut m = self.members_or(initial);
        match cc {
            ConfChange::AddLearner { id, proc } => {
                if !m.iter().any(|r| r.id == id) {
                    m.push(MemberRecord {
                        id,
                        proc,
                        learner: true,
                    });
                    m.sort_unstable_by_key(|r| r.id);
                }
            }
            ConfChange::Promote { id } => {
                for r in m.iter_mut().filter(|r| r.id == id) {
                    r.learner = false;
                }
            }
            ConfChange::Remove { id } => m.retain(|r| r.id != id),
        }
        self.members = Some(m);
    }
}

/// The outcome of applying a put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written at this revision.
    Written(u64),
    /// The compare-and-swap precondition failed.
    Conflict,
    /// A NOSPACE alarm is active: `etcdserver: mvcc: database space exceeded`.
    NoSpace,
}

impl Kv {
    /// Applies a put (a value of 0 deletes), checking `expected_rev` (0: the key must not exist).
    /// With a NOSPACE alarm active only deletes apply (etcd's `applierV3Capped` refuses Put and
    /// Txns with writes; DeleteRange goes on).
    pub fn put(&mut self, key: Key, value: u64, expected_rev: Option<u64>) -> PutOutcome {
        if value != 0 && !self.nospace.is_empty() {
            return PutOutcome::NoSpace;
        }
        if let Some(expected) = expected_rev {
            let current = self.data.get(&key).map(|(_, r)| *r).unwrap_or(0);
            if current != expected {
                return PutOutcome::Conflict;
            }
        }
        self.rev += 1;
        if value == 0 {
            self.data.remove(&key);
        } else {
            self.data.insert(key, (value, self.rev));
        }
        PutOutcome::Written(self.rev)
    }

    /// Activates `member`'s NOSPACE alarm (etcd's `alarmStore.Activate`); true when it was not yet
    /// active.
    pub fn activate_nospace(&mut self, member: crate::components::etcd::types::MemberId) -> bool {
        match self.nospace.binary_search(&member) {
            Ok(_) => false,
            Err(at) => {
                self.nospace.insert(at, member);
                true
            }
        }
    }

    /// Deactivates `member`'s NOSPACE alarm (etcd's `alarmStore.Deactivate`); true when it was
    /// active.
    pub fn deactivate_nospace(&mut self, member: crate::components::etcd::types::MemberId) -> bool {
        match self.nospace.binary_search(&member) {
            Ok(at) => {
                self.nospace.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// One key.
    pub fn get(&self, key: Key) -> Option<KeyValue> {
        self.data.get(&key).map(|(v, r)| KeyValue {
            key,
            value: *v,
            mod_rev: *r,
        })
    }

    /// How many keys the store holds.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Keys in `[start, end)`, in key order.
    pub fn range(&self, start: Key, end: Key) -> Vec<KeyValue> {
        self.data
            .range(start..end)
            .map(|(k, (v, r))| KeyValue {
                key: *k,
                value: *v,
                mod_rev: *r,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_checks_mod_revision() {
        let mut kv = Kv::default();
        assert_eq!(kv.put(1, 10, Some(0)), PutOutcome::Written(1));
        assert_eq!(kv.put(1, 11, Some(0)), PutOutcome::Conflict);
        assert_eq!(kv.put(1, 11, Some(1)), PutOutcome::Written(2));
        assert_eq!(kv.get(1).unwrap().value, 11);
        assert_eq!(kv.put(1, 0, None), PutOutcome::Written(3));
        assert_eq!(kv.get(1), None);
    }

    #[test]
    fn an_active_nospace_alarm_refuses_puts_but_not_deletes() {
        let mut kv = Kv::default();
        assert_eq!(kv.put(1, 10, None), PutOutcome::Written(1));
        assert!(kv.activate_nospace(3));
        assert!(!kv.activate_nospace(3), "activated once");
        assert_eq!(kv.put(2, 10, None), PutOutcome::NoSpace);
        assert_eq!(kv.put(1, 0, None), PutOutcome::Written(2));
        assert_eq!(kv.rev, 2);
    }
}

//! etcd membership changes as an operator makes them with `etcdctl` (the `member-remove` and
//! `member-add` faults): the request goes to the leader, which checks it as etcd's
//! `--strict-reconfig-check` does (etcd server/etcdserver/server.go `mayRemoveMember`,
//! `mayAddMember`, `mayPromoteMember`) and proposes it through Raft; every member applies it when it
//! commits. One change at a time: a proposal while another is unapplied is refused.

use super::World;
use crate::components::ctx::ProcId;
use crate::components::etcd::kv::MemberRecord;
use crate::components::etcd::types::ConfChange;
use crate::engine::SEC;
use crate::net::NodeId;
use crate::observe::TraceKind;

/// How often the operator retries `etcdctl member promote` until the learner is in sync (a modelling
/// choice: etcd gives no schedule; kubeadm's `join` for a learner polls every second too).
const PROMOTE_RETRY_NS: u64 = SEC;

/// etcd's `readyPercentThreshold`: a learner may be promoted once its match index is at least 90 %
/// of the leader's (server/etcdserver/server.go `isLearnerReady`).
const LEARNER_READY_PERCENT: f64 = 0.9;

impl World {
    /// Logs what the operator's `etcdctl` printed (on the client's lane, like the other operator
    /// actions).
    fn etcdctl_log(&mut self, text: String) {
        let client = crate::engine::id16(self.procs.len() - 1);
        self.record(TraceKind::Log { proc: client, text });
    }

    /// The running leader and the membership its store holds, with every peer route it knows.
    fn leader_membership(
        &self,
    ) -> Result<(ProcId, crate::components::etcd::member::Membership), String> {
        let l = self
            .etcd_leader()
            .filter(|&l| self.procs[l as usize].running())
            .ok_or("etcdserver: no leader (etcdctl: context deadline exceeded)")?;
        let membership = self.procs[l as usize]
            .comp
            .etcd()
            .and_then(|m| m.membership())
            .ok_or("etcdserver: no leader (etcdctl: context deadline exceeded)")?;
        Ok((l, membership))
    }

    /// Whether member `r` is started and connected to the leader `l` (etcd counts the members whose
    /// peer connection has been active lately, `numConnectedSince`).
    fn connected(&self, l: ProcId, r: &MemberRecord) -> bool {
        let p = r.proc as usize;
        r.proc == l
            || (self.procs[p].running()
                && self
                    .net
                    .reachable(self.procs[l as usize].node, self.procs[p].node))
    }

    /// Runs an etcdctl request `f` on the leader `l`'s member, its outputs applied as any handler's.
    fn at_leader<T>(
        &mut self,
        l: ProcId,
        f: impl FnOnce(
            &mut crate::components::etcd::member::EtcdMember,
            &mut crate::components::ctx::Ctx,
        ) -> Result<T, &'static str>,
    ) -> Result<T, String> {
        let mut result = Err("etcdserver: not leader");
        self.dispatch(l, |comp, ctx| {
            if let Some(m) = comp.etcd_mut() {
                result = f(m, ctx);
            }
        });
        result.map_err(str::to_string)
    }

    /// Proposes `cc` on the leader `l`.
    fn propose_conf(&mut self, l: ProcId, cc: ConfChange) -> Result<(), String> {
        self.at_leader(l, |m, ctx| m.propose_conf(ctx, cc).map(|_| ()))
    }

    /// `etcdctl alarm disarm`, sent to the leader: clientv3's `AlarmDisarm` with no member named
    /// lists the alarms (`AlarmList`) and deactivates each with its own `AlarmRequest{DEACTIVATE}`,
    /// each through Raft (etcd server/etcdserver/v3_server.go `Alarm`). It prints each alarm it
    /// disarmed (`memberID:<id> alarm:NOSPACE `, see `inspect::etcdctl::alarm_text`); with none
    /// raised it prints nothing.
    pub(super) fn alarm_disarm(&mut self) -> Result<(), String> {
        let (l, (records, _)) = self.leader_membership()?;
        let members = self.at_leader(l, |m, ctx| m.propose_disarm(ctx))?;
        if members.is_empty() {
            return Err("no alarm is raised".into());
        }
        for member in members {
            let id = self.etcdctl_member_id(&records, member);
            let text = crate::inspect::etcdctl::alarm_text(id);
            self.etcdctl_log(format!("etcdctl alarm disarm: {text}"));
        }
        Ok(())
    }

    /// The ID etcdctl prints for model member `raft_id` (in decimal, as an `AlarmMember` prints):
    /// the one `member list` shows in hexadecimal (`inspect::names::etcdctl_member_id`).
    fn etcdctl_member_id(&self, records: &[MemberRecord], raft_id: u64) -> u64 {
        let Some(r) = records.iter().find(|r| r.id == raft_id) else {
            return raft_id;
        };
        let hex = crate::inspect::names::etcdctl_member_id(
            &self.layout,
            self.seed,
            r.proc as usize,
            raft_id,
        );
        u64::from_str_radix(&hex, 16).unwrap_or(raft_id)
    }

    /// `etcdctl member remove ID` of the member on `nodes`.
    pub(super) fn member_remove(&mut self, nodes: &[NodeId]) -> Result<(), String> {
        let p = nodes
            .iter()
            .find_map(|&n| self.etcd_on(n))
            .ok_or("no etcd member there")?;
        let (l, (members, _)) = self.leader_membership()?;
        let rec = *members
            .iter()
            .find(|r| r.proc as ProcId == p)
            .ok_or("etcdserver: member not found")?;
        // Removing a learner never threatens quorum; removing a voter needs the voters left that are
        // started and connected to make up the quorum of the smaller cluster (`mayRemoveMember`:
        // "(active - 1) < 1 + ((len(m) - 1) / 2)" is ErrUnhealthy).
        if !rec.learner {
            let voters: Vec<&MemberRecord> = members.iter().filter(|r| !r.learner).collect();
            let left = voters.len() - 1;
            let active = voters
                .iter()
                .filter(|r| r.id != rec.id && self.connected(l, r))
                .count();
            if active < left / 2 + 1 {
                return Err(format!(
                    "etcdserver: unhealthy cluster (removing {:x} would leave {active} of {left} members \
                     started, short of a quorum of {})",
                    rec.id,
                    left / 2 + 1
                ));
            }
        }
        self.propose_conf(l, ConfChange::Remove { id: rec.id })?;
        self.etcdctl_log(format!(
            "etcdctl member remove {:x}: Member {:x} removed from cluster",
            rec.id, rec.id
        ));
        Ok(())
    }

    /// `etcdctl member add NAME --learner` for the node's etcd process, with an emptied data
    /// directory, then etcd started there with `--initial-cluster-state=existing`; promotion is
    /// polled from then on (fault `i`).
    pub(super) fn member_add(&mut self, i: u16, nodes: &[NodeId]) -> Result<(), String> {
        let p = nodes
            .iter()
            .find_map(|&n| self.etcd_on(n))
            .ok_or("no etcd member there")?;
        let (l, (members, mut routes)) = self.leader_membership()?;
        if let Some(r) = members.iter().find(|r| r.proc as ProcId == p) {
            return Err(format!(
                "etcdserver: peerURL exists (member {:x} still holds it: remove it first)",
                r.id
            ));
        }
        // A learner does not count towards quorum, but etcd still wants every voter connected
        // (`mayAddMember`: isConnectedFullySince, else ErrUnhealthy).
        if let Some(r) = members.iter().find(|r| !r.learner && !self.connected(l, r)) {
            return Err(format!(
                "etcdserver: unhealthy cluster (member {:x} is not connected)",
                r.id
            ));
        }
        let id = routes.iter().map(|(id, _)| *id).max().unwrap_or(0) + 1;
        self.propose_conf(l, ConfChange::AddLearner { id, proc: p })?;
        self.etcdctl_log(format!(
            "etcdctl member add {} --learner: Member {id:x} added to cluster",
            self.layout.procs[p as usize].name
        ));
        // The operator empties the data directory and starts etcd as a new member that knows the
        // cluster it joins (itself a learner).
        let mut joined = members;
        joined.push(MemberRecord {
            id,
            proc: p,
            learner: true,
        });
        joined.sort_unstable_by_key(|r| r.id);
        routes.retain(|(m, _)| *m != id);
        routes.push((id, p));
        self.crash_proc(p);
        if let Some(m) = self.procs[p as usize].comp.etcd_mut() {
            m.join_as(id, joined, routes);
        }
        self.procs[p as usize].held_down = 0;
        self.start_proc(p);
        self.faults[i as usize].joined = Some(id);
        self.push(
            self.now.saturating_add(PROMOTE_RETRY_NS),
            super::Event::Promote(i),
        );
        Ok(())
    }

    /// The operator's `etcdctl member promote` for the learner fault `i` added: tried every second
    /// until the learner is in sync and the promotion is proposed.
    pub(super) fn promote_poll(&mut self, i: u16) {
        let Some(id) = self.faults[i as usize].joined else {
            return;
        };
        let retry = |w: &mut World| {
            let at = w.now.saturating_add(PROMOTE_RETRY_NS);
            if at <= w.end_ns {
                w.push(at, super::Event::Promote(i));
            }
        };
        let Ok((l, (members, _))) = self.leader_membership() else {
            retry(self);
            return;
        };
        match members.iter().find(|r| r.id == id) {
            // Removed meanwhile, or already a voter: nothing left to do.
            None => return,
            Some(r) if !r.learner => return,
            Some(_) => {}
        }
        let ready = self.procs[l as usize].comp.raft().is_some_and(|raft| {
            let leader = raft.progress_match(raft.id()).unwrap_or(0);
            let learner = raft.progress_match(id).unwrap_or(0);
            learner as f64 >= leader as f64 * LEARNER_READY_PERCENT
        });
        if !ready {
            retry(self);
            return;
        }
        match self.propose_conf(l, ConfChange::Promote { id }) {
            Ok(()) => self.etcdctl_log(format!(
                "etcdctl member promote {id:x}: Member {id:x} promoted in cluster"
            )),
            Err(_) => retry(self),
        }
    }
}

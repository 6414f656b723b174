//! kube-controller-manager and kube-scheduler as leader-elected processes, with client-go's
//! leaderelection semantics (k8s.io/client-go/tools/leaderelection/leaderelection.go):
//! candidates retry every RetryPeriod with JitterUntil(factor 1.2, sliding); a candidate takes over only
//! when the holder is empty or the record it observed has not changed for LeaseDuration by its own clock;
//! the leader renews every RetryPeriod and, if renewing fails for RenewDeadline, stops leading and the
//! process exits (k/k cmd/kube-controller-manager/app/controllermanager.go: "leaderelection lost";
//! kube-scheduler does the same) so that the kubelet restarts it. The Lease is read and written through
//! an API server into etcd, with optimistic concurrency (resourceVersion = etcd mod revision).

use crate::components::conn::{ApiConn, ConnTimer};
use crate::components::controllers::{ControllerTimer, Controllers};
use crate::components::ctx::{Ctx, IdGen, IdSpace, Obs, Out, ProcId};
use crate::components::msg::{keys, KvOp, KvResult, Msg};
use crate::engine::Nanos;
use crate::observe::{ProcState, TraceKind};
use rand::Rng as _;

/// Leader election's timers (the controllers it runs have their own, [`ControllerTimer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectorTimer {
    /// A candidate's next acquire attempt.
    Try,
    /// The leader's next renewal attempt.
    Renew,
    /// RenewDeadline of the renewal round that began at `round_start_ns` ran out.
    Deadline { round_start_ns: Nanos },
    /// Lease request `id` got no answer in time.
    ReqTimeout { id: u64 },
    /// The leader acts (a leader-only action reported to the invariant checker).
    Work,
    /// The API connection's health check.
    Conn(ConnTimer),
}

impl From<ConnTimer> for ElectorTimer {
    fn from(t: ConnTimer) -> ElectorTimer {
        ElectorTimer::Conn(t)
    }
}

/// Leader election settings of one component.
#[derive(Clone, Debug)]
pub struct ElectorConfig {
    /// 0: kube-scheduler, 1: kube-controller-manager.
    pub lease: u16,
    /// Lease object name, for logs.
    pub lease_name: &'static str,
    /// Where API requests go (the local API server, a load balancer, or the VIP).
    pub api: ProcId,
    pub enabled: bool,
    pub lease_duration_ns: Nanos,
    pub renew_deadline_ns: Nanos,
    pub retry_period_ns: Nanos,
    pub release_on_cancel: bool,
}

/// The identity a lease's holder sends its requests as: `system:kube-scheduler` (lease 0) or
/// `system:kube-controller-manager` (lease 1).
pub fn lease_user(lease: u16) -> crate::components::msg::ApiUser {
    match lease {
        0 => crate::components::msg::ApiUser::Scheduler,
        _ => crate::components::msg::ApiUser::ControllerManager,
    }
}

/// What an elector runs while it leads.
pub type ControllerSet = Option<Controllers>;

/// Packs a Lease record into an etcd value: holder identity (0: none) and a renew counter that stands in
/// for renewTime (any renewal changes the record, which is all candidates compare).
fn pack(holder: u32, seq: u32) -> u64 {
    ((holder as u64) << 32) | seq as u64 | if holder == 0 && seq == 0 { 1 } else { 0 }
}

/// The renew counter of a packed Lease record (its low 32 bits).
fn seq_of(v: u64) -> u32 {
    u32::try_from(v & u64::from(u32::MAX)).unwrap_or(0)
}

fn holder_of(v: u64) -> u32 {
    (v >> 32) as u32
}

/// The times client-go writes into a Lease record beside its holder, as this process wrote them:
/// `acquireTime` (kept from the record while the same identity renews), `renewTime` (now, at every
/// write) and `leaseDurationSeconds`, on the writer's own clock (its node's, skewed or not: the
/// record carries wall-clock times that candidates do not trust). The packed etcd value does not
/// hold them (candidates only compare records), so the writer keeps them for the views
/// (`kubectl describe lease`), keyed by the value it wrote; nothing in the model reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseStamp {
    /// The packed record written.
    pub value: u64,
    /// On the writer's node clock, from the start of the run.
    pub acquire_local_ns: Nanos,
    pub renew_local_ns: Nanos,
    pub lease_duration_s: u32,
}

/// How many of its last writes a process remembers: a record in etcd is one of the last few a
/// holder sent (one request at a time), so four cover an answer lost after the commit.
const STAMPS_KEPT: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    /// GET of the lease in an acquire/renew attempt.
    Get(u64),
    /// Update (compare-and-swap) of the lease.
    Put(u64, u64),
}

/// A leader-elected controller process.
#[derive(Clone)]
pub struct Elector {
    cfg: ElectorConfig,
    identity: u32,
    starts: u32,
    leader: bool,
    observed: Option<(u64, u64)>,
    observed_time: Nanos,
    last_renew_ns: Nanos,
    round_start: Option<Nanos>,
    round_renewed: bool,
    pending: Pending,
    ids: IdGen,
    stopping: bool,
    /// The leader's current renew attempt has left the optimistic fast path for GET + update.
    slow_path: bool,
    controllers: ControllerSet,
    /// The process's one API connection, shared by leader election and the controllers (client-go
    /// shares the HTTP/2 connection of clients with the same transport configuration).
    conn: ApiConn,
    /// Its last Lease writes' times, oldest first (see [`LeaseStamp`]).
    stamps: std::collections::VecDeque<LeaseStamp>,
    /// It campaigns once its informers have synced (kube-scheduler, see
    /// [`Controllers::start_informers`]).
    campaign_on_sync: bool,
}

impl Elector {
    /// A stopped controller.
    pub fn new(cfg: ElectorConfig, controllers: ControllerSet) -> Elector {
        Elector {
            cfg,
            identity: 0,
            starts: 0,
            leader: false,
            observed: None,
            observed_time: 0,
            last_renew_ns: 0,
            round_start: None,
            round_renewed: false,
            pending: Pending::None,
            ids: IdGen::new(IdSpace::Process),
            stopping: false,
            slow_path: false,
            controllers,
            conn: ApiConn::new(true),
            stamps: std::collections::VecDeque::with_capacity(STAMPS_KEPT),
            campaign_on_sync: false,
        }
    }

    /// Which Lease it elects with: 0 kube-scheduler, 1 kube-controller-manager.
    pub fn lease(&self) -> u16 {
        self.cfg.lease
    }

    /// The times this process wrote with the Lease record `value`, if it wrote it recently.
    pub fn lease_stamp(&self, value: u64) -> Option<LeaseStamp> {
        self.stamps.iter().rev().find(|s| s.value == value).copied()
    }

    /// Remembers the times of a write about to be sent: client-go's `tryAcquireOrRenew` sets
    /// `RenewTime` to now, and keeps `AcquireTime` when the observed record is its own (else now);
    /// `release` writes now for both and a 1 s duration (k8s.io/client-go
    /// tools/leaderelection/leaderelection.go).
    fn stamp(&mut self, now: Nanos, value: u64, acquire_local_ns: Nanos, lease_duration_s: u32) {
        if self.stamps.len() == STAMPS_KEPT {
            self.stamps.pop_front();
        }
        self.stamps.push_back(LeaseStamp {
            value,
            acquire_local_ns,
            renew_local_ns: now,
            lease_duration_s,
        });
    }

    /// Whether it believes it leads and acts.
    pub fn acting(&self) -> bool {
        self.leader
    }

    /// Where its API requests go.
    pub fn api_target(&self) -> ProcId {
        self.cfg.api
    }

    /// Starts: a fresh identity (hostname + random suffix in the real process), then campaigns.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.starts += 1;
        self.conn.restart();
        self.identity = ((ctx.me as u32 + 1) << 16) | (self.starts & 0xffff);
        self.leader = false;
        self.observed = None;
        self.round_start = None;
        self.pending = Pending::None;
        self.stopping = false;
        self.campaign_on_sync = false;
        if !self.cfg.enabled {
            // --leader-elect=false: every instance runs its controllers at once.
            self.set_leader(ctx, true);
            return;
        }
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Standby,
        });
        let lease = self.cfg.lease;
        if self.controllers.as_ref().is_some_and(|c| c.informs_early()) {
            if let Some(c) = self.controllers(ctx) {
                c.start_informers(ctx, lease);
            }
            self.campaign_on_sync = true;
            return;
        }
        self.campaign(ctx);
    }

    /// `leaderElector.Run`: the first attempt at once, then every jittered retry period.
    fn campaign(&mut self, ctx: &mut Ctx) {
        ctx.log(format!(
            "leaderelection.go: attempting to acquire leader lease kube-system/{}...",
            self.cfg.lease_name
        ));
        ctx.timer(1, ElectorTimer::Try);
    }

    /// Whether its controllers take API traffic now: while it leads, or while their informers run
    /// regardless (kube-scheduler's).
    fn controllers_live(&self) -> bool {
        self.leader || self.controllers.as_ref().is_some_and(|c| c.informing())
    }

    /// Crash: nothing survives.
    pub fn crash(&mut self) {
        self.leader = false;
        self.pending = Pending::None;
        if let Some(c) = self.controllers.as_mut() {
            c.stop();
        }
    }

    /// Graceful stop (SIGTERM): with ReleaseOnCancel the leader writes an empty holder so candidates
    /// need not wait for the lease to expire.
    pub fn stop(&mut self, ctx: &mut Ctx) {
        self.stopping = true;
        if self.leader && self.cfg.enabled && self.cfg.release_on_cancel {
            if let Some((v, rev)) = self.observed {
                let seq = seq_of(v).wrapping_add(1);
                let id = self.ids.next_id();
                self.stamp(ctx.now, pack(0, seq), ctx.now, 1);
                let op = KvOp::Put {
                    key: self.key(),
                    value: pack(0, seq),
                    expected_rev: Some(rev),
                    write_id: self.write_id(id),
                };
                self.api_send(ctx, id, op);
                ctx.log(format!(
                    "leaderelection.go: releasing lease kube-system/{}",
                    self.cfg.lease_name
                ));
            }
        }
        self.set_leader(ctx, false);
    }

    /// Sends an API request on the process's connection.
    fn api_send(&mut self, ctx: &mut Ctx, id: u64, op: KvOp) {
        let conn = self.conn.for_request::<ElectorTimer>(ctx);
        let user = lease_user(self.cfg.lease);
        ctx.send(self.cfg.api, Msg::ApiReq { id, op, conn, user });
    }

    /// The controllers, told which connection their requests go on.
    fn controllers(&mut self, ctx: &mut Ctx) -> Option<&mut Controllers> {
        let conn = self.conn.for_request::<ElectorTimer>(ctx);
        let c = self.controllers.as_mut()?;
        c.conn = conn;
        Some(c)
    }

    fn key(&self) -> u64 {
        keys::key(keys::LEADER_LEASE, self.cfg.lease as u64)
    }

    fn write_id(&self, id: u64) -> u64 {
        // Unique across processes and restarts: identity in the high bits.
        ((self.identity as u64) << 32) | (id & 0xffff_ffff)
    }

    fn set_leader(&mut self, ctx: &mut Ctx, on: bool) {
        if self.leader == on {
            return;
        }
        self.leader = on;
        ctx.trace(TraceKind::Acting {
            proc: ctx.me,
            acting: on,
        });
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: if on {
                ProcState::Leader
            } else {
                ProcState::Standby
            },
        });
        if on {
            ctx.trace(TraceKind::LeaseHolder {
                lease: self.cfg.lease,
                holder: Some(ctx.me),
            });
            ctx.timer(self.cfg.retry_period_ns, ElectorTimer::Work);
            let (identity, lease, renew) = (self.identity, self.cfg.lease, self.last_renew_ns);
            if let Some(c) = self.controllers(ctx) {
                c.set_last_renew(renew);
                c.start(ctx, identity, lease);
            }
        } else if let Some(c) = self.controllers.as_mut() {
            c.stop();
        }
    }

    fn jittered_retry(&self, ctx: &mut Ctx) -> Nanos {
        // wait.JitterUntil(RetryPeriod, 1.2, sliding): RetryPeriod + rand * 1.2 * RetryPeriod.
        let r = ctx.rng.gen::<f64>();
        self.cfg.retry_period_ns
            + crate::engine::ns_from_f64(r * 1.2 * self.cfg.retry_period_ns as f64)
    }

    fn send_get(&mut self, ctx: &mut Ctx) {
        let id = self.ids.next_id();
        self.pending = Pending::Get(id);
        let op = KvOp::Get {
            key: self.key(),
            linearizable: true,
        };
        self.api_send(ctx, id, op);
        // KCM and the scheduler set the leader-election client's timeout to RenewDeadline.
        ctx.deadline(self.cfg.renew_deadline_ns, ElectorTimer::ReqTimeout { id });
    }

    fn send_put(&mut self, ctx: &mut Ctx, expected_rev: u64) {
        let seq = self
            .observed
            .map(|(v, _)| seq_of(v))
            .unwrap_or(0)
            .wrapping_add(1);
        let value = pack(self.identity, seq);
        let id = self.ids.next_id();
        self.pending = Pending::Put(id, value);
        let acquired = self
            .observed
            .filter(|(v, _)| holder_of(*v) == self.identity)
            .and_then(|(v, _)| self.lease_stamp(v))
            .map_or(ctx.now, |s| s.acquire_local_ns);
        let duration_s =
            u32::try_from(self.cfg.lease_duration_ns / crate::engine::SEC).unwrap_or(u32::MAX);
        self.stamp(ctx.now, value, acquired, duration_s);
        let op = KvOp::Put {
            key: self.key(),
            value,
            expected_rev: Some(expected_rev),
            write_id: self.write_id(id),
        };
        self.api_send(ctx, id, op);
        ctx.deadline(self.cfg.renew_deadline_ns, ElectorTimer::ReqTimeout { id });
    }

    /// Leader election's timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: ElectorTimer) {
        if self.stopping {
            return;
        }
        match t {
            ElectorTimer::Try => {
                if !self.leader && self.pending == Pending::None {
                    self.send_get(ctx);
                }
            }
            ElectorTimer::Renew => {
                if self.leader && self.pending == Pending::None {
                    self.renew(ctx);
                }
            }
            ElectorTimer::Deadline { round_start_ns } => {
                if self.leader && self.round_start == Some(round_start_ns) && !self.round_renewed {
                    self.lose(ctx);
                }
            }
            ElectorTimer::ReqTimeout { id } => {
                let matches = match self.pending {
                    Pending::Get(pid) | Pending::Put(pid, _) => pid == id,
                    Pending::None => false,
                };
                if matches {
                    let was_put = matches!(self.pending, Pending::Put(..));
                    self.pending = Pending::None;
                    if was_put {
                        self.put_failed(ctx);
                    } else {
                        self.attempt_failed(ctx);
                    }
                }
            }
            ElectorTimer::Conn(t) => {
                let api = self.cfg.api;
                // Requests on a closed connection fail by their own timeouts (RenewDeadline); the
                // controllers' watches on it are broken.
                let ev = self
                    .conn
                    .on_timer::<ElectorTimer>(ctx, &mut self.ids, api, t);
                if ev == crate::components::conn::ConnEvent::Closed && self.controllers_live() {
                    if let Some(c) = self.controllers.as_mut() {
                        c.conn_lost(ctx);
                    }
                }
            }
            ElectorTimer::Work => {
                if self.leader {
                    if self.cfg.enabled {
                        ctx.observe(Obs::LeaderAction {
                            lease: self.cfg.lease,
                            last_renew_ns: self.last_renew_ns,
                        });
                    }
                    ctx.timer(self.cfg.retry_period_ns, ElectorTimer::Work);
                }
            }
        }
    }

    /// The controllers' timers: they run only while this process leads, or, for kube-scheduler's
    /// informers, while it waits to lead.
    pub fn on_controllers_timer(&mut self, ctx: &mut Ctx, t: ControllerTimer) {
        if self.stopping || !self.controllers_live() {
            return;
        }
        if let Some(c) = self.controllers(ctx) {
            c.on_timer(ctx, t);
        }
    }

    /// One renewal attempt of the leader; the first of a round arms the round's RenewDeadline.
    fn renew(&mut self, ctx: &mut Ctx) {
        if self.round_start.is_none() {
            self.round_start = Some(ctx.now);
            self.round_renewed = false;
            ctx.deadline(
                self.cfg.renew_deadline_ns,
                ElectorTimer::Deadline {
                    round_start_ns: ctx.now,
                },
            );
        }
        // tryAcquireOrRenew (client-go tools/leaderelection/leaderelection.go): "1. fast path for the
        // leader to update optimistically assuming that the record observed last time is the
        // current version", taken while `IsLeader() && isLeaseValid(now)`; otherwise GET + update.
        let valid = self.observed_time + self.cfg.lease_duration_ns > ctx.now;
        match self.observed {
            Some((_, rev)) if valid => {
                self.slow_path = false;
                self.send_put(ctx, rev);
            }
            Some(_) | None => {
                self.slow_path = true;
                self.send_get(ctx);
            }
        }
    }

    /// An update failed (refused, an error, or no answer in time). A leader on the fast path falls
    /// back to GET + update inside the same attempt ("Failed to update lease optimistically, falling
    /// back to slow path", tryAcquireOrRenew); otherwise the attempt has failed.
    fn put_failed(&mut self, ctx: &mut Ctx) {
        if self.leader && !self.slow_path {
            self.slow_path = true;
            ctx.log(format!(
                "leaderelection.go: \"Failed to update lease optimistically, falling back to slow path\" lock=\"kube-system/{}\"",
                self.cfg.lease_name
            ));
            self.send_get(ctx);
        } else {
            self.attempt_failed(ctx);
        }
    }

    fn lose(&mut self, ctx: &mut Ctx) {
        ctx.log(format!(
            "leaderelection.go: failed to renew lease kube-system/{}: timed out waiting for the condition",
            self.cfg.lease_name
        ));
        ctx.log("\"leaderelection lost\"".into());
        self.set_leader(ctx, false);
        // OnStoppedLeading exits the process; the kubelet restarts the static pod.
        ctx.out.push(Out::Exit);
    }

    fn attempt_failed(&mut self, ctx: &mut Ctx) {
        if self.leader {
            // PollImmediateUntil(RetryPeriod) inside the RenewDeadline context.
            ctx.timer(self.cfg.retry_period_ns, ElectorTimer::Renew);
        } else {
            let d = self.jittered_retry(ctx);
            ctx.timer(d, ElectorTimer::Try);
        }
    }

    fn attempt_succeeded(&mut self, ctx: &mut Ctx) {
        if self.leader {
            // The round renewed: its RenewDeadline checks for a round still open.
            if let Some(round_start_ns) = self.round_start.take() {
                ctx.cancel(ElectorTimer::Deadline { round_start_ns });
            }
            self.round_renewed = true;
            self.last_renew_ns = ctx.now;
            if let Some(c) = self.controllers.as_mut() {
                c.set_last_renew(ctx.now);
            }
            ctx.timer(self.cfg.retry_period_ns, ElectorTimer::Renew);
        } else {
            self.last_renew_ns = ctx.now;
            if let Some(c) = self.controllers.as_mut() {
                c.set_last_renew(ctx.now);
            }
            ctx.log(format!(
                "leaderelection.go: successfully acquired lease kube-system/{}",
                self.cfg.lease_name
            ));
            self.set_leader(ctx, true);
            ctx.timer(self.cfg.retry_period_ns, ElectorTimer::Renew);
        }
    }

    /// Messages: API answers.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        if self.stopping {
            return;
        }
        // The kubelet's probe of `/healthz` (see `ProbedContainer::ControllerManager`): the
        // leader-election watchdog fails only for a leader past its lease by 20 s, and this process
        // exits once it cannot renew for the renew deadline, long before.
        if let Msg::HealthReq { id, .. } = msg {
            ctx.send(from, Msg::HealthResp { id, ok: true });
            return;
        }
        if let Msg::ApiPong { id } = msg {
            self.conn.pong(id, ctx.now);
            return;
        }
        if let Msg::GoAway { id } = msg {
            self.conn.close();
            // On a controllers' watch it is the server's clean end of it (a graceful stop).
            if self.controllers_live() && IdSpace::of(id) == IdSpace::Controllers {
                if let Some(c) = self.controllers(ctx) {
                    c.on_goaway(ctx, id);
                }
            }
            return;
        }
        if let Msg::WatchEvent { id, values, rev } = msg {
            self.conn.read(ctx.now);
            if self.controllers_live() && IdSpace::of(id) == IdSpace::Controllers {
                if let Some(c) = self.controllers(ctx) {
                    c.on_watch_event(ctx, id, values, rev);
                }
                if self.campaign_on_sync
                    && self
                        .controllers
                        .as_ref()
                        .is_some_and(|c| c.informers_synced())
                {
                    // `WaitForCacheSync` returned: leader election starts.
                    self.campaign_on_sync = false;
                    self.campaign(ctx);
                }
            }
            return;
        }
        let Some((id, answer)) = msg.into_api_answer() else {
            return;
        };
        match answer {
            Some(_) => self.conn.read(ctx.now),
            // A reset: the next request opens a new connection.
            None => self.conn.close(),
        }
        let result = answer.map_or(Err(()), |r| r.map_err(|_| ()));
        match IdSpace::of(id) {
            IdSpace::Controllers => {
                if self.controllers_live() {
                    if let Some(c) = self.controllers(ctx) {
                        c.on_msg(ctx, id, result.ok());
                    }
                }
                return;
            }
            IdSpace::Process => {}
        }
        match self.pending {
            Pending::Get(pid) if pid == id => {
                self.pending = Pending::None;
                ctx.cancel(ElectorTimer::ReqTimeout { id });
                let Ok(KvResult::Value(kv)) = result else {
                    self.attempt_failed(ctx);
                    return;
                };
                let (value, rev) = kv.map(|k| (k.value, k.mod_rev)).unwrap_or((0, 0));
                if self.observed.map(|(v, _)| v) != Some(value) {
                    self.observed_time = ctx.now;
                }
                self.observed = Some((value, rev));
                let holder = holder_of(value);
                let held_by_other = holder != 0 && holder != self.identity;
                if held_by_other && self.observed_time + self.cfg.lease_duration_ns > ctx.now {
                    // "lock is held by X and has not yet expired".
                    self.attempt_failed(ctx);
                    return;
                }
                if held_by_other && self.leader {
                    // Someone else took over while we thought we led: tryAcquireOrRenew fails and
                    // the renew loop keeps trying until RenewDeadline ends it.
                    self.attempt_failed(ctx);
                    return;
                }
                self.send_put(ctx, rev);
            }
            Pending::Put(pid, value) if pid == id => {
                self.pending = Pending::None;
                ctx.cancel(ElectorTimer::ReqTimeout { id });
                match result {
                    Ok(KvResult::Written { rev, .. }) => {
                        self.observed = Some((value, rev));
                        self.observed_time = ctx.now;
                        self.attempt_succeeded(ctx);
                    }
                    Ok(KvResult::Value(_) | KvResult::Values(_)) | Err(()) => self.put_failed(ctx),
                }
            }
            // An answer the attempt no longer waits for (it timed out, or a later one replaced it).
            Pending::Get(_) | Pending::Put(..) | Pending::None => {}
        }
    }
}

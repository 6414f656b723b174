//! The etcd client as kube-apiserver uses it (go.etcd.io/etcd/client/v3): an endpoint list, round robin
//! over the endpoints it believes healthy (gRPC round_robin since etcd v3.5, etcd PR #12671), failover on
//! refused connections, and keepalive pings (30 s, 10 s timeout; k8s.io/apiserver
//! storagebackend/factory/etcd3.go) that detect a member that disappeared silently.
//!
//! At start the client dials every endpoint; an endpoint is used only once its connection is up (gRPC
//! round_robin picks READY sub-connections only). kube-apiserver dials with `grpc.WithBlock()`
//! (newETCD3Client in the same file), so the dial returns when the first connection is up: the client
//! reports that once, as [`Event::Connected`].
//!
//! Retries (etcd client/v3 retry.go, retry_interceptor.go, options.go): every call carries
//! `WaitForReady(true)`, so a request waits for a ready connection instead of failing when none is up;
//! a Range (here: every read) that fails with a gRPC `Unavailable` error is retried up to 100 times,
//! 25 ms (10 % jitter) apart, on the next connection the balancer picks; "no leader", "leader changed"
//! and "request timed out" are all `Unavailable` (api/v3rpc/rpctypes/error.go). Put and Txn are not
//! retried once sent (`isSafeRetryMutableRPC`: only "no connection available"). A lost connection is
//! redialled on gRPC's back-off: 1 s, x 1.6, at most 120 s, jitter 0.2 (grpc-go backoff.DefaultConfig,
//! internal/backoff `Exponential.Backoff`), reset when a connection comes up.
//!
//! A connection attempt follows gRPC's connection-backoff protocol (grpc/grpc doc/connection-backoff.md,
//! grpc-go `addrConn.resetTransport`): the attempt gets `max(backoff, MIN_CONNECT_TIMEOUT = 20 s)` to
//! connect, and the next attempt starts no sooner than `backoff` after this one started. Within an
//! attempt the kernel retransmits the SYN at 1, 3, 7 and 15 s (Linux `TCP_TIMEOUT_INIT` 1 s, doubled per
//! retransmission, `tcp_syn_retries` 6), so a host that comes back is reached at the next SYN; a
//! refused connection (RST) fails the attempt at once.

use crate::components::ctx::{Ctx, IdGen, ProcId};
use crate::components::msg::{EtcdError, Key, KeyValue, KvOp, KvResult, Msg};
use crate::engine::SmallMap;
use crate::engine::{Nanos, MS, SEC};
use rand::Rng as _;

/// clientv3 `defaultUnaryMaxRetries` (client/v3/options.go): attempts of a repeatable call.
const MAX_ATTEMPTS: u32 = 100;
/// clientv3 `defaultBackoffWaitBetween` (client/v3/options.go).
const RETRY_WAIT_NS: Nanos = 25 * MS;
/// clientv3 `defaultBackoffJitterFraction` (client/v3/options.go).
const RETRY_JITTER: f64 = 0.10;
/// grpc-go `backoff.DefaultConfig`: BaseDelay 1 s, Multiplier 1.6, Jitter 0.2, MaxDelay 120 s.
const REDIAL_BASE_NS: Nanos = SEC;
const REDIAL_MULTIPLIER: f64 = 1.6;
const REDIAL_JITTER: f64 = 0.2;
const REDIAL_MAX_NS: Nanos = 120 * SEC;
/// grpc-go `minConnectTimeout` (clientconn.go; connection-backoff.md MIN_CONNECT_TIMEOUT): the least
/// time a connection attempt gets before it is abandoned.
const MIN_CONNECT_TIMEOUT_NS: Nanos = 20 * SEC;
/// Linux `TCP_TIMEOUT_INIT` (include/net/tcp.h): the first SYN retransmission after 1 s, each later one
/// after twice the previous wait (`tcp_retransmit_timer`).
const SYN_RTO_INIT_NS: Nanos = SEC;

/// The client's timers; its owner hands them back through [`EtcdClient::on_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EtcdClientTimer {
    /// Request `id` timed out.
    OpTimeout { id: u64 },
    /// Keepalive round.
    Keepalive,
    /// The answer to keepalive ping `id` is overdue.
    KeepaliveDeadline { id: u64 },
    /// The back-off before redialling endpoint `endpoint` has passed.
    Redial { endpoint: usize },
    /// Connection attempt `attempt` to `endpoint` retransmits its SYN; the next after `rto_ns` x 2.
    Syn {
        endpoint: usize,
        attempt: u32,
        rto_ns: Nanos,
    },
    /// Connection attempt `attempt` to `endpoint` reached its connect deadline.
    DialDeadline { endpoint: usize, attempt: u32 },
    /// Request `id` waited its retry back-off: send it again.
    Retry { id: u64 },
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct EtcdClientConfig {
    pub endpoints: Vec<ProcId>,
    pub keepalive_time_ns: Nanos,
    pub keepalive_timeout_ns: Nanos,
}

#[derive(Clone, Debug)]
struct Op {
    owner_tag: OwnerTag,
    op: KvOp,
    state: OpState,
    /// Attempts that reached a server.
    tries: u32,
}

/// Where a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpState {
    /// Sent to this endpoint, awaiting the answer.
    Sent(usize),
    /// Waiting for a ready connection (`WaitForReady`).
    Parked,
    /// Waiting out the retry back-off.
    Backoff,
}

/// A ping in flight: a dial attempt or a keepalive of a ready connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ping {
    Dial(usize),
    Keepalive(usize),
}

/// The owner's name for a request, handed back with its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerTag(pub u64);

/// A finished request: the owner's tag and the result.
pub type Completion = (OwnerTag, Result<KvResult, EtcdError>);

/// What the client hands back to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request finished (answered, failed or timed out).
    Done(Completion),
    /// The first connection to an endpoint came up: a blocking dial returns.
    Connected,
    /// Watch `stream` (as [`EtcdClient::watch`] numbered it) saw its range change: the range now.
    Watched {
        stream: usize,
        values: std::sync::Arc<[KeyValue]>,
        /// The member's store revision when it sent them.
        rev: u64,
    },
}

/// A watch the owner keeps open: clientv3's watcher re-opens it on another connection when the
/// one it rides closes (`watchGrpcStream` resumes on a new stream).
#[derive(Clone, Debug)]
struct WatchStream {
    start: Key,
    end: Key,
    /// The endpoint and request id it is open on.
    on: Option<(usize, u64)>,
}

/// The client's volatile state.
#[derive(Clone)]
pub struct EtcdClient {
    cfg: EtcdClientConfig,
    healthy: Vec<bool>,
    /// Per endpoint: a dial attempt or its back-off is under way.
    dialing: Vec<bool>,
    /// Per endpoint: grpc-go's `backoffIdx`, failed dial attempts since the last connection.
    backoff_idx: Vec<u32>,
    /// Per endpoint: the current connection attempt's number (stale SYN and deadline timers carry an
    /// older one) and the earliest time the next attempt may start (attempt start + back-off).
    attempt: Vec<u32>,
    next_attempt_ns: Vec<Nanos>,
    next: usize,
    ids: IdGen,
    ops: SmallMap<u64, Op>,
    /// Pings awaiting an answer.
    pings: SmallMap<u64, Ping>,
    /// Whether a connection to any endpoint has come up since start.
    connected: bool,
    /// The owner's watches.
    watches: Vec<WatchStream>,
}

impl EtcdClient {
    /// A client; all endpoints start healthy (connections are dialled lazily).
    pub fn new(cfg: EtcdClientConfig) -> EtcdClient {
        let n = cfg.endpoints.len();
        EtcdClient {
            cfg,
            healthy: vec![true; n],
            dialing: vec![false; n],
            backoff_idx: vec![0; n],
            attempt: vec![0; n],
            next_attempt_ns: vec![0; n],
            next: 0,
            ids: IdGen::default(),
            ops: SmallMap::new(),
            pings: SmallMap::new(),
            connected: false,
            watches: Vec::new(),
        }
    }

    /// A fresh client for a restarted process whose request ids continue after `prev`'s, so that an
    /// answer to the previous life's request can never complete a new one.
    pub fn restarted(prev: &EtcdClient) -> EtcdClient {
        let mut c = EtcdClient::new(prev.cfg.clone());
        c.ids = prev.ids.restarted();
        c
    }

    /// Dials every endpoint and starts the keepalive and redial loops. No endpoint is used before its
    /// connection is up; [`Event::Connected`] says when the first one is.
    pub fn start(&mut self, ctx: &mut Ctx) {
        debug_assert!(
            self.ops.is_empty() && self.pings.is_empty(),
            "start on a fresh client"
        );
        self.connected = false;
        for i in 0..self.cfg.endpoints.len() {
            self.healthy[i] = false;
            self.backoff_idx[i] = 0;
            self.dial(ctx, i);
        }
        ctx.timer(self.cfg.keepalive_time_ns, EtcdClientTimer::Keepalive);
    }

    /// A connection attempt on endpoint `i`: a SYN now (a ping standing for the TCP and HTTP/2
    /// handshake), its retransmissions, and the connect deadline `max(backoff, 20 s)`.
    fn dial(&mut self, ctx: &mut Ctx, i: usize) {
        self.dialing[i] = true;
        self.attempt[i] = self.attempt[i].wrapping_add(1);
        let attempt = self.attempt[i];
        let backoff = backoff_ns(ctx, self.backoff_idx[i]);
        self.next_attempt_ns[i] = ctx.now.saturating_add(backoff);
        self.syn(ctx, i);
        let rto_ns = SYN_RTO_INIT_NS;
        ctx.timer(
            rto_ns,
            EtcdClientTimer::Syn {
                endpoint: i,
                attempt,
                rto_ns,
            },
        );
        ctx.timer(
            backoff.max(MIN_CONNECT_TIMEOUT_NS),
            EtcdClientTimer::DialDeadline {
                endpoint: i,
                attempt,
            },
        );
    }

    /// One SYN of the current attempt on endpoint `i`; its answer (or refusal) ends the attempt.
    fn syn(&mut self, ctx: &mut Ctx, i: usize) {
        let id = self.ids.next_id();
        self.pings.insert(id, Ping::Dial(i));
        ctx.send(
            self.cfg.endpoints[i],
            Msg::EtcdPing {
                id,
                conn: self.attempt[i],
                syn: true,
            },
        );
    }

    /// The current attempt on endpoint `i` failed (refused, or no answer by its deadline): the next
    /// starts once the back-off since this one's start has passed.
    fn attempt_failed(&mut self, ctx: &mut Ctx, i: usize) {
        self.forget_syns(i);
        self.attempt[i] = self.attempt[i].wrapping_add(1);
        self.lost(ctx, i, true);
    }

    /// Drops the SYNs in flight to endpoint `i`: the attempt they belong to is over.
    fn forget_syns(&mut self, i: usize) {
        self.pings.retain(|_, p| *p != Ping::Dial(i));
    }

    /// Endpoint `i` is not usable: its transport closed (refused, keepalive timeout) or a dial
    /// attempt failed. A closed ready connection is redialled at once; a failed attempt after
    /// grpc-go's back-off (`addrConn.resetTransport`).
    fn lost(&mut self, ctx: &mut Ctx, i: usize, attempt_failed: bool) {
        self.healthy[i] = false;
        for w in 0..self.watches.len() {
            if self.watches[w].on.is_some_and(|(e, _)| e == i) {
                self.watches[w].on = None;
                self.open_watch(ctx, w);
            }
        }
        if !attempt_failed {
            self.retry_reads_on(ctx, i);
            if !self.dialing[i] {
                self.dial(ctx, i);
            }
            return;
        }
        self.backoff_idx[i] = self.backoff_idx[i].saturating_add(1);
        self.dialing[i] = true;
        let wait = self.next_attempt_ns[i].saturating_sub(ctx.now);
        ctx.timer(wait, EtcdClientTimer::Redial { endpoint: i });
    }

    /// The transport to endpoint `i` closed: reads in flight on it fail with `Unavailable`
    /// ("transport is closing") and are retried like any other `Unavailable` read. Writes in flight
    /// are left to their timeout (gRPC would fail them at once; not modelled).
    fn retry_reads_on(&mut self, ctx: &mut Ctx, i: usize) {
        let stuck: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, o)| {
                o.state == OpState::Sent(i) && !o.op.is_write() && o.tries + 1 < MAX_ATTEMPTS
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            let done = self.answered_error(ctx, id, EtcdError::Unavailable);
            debug_assert!(done.is_none(), "a read with retries left is retried");
        }
    }

    /// Endpoint `i` is ready: requests waiting for a connection go out on the balancer's picks.
    fn ready(&mut self, ctx: &mut Ctx, i: usize) {
        self.forget_syns(i);
        self.attempt[i] = self.attempt[i].wrapping_add(1);
        self.healthy[i] = true;
        self.dialing[i] = false;
        self.backoff_idx[i] = 0;
        let parked: Vec<u64> = self
            .ops
            .iter()
            .filter(|(_, o)| o.state == OpState::Parked)
            .map(|(id, _)| *id)
            .collect();
        for id in parked {
            self.send_op(ctx, id);
        }
        for w in 0..self.watches.len() {
            if self.watches[w].on.is_none() {
                self.open_watch(ctx, w);
            }
        }
    }

    /// Keeps a watch of `[start, end)` open from now on, on whichever connection is ready; its
    /// changes come back as [`Event::Watched`] with the number returned.
    pub fn watch(&mut self, ctx: &mut Ctx, start: Key, end: Key) -> usize {
        self.watches.push(WatchStream {
            start,
            end,
            on: None,
        });
        let w = self.watches.len() - 1;
        self.open_watch(ctx, w);
        w
    }

    /// Opens watch `w` on the next ready connection, or leaves it for the next one that comes up.
    fn open_watch(&mut self, ctx: &mut Ctx, w: usize) {
        let Some(e) = self.pick() else {
            return;
        };
        let id = self.ids.next_id();
        let (start, end) = (self.watches[w].start, self.watches[w].end);
        self.watches[w].on = Some((e, id));
        ctx.send(
            self.cfg.endpoints[e],
            Msg::EtcdReq {
                id,
                op: KvOp::Watch {
                    start,
                    end,
                    node: None,
                },
                conn: self.attempt[e],
            },
        );
    }

    /// The watch open on endpoint `from` as request `id`.
    fn watch_of(&self, from: ProcId, id: u64) -> Option<usize> {
        self.watches.iter().position(|w| {
            w.on.is_some_and(|(e, wid)| wid == id && self.cfg.endpoints.get(e) == Some(&from))
        })
    }

    /// Sends op `id` on the next ready connection, or leaves it waiting for one (`WaitForReady`).
    fn send_op(&mut self, ctx: &mut Ctx, id: u64) {
        let Some(e) = self.pick() else {
            if let Some(op) = self.ops.get_mut(&id) {
                op.state = OpState::Parked;
            }
            return;
        };
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        op.state = OpState::Sent(e);
        ctx.send(
            self.cfg.endpoints[e],
            Msg::EtcdReq {
                id,
                op: op.op.clone(),
                conn: self.attempt[e],
            },
        );
    }

    /// Whether a connection to any endpoint has come up since start.
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// gRPC round_robin: the next READY connection, if any.
    fn pick(&mut self) -> Option<usize> {
        let n = self.cfg.endpoints.len();
        for _ in 0..n {
            let i = self.next % n;
            self.next = (self.next + 1) % n;
            if self.healthy[i] {
                return Some(i);
            }
        }
        None
    }

    /// Sends `op` with a timeout; the completion comes back through `on_msg`/`on_timer`.
    pub fn request(
        &mut self,
        ctx: &mut Ctx,
        owner_tag: OwnerTag,
        op: KvOp,
        timeout_ns: Nanos,
    ) -> Option<Event> {
        if self.cfg.endpoints.is_empty() {
            return Some(Event::Done((owner_tag, Err(EtcdError::Unavailable))));
        }
        let id = self.ids.next_id();
        self.ops.insert(
            id,
            Op {
                owner_tag,
                op,
                state: OpState::Parked,
                tries: 0,
            },
        );
        self.send_op(ctx, id);
        ctx.deadline(timeout_ns, EtcdClientTimer::OpTimeout { id });
        None
    }

    /// An etcd error on a sent request: a read retries `Unavailable` after the back-off; anything
    /// else goes to the owner.
    fn answered_error(&mut self, ctx: &mut Ctx, id: u64, err: EtcdError) -> Option<Event> {
        let op = self.ops.get_mut(&id)?;
        op.tries += 1;
        let unavailable = match err {
            EtcdError::Timeout
            | EtcdError::NoLeader
            | EtcdError::LeaderChanged
            | EtcdError::Unavailable => true,
            EtcdError::Conflict | EtcdError::NoSpace => false,
        };
        // client/v3 retry.go: Range is `repeatable` (isSafeRetryImmutableRPC retries Unavailable);
        // Put/Txn are `nonRepeatable` and an error from a server is final.
        if unavailable && !op.op.is_write() && op.tries < MAX_ATTEMPTS {
            op.state = OpState::Backoff;
            let jitter = 1.0 + RETRY_JITTER * (ctx.rng.gen::<f64>() * 2.0 - 1.0);
            let wait = crate::engine::ns_from_f64(RETRY_WAIT_NS as f64 * jitter);
            ctx.timer(wait, EtcdClientTimer::Retry { id });
            return None;
        }
        let op = self.ops.remove(&id)?;
        ctx.cancel(EtcdClientTimer::OpTimeout { id });
        Some(Event::Done((op.owner_tag, Err(err))))
    }

    /// Handles a message meant for the client; returns what happened, if anything.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: &Msg) -> Option<Event> {
        match msg {
            Msg::EtcdResp { id, result } => {
                let OpState::Sent(e) = self.ops.get(id)?.state else {
                    return None; // a late answer to an attempt already retried elsewhere
                };
                if self.cfg.endpoints.get(e) != Some(&from) {
                    return None;
                }
                match result {
                    Ok(r) => {
                        let op = self.ops.remove(id)?;
                        ctx.cancel(EtcdClientTimer::OpTimeout { id: *id });
                        Some(Event::Done((op.owner_tag, Ok(r.clone()))))
                    }
                    Err(e) => self.answered_error(ctx, *id, *e),
                }
            }
            Msg::WatchEvent { id, values, rev } => {
                let stream = self.watch_of(from, *id)?;
                Some(Event::Watched {
                    stream,
                    values: values.clone(),
                    rev: *rev,
                })
            }
            Msg::ConnRefused { id } | Msg::TlsFailed { id } => {
                if let Some(w) = self.watch_of(from, *id) {
                    // The member's process is gone: so is the connection, and the watch moves.
                    let (e, _) = self.watches[w].on.take()?;
                    if self.healthy[e] {
                        self.lost(ctx, e, false);
                    }
                    if self.watches[w].on.is_none() {
                        self.open_watch(ctx, w);
                    }
                    return None;
                }
                if let Some(p) = self.pings.remove(id) {
                    ctx.cancel(EtcdClientTimer::KeepaliveDeadline { id: *id });
                    self.ping_failed(ctx, p);
                    return None;
                }
                let OpState::Sent(e) = self.ops.get(id)?.state else {
                    return None;
                };
                if self.healthy[e] {
                    self.lost(ctx, e, false);
                }
                // The call never reached a server: with WaitForReady it goes to the next ready
                // connection, or waits for one (also for writes: "no connection available").
                self.send_op(ctx, *id);
                None
            }
            Msg::EtcdPong { id } => {
                let ping = self.pings.remove(id)?;
                ctx.cancel(EtcdClientTimer::KeepaliveDeadline { id: *id });
                let i = match ping {
                    Ping::Dial(i) if self.healthy[i] => return None,
                    Ping::Dial(i) => i,
                    // A keepalive answer changes nothing: the connection was ready.
                    Ping::Keepalive(_) => return None,
                };
                self.ready(ctx, i);
                if self.connected {
                    return None;
                }
                self.connected = true;
                Some(Event::Connected)
            }
            // Not the client's: its owner hands over only answers from etcd.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdPing { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::HealthReq { .. }
            | Msg::HealthResp { .. }
            | Msg::Vrrp { .. } => None,
        }
    }

    /// Handles the client's timers; returns a completion if a request timed out.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: EtcdClientTimer) -> Option<Event> {
        match t {
            EtcdClientTimer::OpTimeout { id } => {
                let op = self.ops.remove(&id)?;
                Some(Event::Done((op.owner_tag, Err(EtcdError::Timeout))))
            }
            EtcdClientTimer::Keepalive => {
                for i in 0..self.cfg.endpoints.len() {
                    if self.healthy[i] {
                        self.keepalive(ctx, i, self.cfg.keepalive_timeout_ns);
                    }
                }
                ctx.timer(self.cfg.keepalive_time_ns, EtcdClientTimer::Keepalive);
                None
            }
            EtcdClientTimer::KeepaliveDeadline { id } => {
                if let Some(p) = self.pings.remove(&id) {
                    self.ping_failed(ctx, p);
                }
                None
            }
            EtcdClientTimer::Redial { endpoint } => {
                if !self.healthy[endpoint] {
                    self.dial(ctx, endpoint);
                }
                None
            }
            EtcdClientTimer::Syn {
                endpoint,
                attempt,
                rto_ns,
            } => {
                if self.attempt[endpoint] == attempt && !self.healthy[endpoint] {
                    self.syn(ctx, endpoint);
                    let rto_ns = rto_ns.saturating_mul(2);
                    ctx.timer(
                        rto_ns,
                        EtcdClientTimer::Syn {
                            endpoint,
                            attempt,
                            rto_ns,
                        },
                    );
                }
                None
            }
            EtcdClientTimer::DialDeadline { endpoint, attempt } => {
                if self.attempt[endpoint] == attempt && !self.healthy[endpoint] {
                    self.attempt_failed(ctx, endpoint);
                }
                None
            }
            EtcdClientTimer::Retry { id } => {
                if self
                    .ops
                    .get(&id)
                    .is_some_and(|o| o.state == OpState::Backoff)
                {
                    self.send_op(ctx, id);
                }
                None
            }
        }
    }

    /// A ping was refused or not answered in time. A failed dial attempt backs off; a keepalive
    /// without answer closes a ready transport (the balancer stops using it).
    fn ping_failed(&mut self, ctx: &mut Ctx, p: Ping) {
        match p {
            Ping::Dial(i) => self.attempt_failed(ctx, i),
            Ping::Keepalive(i) if self.healthy[i] => self.lost(ctx, i, false),
            // Already lost meanwhile; its redial is under way.
            Ping::Keepalive(_) => {}
        }
    }

    /// A keepalive ping on the ready connection to endpoint `i`, answered by `deadline` or lost.
    fn keepalive(&mut self, ctx: &mut Ctx, i: usize, deadline: Nanos) {
        let id = self.ids.next_id();
        self.pings.insert(id, Ping::Keepalive(i));
        ctx.send(
            self.cfg.endpoints[i],
            Msg::EtcdPing {
                id,
                conn: self.attempt[i],
                syn: false,
            },
        );
        ctx.deadline(deadline, EtcdClientTimer::KeepaliveDeadline { id });
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[ProcId] {
        &self.cfg.endpoints
    }
}

/// grpc-go internal/backoff `Exponential.Backoff(retries)`: the base delay for the first retry, then
/// x multiplier per retry up to the maximum, with +-jitter.
fn backoff_ns(ctx: &mut Ctx, retries: u32) -> Nanos {
    if retries == 0 {
        return REDIAL_BASE_NS;
    }
    let mut b = REDIAL_BASE_NS as f64;
    let max = REDIAL_MAX_NS as f64;
    let mut r = retries;
    while b < max && r > 0 {
        b *= REDIAL_MULTIPLIER;
        r -= 1;
    }
    let b = b.min(max) * (1.0 + REDIAL_JITTER * (ctx.rng.gen::<f64>() * 2.0 - 1.0));
    crate::engine::ns_from_f64(b)
}

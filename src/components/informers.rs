//! Informer clients (operators' and controllers' informers, `load.informers`): client-go's reflector
//! (k8s.io/client-go tools/cache/reflector.go). Each informer LISTs its resource, then WATCHes it on
//! the same long-lived HTTP/2 connection, and otherwise sends nothing: a quiet steady state, so that
//! the relist after a broken watch is a burst against it.
//!
//! One process holds every informer (one lane in the pictures, however many); each informer has its
//! own connection (`ConnId::stream`), balanced on its own by HAProxy.
//!
//! `ListAndWatch` runs under `wait.BackoffUntil(..., r.backoffManager, true, ...)`: when it returns
//! (a failed LIST, or a watch that ended so that the reflector must list again), it runs again after
//! the back-off manager's next wait ([`ReflectorBackoff`]). What ends a watch, and what follows:
//! - the connection is reset (the API server's host resets it when the process dies, and HAProxy in
//!   `mode tcp` closes the client's side), or the HTTP/2 health check closes it (30 s + 15 s without
//!   a frame): with `after_broken_watch: relist` the back-off, then LIST and WATCH; with `rewatch`
//!   a new WATCH at once from the last resourceVersion;
//! - the server ends it cleanly (a graceful stop): a new WATCH at once, no LIST;
//! - it ends within a second of being sent (refused, 429, no backend): the back-off, then LIST
//!   (`relist`) or WATCH (`rewatch`) (reflector.go `handleWatch`: "very short watch", and
//!   `isWatchErrorRetriable` for a refused connection or a 429).
//!
//! A LIST answered 429 is retried by client-go's rest client after `Retry-After` up to 10 times; any
//! other failure ends `ListAndWatch`.

use crate::components::client::{CLIENT_GO_MAX_RETRIES, RETRY_AFTER_NS};
use crate::components::conn::{ApiConn, ConnEvent, ConnTimer};
use crate::components::ctx::{Ctx, IdGen, Out, ProcId, Timer};
use crate::components::msg::{keys, ApiError, ApiUser, KvOp, KvResult, Msg};
use crate::engine::{Nanos, MS, SEC};
use crate::scenario::model::AfterBrokenWatch;
use rand::Rng as _;
use std::collections::BTreeMap;

/// The back-off manager's first wait: `wait.NewExponentialBackoffManager(800*time.Millisecond, ...)`
/// (k8s.io/client-go tools/cache/reflector.go, `NewReflectorWithOptions`: "backoff will stop at
/// [30,60) sec interval ... If we don't backoff for 2min, assume API server is healthy and we reset
/// the backoff").
pub const BACKOFF_INITIAL_NS: Nanos = 800 * MS;
/// Its cap (`30*time.Second`), before jitter.
pub const BACKOFF_MAX_NS: Nanos = 30 * SEC;
/// Its reset: a `Backoff()` more than 2 minutes after the previous starts again from 800 ms
/// (`2*time.Minute`; k8s.io/apimachinery pkg/util/wait/backoff.go `getNextBackoff`).
pub const BACKOFF_RESET_NS: Nanos = 2 * 60 * SEC;
/// A watch that ends sooner than this after it was sent is an error ("very short watch: ...
/// Unexpected watch close - watch lasted less than a second and no items received",
/// reflector.go `handleWatch`).
pub const SHORT_WATCH_NS: Nanos = SEC;
/// Informers start within this long of `load.start`, each at its own moment: operators start over a
/// moment, not in one nanosecond (a modelling choice, as the processes' start jitter).
const START_SPREAD_NS: Nanos = SEC;

/// client-go's `exponentialBackoffManagerImpl` with the reflector's parameters: waits of `d` jittered
/// to `[d, 2d)` (jitter 1.0), `d` doubling from 800 ms to the 30 s cap (so `[30, 60)` s at the
/// cap), back to 800 ms when the previous wait began more than 2 minutes ago.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReflectorBackoff {
    /// The next wait before jitter (0: not begun).
    duration_ns: Nanos,
    /// When the previous wait began.
    last_ns: Option<Nanos>,
}

impl ReflectorBackoff {
    /// The next wait, `Backoff()` at `now`; `unit` in `[0, 1)` is the jitter's draw.
    pub fn next(&mut self, now: Nanos, unit: f64) -> Nanos {
        debug_assert!((0.0..1.0).contains(&unit));
        if self.duration_ns == 0 || self.last_ns.is_some_and(|t| now - t > BACKOFF_RESET_NS) {
            self.duration_ns = BACKOFF_INITIAL_NS;
        }
        self.last_ns = Some(now);
        let d = self.duration_ns;
        // `Backoff.Step`: the duration doubles, capped (then `Steps = 0` keeps it at the cap).
        self.duration_ns = (d * 2).min(BACKOFF_MAX_NS);
        // `wait.Jitter(d, 1.0)`: d + rand.Float64() * d.
        let wait = d + crate::engine::ns_from_f64(unit * d as f64);
        debug_assert!(wait >= d && wait < 2 * d.max(1));
        wait
    }
}

/// The informers' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InformerTimer {
    /// Informer `i` (re)starts `ListAndWatch`: its first start, or the back-off is over.
    ListAndWatch { i: u32 },
    /// Informer `i` watches again (after the back-off, `after_broken_watch: rewatch`).
    Watch { i: u32 },
    /// Informer `i`'s LIST waited out its `Retry-After`: send it again.
    Retry { i: u32 },
    /// The health check of informer `i`'s connection.
    Conn { i: u32, t: ConnTimer },
}

/// The informers' settings.
#[derive(Clone, Debug)]
pub struct InformersConfig {
    /// The cluster endpoint (a load balancer, the VIP, or an API server).
    pub api: ProcId,
    pub count: u32,
    /// `load.start`.
    pub start_ns: Nanos,
    pub after_broken_watch: AfterBrokenWatch,
}

/// Where one informer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a timer (its start, a back-off, a `Retry-After`).
    Waiting,
    /// LIST `id` in flight, after `tries` 429s.
    Listing { id: u64, tries: u32 },
    /// WATCH `id` sent at `since_ns`, held by the server.
    Watching { id: u64, since_ns: Nanos },
}

#[derive(Clone, Debug)]
struct Informer {
    conn: ApiConn,
    phase: Phase,
    /// It has listed once: its next LIST is a relist.
    synced: bool,
    backoff: ReflectorBackoff,
}

/// How a request of an informer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// A successful answer (for a watch: the server ended it cleanly).
    Ok,
    /// 429 Too Many Requests.
    Throttled,
    /// An error answer, a reset, or a connection closed by the health check.
    Broken,
}

/// The informers process.
#[derive(Clone)]
pub struct Informers {
    cfg: InformersConfig,
    ids: IdGen,
    informers: Vec<Informer>,
    /// Requests and PINGs in flight: id -> informer.
    by_id: BTreeMap<u64, u32>,
}

impl Informers {
    /// Informers that have not started.
    pub fn new(cfg: InformersConfig) -> Informers {
        let informers = (0..cfg.count)
            .map(|i| Informer {
                conn: ApiConn::with_stream(true, crate::engine::id16(i as usize)),
                phase: Phase::Waiting,
                synced: false,
                backoff: ReflectorBackoff::default(),
            })
            .collect();
        Informers {
            cfg,
            ids: IdGen::default(),
            informers,
            by_id: BTreeMap::new(),
        }
    }

    /// Starts every informer at its own moment after `load.start`.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.by_id.clear();
        for (i, inf) in self.informers.iter_mut().enumerate() {
            inf.conn.restart();
            inf.phase = Phase::Waiting;
            inf.synced = false;
            inf.backoff = ReflectorBackoff::default();
            let at = self.cfg.start_ns.max(ctx.now) + ctx.rng.gen_range(0..START_SPREAD_NS);
            let i = crate::engine::count32(i);
            ctx.timer_at(at, InformerTimer::ListAndWatch { i });
        }
    }

    /// Nothing survives a crash.
    pub fn crash(&mut self) {
        self.by_id.clear();
        for inf in &mut self.informers {
            inf.phase = Phase::Waiting;
        }
    }

    fn wrap(i: u32) -> impl Fn(ConnTimer) -> Timer {
        move |t| Timer::Informers(InformerTimer::Conn { i, t })
    }

    /// Timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: InformerTimer) {
        match t {
            InformerTimer::ListAndWatch { i } => self.list(ctx, i, 0),
            InformerTimer::Watch { i } => self.watch(ctx, i),
            InformerTimer::Retry { i } => {
                if let Phase::Listing { tries, .. } = self.informers[i as usize].phase {
                    self.list(ctx, i, tries);
                }
            }
            InformerTimer::Conn { i, t } => {
                if let ConnTimer::Ping { id } = t {
                    self.by_id.remove(&id);
                }
                let inf = &mut self.informers[i as usize];
                let ev = inf
                    .conn
                    .on_timer_with(ctx, &mut self.ids, self.cfg.api, t, Self::wrap(i));
                if let Some(id) = inf.conn.ping_in_flight() {
                    self.by_id.insert(id, i);
                }
                if ev == ConnEvent::Closed {
                    // The request on the closed connection fails ("client connection lost").
                    self.ended(ctx, i, Ending::Broken);
                }
            }
        }
    }

    /// Sends informer `i`'s LIST (after `tries` 429s).
    fn list(&mut self, ctx: &mut Ctx, i: u32, tries: u32) {
        if self.informers[i as usize].synced && tries == 0 {
            ctx.out.push(Out::Relist);
        }
        let (start, end) = keys::range(keys::INFORMED);
        let op = KvOp::Range { start, end };
        self.send(ctx, i, op, |id, _| Phase::Listing { id, tries });
    }

    /// Sends informer `i`'s WATCH on its connection.
    fn watch(&mut self, ctx: &mut Ctx, i: u32) {
        let (start, end) = keys::range(keys::INFORMED);
        self.send(
            ctx,
            i,
            KvOp::Watch {
                start,
                end,
                node: None,
            },
            |id, since_ns| Phase::Watching { id, since_ns },
        );
    }

    /// Sends informer `i`'s next request on its connection, in place of the one before, and enters
    /// the phase `phase(id, now)` makes.
    fn send(&mut self, ctx: &mut Ctx, i: u32, op: KvOp, phase: impl FnOnce(u64, Nanos) -> Phase) {
        let id = self.ids.next_id();
        let inf = &mut self.informers[i as usize];
        if let Some(old) = inf.request() {
            self.by_id.remove(&old);
        }
        inf.phase = phase(id, ctx.now);
        let conn = inf.conn.for_request_with(ctx, Self::wrap(i));
        self.by_id.insert(id, i);
        ctx.send(
            self.cfg.api,
            Msg::ApiReq {
                id,
                op,
                conn,
                user: ApiUser::ServiceAccount,
            },
        );
    }

    /// Informer `i`'s request in flight ended so.
    fn ended(&mut self, ctx: &mut Ctx, i: u32, how: Ending) {
        let phase = self.informers[i as usize].phase;
        if let Some(id) = self.informers[i as usize].request() {
            self.by_id.remove(&id);
        }
        match (phase, how) {
            (Phase::Waiting, _) => {}
            (Phase::Listing { .. }, Ending::Ok) => {
                self.informers[i as usize].synced = true;
                self.watch(ctx, i);
            }
            (Phase::Listing { tries, .. }, Ending::Throttled) if tries < CLIENT_GO_MAX_RETRIES => {
                self.informers[i as usize].phase = Phase::Listing {
                    id: 0,
                    tries: tries + 1,
                };
                ctx.timer(RETRY_AFTER_NS, InformerTimer::Retry { i });
            }
            (Phase::Listing { .. }, Ending::Throttled | Ending::Broken) => {
                self.back_off(ctx, i, InformerTimer::ListAndWatch { i })
            }
            (Phase::Watching { since_ns, .. }, how) => self.watch_ended(ctx, i, since_ns, how),
        }
    }

    /// Informer `i`'s watch, sent at `since_ns`, ended so.
    fn watch_ended(&mut self, ctx: &mut Ctx, i: u32, since_ns: Nanos, how: Ending) {
        let short = ctx.now.saturating_sub(since_ns) < SHORT_WATCH_NS;
        let relist = self.cfg.after_broken_watch == AfterBrokenWatch::Relist;
        match (short, how, relist) {
            (true, _, true) | (false, Ending::Broken, true) => {
                if i == 0 {
                    ctx.log(
                        "reflector.go: watch ended with an error; ListAndWatch backs off, then lists again"
                            .into(),
                    );
                }
                self.back_off(ctx, i, InformerTimer::ListAndWatch { i })
            }
            (true, _, false) => self.back_off(ctx, i, InformerTimer::Watch { i }),
            (false, Ending::Ok | Ending::Throttled, _) | (false, Ending::Broken, false) => {
                self.watch(ctx, i)
            }
        }
    }

    /// Waits the back-off manager's next wait, then `then`.
    fn back_off(&mut self, ctx: &mut Ctx, i: u32, then: InformerTimer) {
        let inf = &mut self.informers[i as usize];
        inf.phase = Phase::Waiting;
        let unit = ctx.rng.gen::<f64>();
        let wait = inf.backoff.next(ctx.now, unit);
        ctx.timer(wait, then);
    }

    /// Answers, resets, PING answers, GOAWAY.
    pub fn on_msg(&mut self, ctx: &mut Ctx, _from: ProcId, msg: Msg) {
        match msg {
            Msg::ApiResp { id, result } => {
                let Some(&i) = self.by_id.get(&id) else {
                    return;
                };
                self.informers[i as usize].conn.read(ctx.now);
                let how = match result {
                    Ok(KvResult::Values(_) | KvResult::Value(_) | KvResult::Written { .. }) => {
                        Ending::Ok
                    }
                    Err(ApiError::TooManyRequests) => Ending::Throttled,
                    Err(
                        ApiError::Conflict
                        | ApiError::Storage(_)
                        | ApiError::NotReady
                        | ApiError::NoBackend,
                    ) => Ending::Broken,
                };
                self.ended(ctx, i, how);
            }
            Msg::ConnRefused { id } | Msg::TlsFailed { id } => {
                let Some(&i) = self.by_id.get(&id) else {
                    return;
                };
                // A reset closes the connection; the next request opens a new one.
                self.informers[i as usize].conn.close();
                self.ended(ctx, i, Ending::Broken);
            }
            Msg::ApiPong { id } => {
                if let Some(i) = self.by_id.remove(&id) {
                    self.informers[i as usize].conn.pong(id, ctx.now);
                }
            }
            // The server closes the connection after this answer: the next request opens another.
            // On a watch it is the server's clean end of the watch (a graceful stop).
            Msg::GoAway { id } => {
                if let Some(&i) = self.by_id.get(&id) {
                    self.informers[i as usize].conn.close();
                    if matches!(self.informers[i as usize].phase, Phase::Watching { id: w, .. } if w == id)
                    {
                        self.ended(ctx, i, Ending::Ok);
                    }
                }
            }
            // Not its protocol: it only sends API requests, and nothing sends these to it.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::HealthReq { .. }
            | Msg::HealthResp { .. }
            | Msg::WatchEvent { .. }
            | Msg::Vrrp { .. } => {}
        }
    }
}

impl Informer {
    /// The id of its request in flight.
    fn request(&self) -> Option<u64> {
        match self.phase {
            Phase::Waiting => None,
            Phase::Listing { id, .. } | Phase::Watching { id, .. } => (id != 0).then_some(id),
        }
    }
}

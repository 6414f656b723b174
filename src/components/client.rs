//! The scenario's load generator: requests at a fixed rate through the cluster endpoint (or straight to
//! the etcd members), each with a client-side timeout. Every outcome feeds the `api` capability.

use crate::components::conn::{ApiConn, ConnEvent, ConnTimer};
use crate::components::ctx::{Ctx, IdGen, Obs, Out, ProcId};
use crate::components::msg::{keys, ApiError, KvOp, KvResult, Msg};
use crate::engine::{Nanos, SEC};
use crate::observe::RequestRecord;
use rand::Rng as _;
use std::collections::BTreeMap;

/// The load generator's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientTimer {
    /// Time to send the next request.
    Send,
    /// Request `id` is overdue.
    Timeout { id: u64 },
    /// Request `id` waited out its `Retry-After`: send it again.
    Retry { id: u64 },
    /// The API connection's health check.
    Conn(ConnTimer),
}

impl From<ConnTimer> for ClientTimer {
    fn from(t: ConnTimer) -> ClientTimer {
        ClientTimer::Conn(t)
    }
}

/// Where the client sends.
#[derive(Clone, Debug)]
pub enum ClientTarget {
    /// One API endpoint: an API server, a load balancer, or the VIP.
    Api(ProcId),
    /// The etcd members; the client moves to the next member after a failure or a timeout.
    Etcd(Vec<ProcId>),
}

/// Load generator settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub target: ClientTarget,
    /// Between two requests; `Nanos::MAX`: no load.
    pub interval_ns: Nanos,
    pub write_ratio: f64,
    pub timeout_ns: Nanos,
    /// First request time (lets the cluster boot first).
    pub start_ns: Nanos,
    /// API requests share one long-lived connection (a controller or operator) instead of one
    /// connection each (a `kubectl` invocation).
    pub long_lived: bool,
    /// Whose credentials its API requests carry.
    pub user: crate::components::msg::ApiUser,
}

/// client-go's rest client retries a 429 (or a 5xx with `Retry-After`) up to 10 times, after the
/// `Retry-After` seconds (k8s.io/client-go rest/request.go: `NewRequest` sets `maxRetries: 10`;
/// rest/with_retry.go `IsNextRetry`, `checkWait`); kubectl uses it.
pub const CLIENT_GO_MAX_RETRIES: u32 = 10;
/// The `Retry-After` the API server's 429 carries (k8s.io/apiserver pkg/server/filters/
/// priority-and-fairness.go and maxinflight.go, `tooManyRequests`: "Retry-After: 1").
pub const RETRY_AFTER_NS: Nanos = SEC;

#[derive(Clone, Copy, Debug)]
struct Pending {
    sent_ns: Nanos,
    write: bool,
    /// etcd mode: members tried so far for this request; API mode: 429s retried so far.
    tries: u32,
    op_key: u64,
    value: u64,
}

/// The load generator process.
#[derive(Clone)]
pub struct LoadClient {
    cfg: ClientConfig,
    ids: IdGen,
    current: usize,
    pending: BTreeMap<u64, Pending>,
    conn: ApiConn,
}

impl LoadClient {
    /// A load generator.
    pub fn new(cfg: ClientConfig) -> LoadClient {
        let conn = ApiConn::new(cfg.long_lived);
        LoadClient {
            cfg,
            ids: IdGen::default(),
            current: 0,
            pending: BTreeMap::new(),
            conn,
        }
    }

    /// Starts sending.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.pending.clear();
        self.conn.restart();
        if self.cfg.interval_ns == Nanos::MAX {
            return; // no load
        }
        let phase = ctx.rng.gen_range(0..self.cfg.interval_ns.max(1));
        let first = self.cfg.start_ns.max(ctx.now) + phase;
        ctx.timer_at(first, ClientTimer::Send);
    }

    /// Nothing survives a crash of the client.
    pub fn crash(&mut self) {
        self.pending.clear();
    }

    /// Timers: the next send, or a request's timeout.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: ClientTimer) {
        match t {
            ClientTimer::Send => {
                self.send_new(ctx);
                ctx.timer(self.cfg.interval_ns, ClientTimer::Send);
            }
            ClientTimer::Retry { id } => {
                if let Some(p) = self.pending.get(&id).copied() {
                    self.transmit(ctx, id, p);
                }
            }
            ClientTimer::Timeout { id } => {
                if let Some(p) = self.pending.remove(&id) {
                    self.rotate();
                    self.finish(ctx, p, false);
                }
            }
            ClientTimer::Conn(t) => {
                let ClientTarget::Api(to) = self.cfg.target else {
                    return;
                };
                let ev = self.conn.on_timer::<ClientTimer>(ctx, &mut self.ids, to, t);
                if ev == ConnEvent::Closed {
                    // The requests on the closed connection fail at once ("client connection lost").
                    for (_, p) in std::mem::take(&mut self.pending) {
                        self.finish(ctx, p, false);
                    }
                }
            }
        }
    }

    fn rotate(&mut self) {
        if let ClientTarget::Etcd(m) = &self.cfg.target {
            self.current = (self.current + 1) % m.len().max(1);
        }
    }

    fn send_new(&mut self, ctx: &mut Ctx) {
        let write = ctx.rng.gen::<f64>() < self.cfg.write_ratio;
        let id = self.ids.next_id();
        let p = Pending {
            sent_ns: ctx.now,
            write,
            tries: 0,
            op_key: keys::key(keys::DATA, ctx.rng.gen_range(0..100)),
            value: id,
        };
        self.pending.insert(id, p);
        ctx.deadline(self.cfg.timeout_ns, ClientTimer::Timeout { id });
        self.transmit(ctx, id, p);
    }

    fn op(&self, ctx: &Ctx, id: u64, p: Pending) -> KvOp {
        if p.write {
            KvOp::Put {
                key: p.op_key,
                value: p.value,
                expected_rev: None,
                write_id: ((ctx.me as u64) << 40) | id,
            }
        } else {
            KvOp::Get {
                key: p.op_key,
                linearizable: true,
            }
        }
    }

    fn transmit(&mut self, ctx: &mut Ctx, id: u64, p: Pending) {
        let op = self.op(ctx, id, p);
        match &self.cfg.target {
            ClientTarget::Api(to) => {
                let to = *to;
                let conn = self.conn.for_request::<ClientTimer>(ctx);
                let user = self.cfg.user;
                ctx.send(to, Msg::ApiReq { id, op, conn, user });
            }
            ClientTarget::Etcd(members) => {
                if members.is_empty() {
                    return;
                }
                let to = members[self.current % members.len()];
                ctx.send(to, Msg::EtcdReq { id, op, conn: 0 });
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx, p: Pending, ok: bool) {
        ctx.out.push(Out::Request(RequestRecord {
            sent_ns: p.sent_ns,
            latency_ns: ctx.now - p.sent_ns,
            ok,
            write: p.write,
        }));
    }

    /// Answers from the cluster.
    pub fn on_msg(&mut self, ctx: &mut Ctx, _from: ProcId, msg: Msg) {
        match msg {
            Msg::ApiResp { id, result } => {
                self.conn.read(ctx.now);
                let Some(mut p) = self.pending.remove(&id) else {
                    return;
                };
                if result == Err(ApiError::TooManyRequests) && p.tries < CLIENT_GO_MAX_RETRIES {
                    p.tries += 1;
                    self.pending.insert(id, p);
                    ctx.timer(RETRY_AFTER_NS, ClientTimer::Retry { id });
                    return;
                }
                ctx.cancel(ClientTimer::Timeout { id });
                let ok = match result {
                    Ok(r) => {
                        self.ack(ctx, id, &r);
                        true
                    }
                    // A conflict is an answer from a working API; the model's load does not CAS.
                    Err(ApiError::Conflict) => true,
                    Err(_) => false,
                };
                self.finish(ctx, p, ok);
            }
            Msg::EtcdResp { id, result } => {
                let Some(p) = self.pending.remove(&id) else {
                    return;
                };
                ctx.cancel(ClientTimer::Timeout { id });
                match result {
                    Ok(r) => {
                        self.ack(ctx, id, &r);
                        self.finish(ctx, p, true);
                    }
                    Err(_) => {
                        self.rotate();
                        self.finish(ctx, p, false);
                    }
                }
            }
            Msg::ApiPong { id } => {
                self.conn.pong(id, ctx.now);
            }
            // The server closes the connection after this response: the next request opens a new
            // one (what is in flight still completes).
            Msg::GoAway { .. } => self.conn.close(),
            Msg::ConnRefused { id } | Msg::TlsFailed { id } => {
                if matches!(self.cfg.target, ClientTarget::Api(_)) {
                    // A reset closes the connection; the next request opens a new one.
                    self.conn.close();
                }
                let Some(mut p) = self.pending.remove(&id) else {
                    return;
                };
                match &self.cfg.target {
                    ClientTarget::Etcd(m) if (p.tries as usize) + 1 < m.len() => {
                        // A refused connection fails fast; the etcd client dials the next endpoint.
                        p.tries += 1;
                        self.rotate();
                        self.pending.insert(id, p);
                        self.transmit(ctx, id, p);
                    }
                    // Through the API endpoint, or every etcd member tried: the request failed.
                    ClientTarget::Api(_) | ClientTarget::Etcd(_) => {
                        self.rotate();
                        self.finish(ctx, p, false)
                    }
                }
            }
            // Not its protocol: it only sends API or etcd requests, and nothing sends these to it.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
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

    fn ack(&mut self, ctx: &mut Ctx, id: u64, r: &KvResult) {
        if let KvResult::Written { index, term, .. } = r {
            ctx.observe(Obs::WriteAcked {
                write_id: ((ctx.me as u64) << 40) | id,
                index: *index,
                term: *term,
            });
        }
    }
}

/// The send interval for a rate in requests per second.
pub fn interval_for(rps: f64) -> Nanos {
    crate::engine::ns_from_f64(((SEC as f64) / rps.max(1e-6)).round().max(1.0))
}

//! The etcd client as kube-apiserver uses it (go.etcd.io/etcd/client/v3): an endpoint list, round robin
//! over the endpoints it believes healthy (gRPC round_robin since etcd v3.5, etcd PR #12671), failover on
//! refused connections, and keepalive pings (30 s, 10 s timeout; k8s.io/apiserver
//! storagebackend/factory/etcd3.go) that detect a member that disappeared silently.
//!
//! At start the client dials every endpoint; an endpoint is used only once its connection is up (gRPC
//! round_robin picks READY sub-connections only). kube-apiserver dials with `grpc.WithBlock()`
//! (newETCD3Client in the same file), so the dial returns when the first connection is up: the client
//! reports that once, as [`Event::Connected`].

use crate::components::ctx::{Ctx, IdGen, ProcId};
use crate::components::msg::{EtcdError, KvOp, KvResult, Msg};
use crate::engine::{Nanos, SEC};
use std::collections::BTreeMap;

/// The client's timers; its owner hands them back through [`EtcdClient::on_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtcdClientTimer {
    /// Request `id` timed out.
    OpTimeout { id: u64 },
    /// Keepalive round.
    Keepalive,
    /// The answer to keepalive ping `id` is overdue.
    KeepaliveDeadline { id: u64 },
    /// Redial of endpoints believed down.
    Redial,
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
    endpoint: usize,
    tries: u32,
}

/// The owner's name for a request, handed back with its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
}

/// The client's volatile state.
pub struct EtcdClient {
    cfg: EtcdClientConfig,
    healthy: Vec<bool>,
    next: usize,
    ids: IdGen,
    ops: BTreeMap<u64, Op>,
    /// Keepalive pings awaiting an answer: ping id -> endpoint.
    pings: BTreeMap<u64, usize>,
    /// Whether a connection to any endpoint has come up since start.
    connected: bool,
}

impl EtcdClient {
    /// A client; all endpoints start healthy (connections are dialled lazily).
    pub fn new(cfg: EtcdClientConfig) -> EtcdClient {
        let n = cfg.endpoints.len();
        EtcdClient {
            cfg,
            healthy: vec![true; n],
            next: 0,
            ids: IdGen::default(),
            ops: BTreeMap::new(),
            pings: BTreeMap::new(),
            connected: false,
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
            self.ping(ctx, i, SEC);
        }
        ctx.timer(self.cfg.keepalive_time_ns, EtcdClientTimer::Keepalive);
        ctx.timer(SEC, EtcdClientTimer::Redial);
    }

    /// Whether a connection to any endpoint has come up since start.
    pub fn connected(&self) -> bool {
        self.connected
    }

    fn pick(&mut self) -> usize {
        let n = self.cfg.endpoints.len();
        for _ in 0..n {
            let i = self.next % n;
            self.next = (self.next + 1) % n;
            if self.healthy[i] {
                return i;
            }
        }
        // Nothing believed healthy: try the next one anyway (gRPC would be reconnecting).
        let i = self.next % n;
        self.next = (self.next + 1) % n;
        i
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
        let e = self.pick();
        ctx.send(self.cfg.endpoints[e], Msg::EtcdReq { id, op: op.clone() });
        self.ops.insert(
            id,
            Op {
                owner_tag,
                op,
                endpoint: e,
                tries: 1,
            },
        );
        ctx.timer(timeout_ns, EtcdClientTimer::OpTimeout { id });
        None
    }

    /// Handles a message meant for the client; returns what happened, if anything.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: &Msg) -> Option<Event> {
        match msg {
            Msg::EtcdResp { id, result } => {
                let op = self.ops.remove(id)?;
                if let Some(i) = self.cfg.endpoints.iter().position(|e| *e == from) {
                    self.healthy[i] = true;
                }
                // The apiserver's storage layer surfaces etcd errors as they come; gRPC-level retries
                // only cover unavailable connections, handled below.
                Some(Event::Done((op.owner_tag, result.clone())))
            }
            Msg::ConnRefused { id } => {
                if let Some(i) = self.pings.remove(id) {
                    self.healthy[i] = false;
                    return None;
                }
                let mut op = self.ops.remove(id)?;
                self.healthy[op.endpoint] = false;
                if (op.tries as usize) < self.cfg.endpoints.len() && self.healthy.iter().any(|h| *h)
                {
                    // Unavailable: the retry interceptor moves on to the next endpoint.
                    let e = self.pick();
                    op.endpoint = e;
                    op.tries += 1;
                    ctx.send(
                        self.cfg.endpoints[e],
                        Msg::EtcdReq {
                            id: *id,
                            op: op.op.clone(),
                        },
                    );
                    self.ops.insert(*id, op);
                    None
                } else {
                    Some(Event::Done((op.owner_tag, Err(EtcdError::Unavailable))))
                }
            }
            Msg::EtcdPong { id } => {
                let i = self.pings.remove(id)?;
                self.healthy[i] = true;
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
                        self.ping(ctx, i, self.cfg.keepalive_timeout_ns);
                    }
                }
                ctx.timer(self.cfg.keepalive_time_ns, EtcdClientTimer::Keepalive);
                None
            }
            EtcdClientTimer::KeepaliveDeadline { id } => {
                if let Some(i) = self.pings.remove(&id) {
                    // No answer to the keepalive: the transport is closed and the balancer stops
                    // using the endpoint.
                    self.healthy[i] = false;
                }
                None
            }
            EtcdClientTimer::Redial => {
                for i in 0..self.cfg.endpoints.len() {
                    if !self.healthy[i] {
                        self.ping(ctx, i, SEC);
                    }
                }
                ctx.timer(SEC, EtcdClientTimer::Redial);
                None
            }
        }
    }

    fn ping(&mut self, ctx: &mut Ctx, i: usize, deadline: Nanos) {
        let id = self.ids.next_id();
        self.pings.insert(id, i);
        ctx.send(self.cfg.endpoints[i], Msg::EtcdPing { id });
        ctx.timer(deadline, EtcdClientTimer::KeepaliveDeadline { id });
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &[ProcId] {
        &self.cfg.endpoints
    }
}

//! kube-apiserver: active-active; serves reads and writes by talking to etcd through its etcd client
//! (linearizable), answers `/livez`, `/readyz` and `/healthz`; the etcd check is a linearizable read
//! that must answer within `--etcd-healthcheck-timeout`.

use super::etcd_client::{EtcdClient, EtcdClientConfig};
use crate::components::msg::{keys, ApiError, HealthPath, KvOp, Msg};
use crate::engine::Nanos;
use crate::observe::{ProcState, TraceKind};
use crate::world::ctx::{Ctx, ProcId};
use std::collections::BTreeMap;

const T_SERVING: u32 = 1;

/// API server settings.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    pub etcd: EtcdClientConfig,
    pub request_timeout_ns: Nanos,
    pub healthcheck_timeout_ns: Nanos,
    pub readycheck_timeout_ns: Nanos,
    pub startup_ns: Nanos,
}

#[derive(Clone, Copy, Debug)]
enum Waiter {
    Api { client: ProcId, id: u64 },
    Health { client: ProcId, id: u64 },
}

/// The kube-apiserver process.
pub struct ApiServer {
    cfg: ApiServerConfig,
    serving: bool,
    etcd: EtcdClient,
    waiters: BTreeMap<u64, Waiter>,
    next_tag: u64,
    /// Last `/readyz` outcome, to trace readiness changes.
    last_ready: Option<bool>,
}

impl ApiServer {
    /// A stopped API server.
    pub fn new(cfg: ApiServerConfig) -> ApiServer {
        let etcd = EtcdClient::new(cfg.etcd.clone());
        ApiServer {
            cfg,
            serving: false,
            etcd,
            waiters: BTreeMap::new(),
            next_tag: 1,
            last_ready: None,
        }
    }

    /// Whether the secure port is serving.
    pub fn serving(&self) -> bool {
        self.serving
    }

    /// The etcd members it uses.
    pub fn etcd_endpoints(&self) -> &[ProcId] {
        self.etcd.endpoints()
    }

    /// Boots: the port opens after the start-up time (static pod start, storage init, post-start hooks).
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.serving = false;
        self.etcd = EtcdClient::restarted(&self.etcd);
        self.waiters.clear();
        self.last_ready = None;
        self.etcd.start(ctx);
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Unready,
        });
        ctx.timer(self.cfg.startup_ns, T_SERVING, 0);
    }

    /// Crash: all in-flight requests die with the process.
    pub fn crash(&mut self) {
        self.serving = false;
        self.waiters.clear();
    }

    /// Timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, tag: u32, arg: u64) {
        if tag == T_SERVING {
            self.serving = true;
            ctx.log("Serving securely on [::]:6443".into());
            ctx.trace(TraceKind::Proc {
                proc: ctx.me,
                state: ProcState::Up,
            });
            return;
        }
        if let Some(done) = self.etcd.on_timer(ctx, tag, arg) {
            self.complete(ctx, done);
        }
    }

    /// Messages: client requests, probes, and etcd answers.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match msg {
            Msg::ApiReq { .. } | Msg::ProxyReq { .. } => {
                let (id, op, proxied) = match msg {
                    Msg::ApiReq { id, op } => (id, op, false),
                    Msg::ProxyReq { id, op } => (id, op, true),
                    _ => unreachable!("matched above"),
                };
                if !self.serving {
                    // The secure port is not open yet: the kernel refuses the connection.
                    ctx.send(from, Msg::ConnRefused { id });
                    return;
                }
                if proxied {
                    ctx.send(from, Msg::ProxyAccepted { id });
                }
                let tag = self.next_tag;
                self.next_tag += 1;
                self.waiters.insert(tag, Waiter::Api { client: from, id });
                if let Some(done) = self.etcd.request(ctx, tag, op, self.cfg.request_timeout_ns) {
                    self.complete(ctx, done);
                }
            }
            Msg::HealthReq { id, path } => {
                if !self.serving {
                    ctx.send(from, Msg::ConnRefused { id });
                    return;
                }
                // The TCP handshake completes before the probe is answered.
                ctx.send(from, Msg::ProxyAccepted { id });
                match path {
                    // /livez does not depend on etcd (k/k PR #111399 keeps etcd out of liveness).
                    HealthPath::Livez => ctx.send(from, Msg::HealthResp { id, ok: true }),
                    HealthPath::Healthz | HealthPath::Readyz => {
                        let tag = self.next_tag;
                        self.next_tag += 1;
                        self.waiters
                            .insert(tag, Waiter::Health { client: from, id });
                        let timeout = if path == HealthPath::Readyz {
                            self.cfg.readycheck_timeout_ns
                        } else {
                            self.cfg.healthcheck_timeout_ns
                        };
                        // The etcd check is a linearizable read: it fails without quorum.
                        let op = KvOp::Get {
                            key: keys::key(keys::DATA, 0),
                            linearizable: true,
                        };
                        if let Some(done) = self.etcd.request(ctx, tag, op, timeout) {
                            self.complete(ctx, done);
                        }
                    }
                }
            }
            other => {
                if let Some(done) = self.etcd.on_msg(ctx, from, &other) {
                    self.complete(ctx, done);
                }
            }
        }
    }

    fn complete(&mut self, ctx: &mut Ctx, done: super::etcd_client::Completion) {
        let (tag, result) = done;
        let Some(w) = self.waiters.remove(&tag) else {
            return;
        };
        match w {
            Waiter::Api { client, id } => {
                let result = result.map_err(|e| match e {
                    crate::components::msg::EtcdError::Conflict => ApiError::Conflict,
                    other => ApiError::Storage(other),
                });
                ctx.send(client, Msg::ApiResp { id, result });
            }
            Waiter::Health { client, id } => {
                let ok = result.is_ok();
                if self.last_ready != Some(ok) {
                    self.last_ready = Some(ok);
                    ctx.trace(TraceKind::Proc {
                        proc: ctx.me,
                        state: if ok {
                            ProcState::Up
                        } else {
                            ProcState::Unready
                        },
                    });
                    if !ok {
                        ctx.log(format!(
                            "[-]etcd failed: {}",
                            result.err().map(|e| e.text()).unwrap_or("error")
                        ));
                    }
                }
                ctx.send(client, Msg::HealthResp { id, ok });
            }
        }
    }
}

//! HAProxy in front of the API servers, as kubeadm's HA guide configures it: TCP frontend on 6443,
//! `balance roundrobin`, HTTP health checks (`option httpchk GET /healthz`, inter/fall/rise), `retries`
//! with `option redispatch`. Defaults from haproxy include/haproxy/defaults.h and kubeadm
//! docs/ha-considerations.md.
//!
//! `mode tcp` balances connections, not requests: the backend is chosen (with retries and redispatch)
//! when a client's connection is opened, and every later request on it is relayed to that backend.
//! Marking a server DOWN does not close its established sessions (no `on-marked-down
//! shutdown-sessions` in kubeadm's configuration); a reset from the backend's host does.

use crate::components::ctx::{Ctx, IdGen, ProcId};
use crate::components::msg::{ApiError, ApiUser, ConnId, HealthPath, KvOp, Msg};
use crate::engine::Nanos;
use crate::observe::TraceKind;
use std::collections::BTreeMap;

/// HAProxy's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HaproxyTimer {
    /// The next health check of backend `server` (index into the backends).
    Check { server: usize },
    /// Health check `id` ran out of time (connect or read phase).
    CheckTimeout { id: u64 },
    /// Relayed session `id` did not connect to its backend in time.
    ConnectTimeout { id: u64 },
}

/// HAProxy settings.
#[derive(Clone, Debug)]
pub struct HaproxyConfig {
    pub backends: Vec<ProcId>,
    pub backend_names: Vec<String>,
    pub check_path: HealthPath,
    pub inter_ns: Nanos,
    pub fall: u32,
    pub rise: u32,
    pub connect_timeout_ns: Nanos,
    pub check_timeout_ns: Nanos,
    pub retries: u32,
    pub redispatch: bool,
}

#[derive(Clone, Copy, Debug)]
struct Server {
    up: bool,
    /// Consecutive check results against the current state.
    streak: u32,
    /// The check in flight: (id, connected).
    check: Option<(u64, bool)>,
    check_started: Nanos,
}

#[derive(Clone, Debug)]
struct Session {
    client: ProcId,
    client_id: u64,
    /// The request relayed (None: a PING on an established connection).
    op: Option<(KvOp, ApiUser)>,
    server: usize,
    retries_left: u32,
    connected: bool,
    /// The client's connection.
    conn: ConnId,
    /// Relayed on an established connection: no connect phase, no retries.
    established: bool,
}

/// The HAProxy process.
#[derive(Clone)]
pub struct Haproxy {
    cfg: HaproxyConfig,
    servers: Vec<Server>,
    rr: usize,
    /// Ids of health checks and of relayed sessions (one count).
    ids: IdGen,
    sessions: BTreeMap<u64, Session>,
    /// Clients that sent a request on an established connection (long-lived connections).
    reusing: std::collections::BTreeSet<ProcId>,
    /// Check id -> server.
    checks: BTreeMap<u64, usize>,
    /// Each client connection's open generation and the backend it was balanced to, by (client,
    /// stream): a client with several concurrent connections (informers) has one entry for each.
    conns: BTreeMap<(ProcId, u16), (u32, usize)>,
}

impl Haproxy {
    /// A stopped HAProxy.
    pub fn new(cfg: HaproxyConfig) -> Haproxy {
        let n = cfg.backends.len();
        Haproxy {
            cfg,
            servers: vec![
                Server {
                    up: true,
                    streak: 0,
                    check: None,
                    check_started: 0,
                };
                n
            ],
            rr: 0,
            ids: IdGen::default(),
            sessions: BTreeMap::new(),
            reusing: std::collections::BTreeSet::new(),
            checks: BTreeMap::new(),
            conns: BTreeMap::new(),
        }
    }

    /// Whether any backend is up (what keepalived's check script sees through the frontend).
    pub fn any_up(&self) -> bool {
        self.servers.iter().any(|s| s.up)
    }

    /// The backends marked UP: those new requests go to (for the observer).
    pub fn up_backends(&self) -> impl Iterator<Item = ProcId> + '_ {
        self.cfg
            .backends
            .iter()
            .zip(&self.servers)
            .filter(|(_, s)| s.up)
            .map(|(&b, _)| b)
    }

    /// Each backend server as `show stat` reports it: (API server, name, UP, consecutive check results
    /// against that state), in configuration order (read-only, for `inspect`).
    pub fn servers(&self) -> impl Iterator<Item = (ProcId, &str, bool, u32)> + '_ {
        self.cfg
            .backends
            .iter()
            .zip(&self.cfg.backend_names)
            .zip(&self.servers)
            .map(|((&b, n), s)| (b, n.as_str(), s.up, s.streak))
    }

    /// The backends in the order `balance roundrobin` would try them for the next connection (UP
    /// ones only), for `inspect`'s client.
    pub fn next_picks(&self) -> Vec<ProcId> {
        let n = self.servers.len();
        (0..n)
            .map(|k| (self.rr + k) % n)
            .filter(|&i| self.servers[i].up)
            .map(|i| self.cfg.backends[i])
            .collect()
    }

    /// Starts: servers begin UP (HAProxy's default init state) and checks are spread over `inter`.
    pub fn start(&mut self, ctx: &mut Ctx) {
        let n = self.cfg.backends.len();
        for s in self.servers.iter_mut() {
            *s = Server {
                up: true,
                streak: 0,
                check: None,
                check_started: 0,
            };
        }
        self.sessions.clear();
        self.reusing.clear();
        self.checks.clear();
        self.conns.clear();
        for (i, _) in self.cfg.backends.iter().enumerate() {
            // HAProxy spreads the first checks of a backend's servers over one interval.
            let offset = self.cfg.inter_ns * i as u64 / n.max(1) as u64;
            ctx.timer(offset + 1, HaproxyTimer::Check { server: i });
        }
    }

    /// Crash: sessions and connections die with the process.
    pub fn crash(&mut self) {
        self.sessions.clear();
        self.reusing.clear();
        self.checks.clear();
        self.conns.clear();
    }

    fn pick(&mut self, avoid: Option<usize>) -> Option<usize> {
        let n = self.servers.len();
        for _ in 0..n {
            let i = self.rr % n;
            self.rr = (self.rr + 1) % n;
            if self.servers[i].up && Some(i) != avoid {
                return Some(i);
            }
        }
        None
    }

    /// Timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: HaproxyTimer) {
        match t {
            HaproxyTimer::Check { server } => self.start_check(ctx, server),
            HaproxyTimer::CheckTimeout { id } => self.check_timeout(ctx, id),
            HaproxyTimer::ConnectTimeout { id } => {
                if let Some(s) = self.sessions.get(&id) {
                    if !s.connected {
                        self.retry_or_fail(ctx, id);
                    }
                }
            }
        }
    }

    fn start_check(&mut self, ctx: &mut Ctx, i: usize) {
        let id = self.ids.next_id();
        self.servers[i].check = Some((id, false));
        self.servers[i].check_started = ctx.now;
        self.checks.insert(id, i);
        ctx.send(
            self.cfg.backends[i],
            Msg::HealthReq {
                id,
                path: self.cfg.check_path,
            },
        );
        // With `timeout check` set, the connect phase of a check is bounded by
        // min(timeout connect, inter) (HAProxy configuration manual, "timeout check").
        let connect = self.cfg.connect_timeout_ns.min(self.cfg.inter_ns);
        ctx.deadline(connect, HaproxyTimer::CheckTimeout { id });
    }

    fn check_timeout(&mut self, ctx: &mut Ctx, arg: u64) {
        let Some(&i) = self.checks.get(&arg) else {
            return;
        };
        // Only the check in flight counts; a timer of an earlier check of this server is stale.
        match self.servers[i].check {
            Some((id, false)) if id == arg => {
                self.check_result(ctx, i, arg, false, "Layer4 timeout");
            }
            Some((id, true)) if id == arg => {
                // Connected: the read timeout is `timeout check`, counted from the connect.
                let started = self.servers[i].check_started;
                let connect = self.cfg.connect_timeout_ns.min(self.cfg.inter_ns);
                if ctx.now >= started + connect + self.cfg.check_timeout_ns {
                    self.check_result(ctx, i, arg, false, "Layer7 timeout");
                } else {
                    ctx.timer_at(
                        started + connect + self.cfg.check_timeout_ns,
                        HaproxyTimer::CheckTimeout { id: arg },
                    );
                }
            }
            Some(_) | None => {}
        }
    }

    fn check_result(&mut self, ctx: &mut Ctx, i: usize, id: u64, ok: bool, reason: &str) {
        self.checks.remove(&id);
        ctx.cancel(HaproxyTimer::CheckTimeout { id });
        let dur = ctx.now - self.servers[i].check_started;
        let s = &mut self.servers[i];
        s.check = None;
        if ok == s.up {
            s.streak = 0;
        } else {
            s.streak += 1;
            let needed = if s.up { self.cfg.fall } else { self.cfg.rise };
            if s.streak >= needed {
                s.up = ok;
                s.streak = 0;
                let left = self.servers.iter().filter(|s| s.up).count();
                ctx.trace(TraceKind::LbBackend {
                    lb: ctx.me,
                    backend: self.cfg.backends[i],
                    up: ok,
                });
                let name = &self.cfg.backend_names[i];
                if ok {
                    ctx.log(format!(
                        "Server apiserverbackend/{name} is UP, reason: Layer7 check passed, code: 200, check duration: {}ms. {left} active and 0 backup servers online.",
                        dur / 1_000_000
                    ));
                } else {
                    ctx.log(format!(
                        "Server apiserverbackend/{name} is DOWN, reason: {reason}, check duration: {}ms. {left} active and 0 backup servers left.",
                        dur / 1_000_000
                    ));
                    if left == 0 {
                        ctx.log("backend apiserverbackend has no server available!".into());
                    }
                }
            }
        }
        // The next check starts `inter` after this one ended.
        ctx.timer(self.cfg.inter_ns, HaproxyTimer::Check { server: i });
    }

    fn retry_or_fail(&mut self, ctx: &mut Ctx, sid: u64) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if s.established || s.retries_left == 0 {
            // Connection to the server failed and no retries are left (or an established connection
            // was reset): the client's connection closes.
            if self.conns.get(&(s.client, s.conn.stream)) == Some(&(s.conn.generation, s.server)) {
                self.conns.remove(&(s.client, s.conn.stream));
            }
            if s.established {
                ctx.send(s.client, Msg::ConnRefused { id: s.client_id });
                return;
            }
            // The connection is closed (`mode tcp`: the client reads EOF): the client's next
            // request opens another.
            ctx.send(s.client, Msg::GoAway { id: s.client_id });
            ctx.send(
                s.client,
                Msg::ApiResp {
                    id: s.client_id,
                    result: Err(ApiError::NoBackend),
                },
            );
            return;
        }
        s.retries_left -= 1;
        // With `option redispatch`, the last retry may go to another server.
        let next = if self.cfg.redispatch && s.retries_left == 0 {
            self.pick(Some(s.server)).unwrap_or(s.server)
        } else {
            s.server
        };
        s.server = next;
        let key = (s.client, s.conn.stream);
        if self
            .conns
            .get(&key)
            .is_some_and(|c| c.0 == s.conn.generation)
        {
            self.conns.insert(key, (s.conn.generation, next));
        }
        let id = self.ids.next_id();
        let Some((op, user)) = s.op.clone() else {
            return;
        };
        ctx.send(
            self.cfg.backends[next],
            Msg::ProxyReq {
                id,
                op,
                user,
                origin: s.client,
                conn: s.conn,
            },
        );
        ctx.deadline(
            self.cfg.connect_timeout_ns,
            HaproxyTimer::ConnectTimeout { id },
        );
        self.sessions.insert(id, s);
    }

    /// Messages: client requests, backend answers, check answers.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match msg {
            Msg::ApiReq { id, op, conn, user } => {
                if let KvOp::Watch { start, end, node } = &op {
                    // A client's stream watches each range once (an informer process holds one
                    // stream per informer): a watch it opens replaces the one it left behind on a
                    // connection it gave up on (the server replaces it too), so that one's session
                    // does not linger here.
                    let range = (*start, *end, *node);
                    self.sessions.retain(|_, s| {
                        !(s.client == from
                            && s.conn.stream == conn.stream
                            && matches!(&s.op, Some((KvOp::Watch { start, end, node }, _))
                                if (*start, *end, *node) == range))
                    });
                }
                let mut replaces = true;
                if let Some(&(open, server)) = self.conns.get(&(from, conn.stream)) {
                    if open == conn.generation {
                        self.relay(ctx, from, id, Some((op, user)), conn, server);
                        return;
                    }
                    // An older connection's opening request, held up (a dial across a cut) while
                    // the client opened a newer one: a connection of its own beside the newer.
                    replaces = (conn.generation.wrapping_sub(open) as i32) > 0;
                    // A new connection from this client: the old one is gone, and so are the
                    // requests still waiting on it. Only a client that reused a connection can have
                    // such requests; skipping the scan for the others keeps a request a connection
                    // (thousands a second) from costing a pass over every session.
                    if replaces && self.reusing.contains(&from) {
                        // Not a watch: the client's dialler keeps a watch still dialling when it
                        // closes its connections (see the kubelet), and one it gave up on is
                        // replaced at the server by its next watch.
                        self.sessions.retain(|_, s| {
                            !(s.client == from
                                && s.established
                                && s.conn.stream == conn.stream
                                && s.conn.generation != conn.generation
                                && !matches!(s.op, Some((KvOp::Watch { .. }, _))))
                        });
                    }
                }
                if conn.continues {
                    // A later request of an older connection that opened beside a newer one
                    // (above) goes where that connection's first went.
                    let beside = self.sessions.values().find(|s| {
                        s.client == from
                            && s.conn.stream == conn.stream
                            && s.conn.generation == conn.generation
                    });
                    if let Some(server) = beside.map(|s| s.server) {
                        self.relay(ctx, from, id, Some((op, user)), conn, server);
                        return;
                    }
                    // A segment of a connection this HAProxy does not have (it restarted, or the
                    // VIP moved to it from another one): its kernel resets it.
                    ctx.send(from, Msg::ConnRefused { id });
                    return;
                }
                let Some(i) = self.pick(None) else {
                    // No server available: in `mode tcp` HAProxy closes the client's connection, which
                    // the client reads as EOF.
                    ctx.send(from, Msg::GoAway { id });
                    ctx.send(
                        from,
                        Msg::ApiResp {
                            id,
                            result: Err(ApiError::NoBackend),
                        },
                    );
                    return;
                };
                if replaces {
                    self.conns.insert((from, conn.stream), (conn.generation, i));
                }
                let sid = self.ids.next_id();
                ctx.send(
                    self.cfg.backends[i],
                    Msg::ProxyReq {
                        id: sid,
                        op: op.clone(),
                        user,
                        origin: from,
                        conn,
                    },
                );
                ctx.deadline(
                    self.cfg.connect_timeout_ns,
                    HaproxyTimer::ConnectTimeout { id: sid },
                );
                self.sessions.insert(
                    sid,
                    Session {
                        client: from,
                        client_id: id,
                        op: Some((op, user)),
                        server: i,
                        retries_left: self.cfg.retries,
                        connected: false,
                        conn,
                        established: false,
                    },
                );
            }
            Msg::ApiPing { id, conn } => match self.conns.get(&(from, conn.stream)) {
                Some(&(open, server)) if open == conn.generation => {
                    self.relay(ctx, from, id, None, conn, server)
                }
                // A segment for a connection this HAProxy does not have (it restarted, or the VIP
                // moved to another one): reset.
                _ => ctx.send(from, Msg::ConnRefused { id }),
            },
            Msg::ApiPong { id } => {
                if let Some(s) = self.sessions.remove(&id) {
                    ctx.send(s.client, Msg::ApiPong { id: s.client_id });
                }
            }
            // In `mode tcp` HAProxy relays the frame: the client closes its connection, and the
            // server-side session goes with it.
            Msg::GoAway { id } => {
                if let Some(s) = self.sessions.get(&id) {
                    let (client, client_id, conn) = (s.client, s.client_id, s.conn);
                    if self
                        .conns
                        .get(&(client, conn.stream))
                        .is_some_and(|c| c.0 == conn.generation)
                    {
                        self.conns.remove(&(client, conn.stream));
                    }
                    ctx.send(client, Msg::GoAway { id: client_id });
                }
            }
            Msg::HealthReq { id, .. } => {
                // keepalived's check script curls the frontend: it answers if a backend is up.
                let ok = self.any_up();
                ctx.send(from, Msg::HealthResp { id, ok });
            }
            Msg::ProxyAccepted { id } => {
                if let Some(s) = self.sessions.get_mut(&id) {
                    // The connect timeout checks only for a session still connecting.
                    s.connected = true;
                    ctx.cancel(HaproxyTimer::ConnectTimeout { id });
                } else if let Some(&i) = self.checks.get(&id) {
                    if let Some((cid, _)) = self.servers[i].check {
                        if cid == id {
                            self.servers[i].check = Some((id, true));
                        }
                    }
                }
            }
            // A watch's event: the session stays open for the next.
            Msg::WatchEvent { id, values, rev } => {
                if let Some(s) = self.sessions.get(&id) {
                    ctx.send(
                        s.client,
                        Msg::WatchEvent {
                            id: s.client_id,
                            values,
                            rev,
                        },
                    );
                }
            }
            Msg::ApiResp { id, result } => {
                if let Some(s) = self.sessions.remove(&id) {
                    ctx.send(
                        s.client,
                        Msg::ApiResp {
                            id: s.client_id,
                            result,
                        },
                    );
                }
            }
            // In `mode tcp` the TLS session is the client's with the backend: HAProxy sees a
            // connection that closes, the client sees the handshake's error. No retry: the TCP
            // connection to the server was made.
            Msg::TlsFailed { id } => {
                if let Some(s) = self.sessions.remove(&id) {
                    let key = (s.client, s.conn.stream);
                    if self.conns.get(&key) == Some(&(s.conn.generation, s.server)) {
                        self.conns.remove(&key);
                    }
                    ctx.send(s.client, Msg::TlsFailed { id: s.client_id });
                }
            }
            Msg::ConnRefused { id } => {
                if self.sessions.contains_key(&id) {
                    self.retry_or_fail(ctx, id);
                } else if let Some(&i) = self.checks.get(&id) {
                    self.check_result(ctx, i, id, false, "Layer4 connection problem");
                }
            }
            Msg::HealthResp { id, ok } => {
                if let Some(&i) = self.checks.get(&id) {
                    let reason = if ok {
                        ""
                    } else {
                        "Layer7 wrong status, code: 500"
                    };
                    self.check_result(ctx, i, id, ok, reason);
                }
            }
            // Not its protocol: HAProxy relays the API and probes backends, nothing else.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdPong { .. }
            | Msg::ProxyReq { .. }
            | Msg::Vrrp { .. } => {}
        }
    }

    /// Relays a request (or, with no `op`, a PING) on the client's established connection to its
    /// backend, whatever state the health checks gave that backend.
    fn relay(
        &mut self,
        ctx: &mut Ctx,
        client: ProcId,
        client_id: u64,
        op: Option<(KvOp, ApiUser)>,
        conn: ConnId,
        server: usize,
    ) {
        let sid = self.ids.next_id();
        let msg = match &op {
            Some((op, user)) => Msg::ProxyReq {
                id: sid,
                op: op.clone(),
                user: *user,
                origin: client,
                conn,
            },
            None => Msg::ApiPing {
                id: sid,
                conn: ConnId::default(),
            },
        };
        ctx.send(self.cfg.backends[server], msg);
        self.reusing.insert(client);
        self.sessions.insert(
            sid,
            Session {
                client,
                client_id,
                op,
                server,
                retries_left: 0,
                connected: true,
                conn,
                established: true,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{Haproxy, HaproxyConfig};
    use crate::components::ctx::{Ctx, Out, ProcId};
    use crate::components::msg::{ApiError, ApiUser, ConnId, HealthPath, KvOp, Msg};
    use crate::engine::rng::stream;

    const CLIENT: ProcId = 7;
    const BACKEND: ProcId = 3;

    fn haproxy(backends: Vec<ProcId>) -> Haproxy {
        Haproxy::new(HaproxyConfig {
            backend_names: backends.iter().map(|b| format!("cp-{b}")).collect(),
            backends,
            check_path: HealthPath::Readyz,
            inter_ns: 2_000_000_000,
            fall: 3,
            rise: 2,
            connect_timeout_ns: 5_000_000_000,
            check_timeout_ns: 2_000_000_000,
            retries: 3,
            redispatch: true,
        })
    }

    /// What HAProxy sends for request `id` on connection `conn` (generation 1): (to, message).
    fn request(h: &mut Haproxy, id: u64, continues: bool) -> Vec<(ProcId, Msg)> {
        let op = KvOp::Get {
            key: 1,
            linearizable: true,
        };
        send(h, id, op, (0, 1), continues)
    }

    /// What HAProxy sends for request `id` of `op` on the client's connection (stream,
    /// generation).
    fn send(
        h: &mut Haproxy,
        id: u64,
        op: KvOp,
        (conn_stream, generation): (u16, u32),
        continues: bool,
    ) -> Vec<(ProcId, Msg)> {
        let mut rng = stream(1, 1);
        let mut out = Vec::new();
        let mut ctx = Ctx {
            now: 1,
            me: 20,
            rng: &mut rng,
            out: &mut out,
            quiet_ok: false,
        };
        let conn = ConnId {
            stream: conn_stream,
            generation,
            continues,
        };
        h.on_msg(
            &mut ctx,
            CLIENT,
            Msg::ApiReq {
                id,
                op,
                conn,
                user: ApiUser::Node,
            },
        );
        out.into_iter()
            .filter_map(|o| match o {
                Out::Send { to, msg } => Some((to, msg)),
                _ => None,
            })
            .collect()
    }

    /// A request on a connection this HAProxy has is relayed; one on a connection made to another
    /// HAProxy (the VIP moved here) is reset, as the new holder's kernel resets a segment of a
    /// connection it does not have; the request that opens a connection is balanced.
    #[test]
    fn a_request_on_a_connection_opened_elsewhere_is_reset() {
        let mut old = haproxy(vec![BACKEND]);
        let opened = request(&mut old, 1, false);
        assert!(matches!(opened[..], [(BACKEND, Msg::ProxyReq { .. })]));
        let next = request(&mut old, 2, true);
        assert!(matches!(next[..], [(BACKEND, Msg::ProxyReq { .. })]));
        let mut new_holder = haproxy(vec![BACKEND]);
        let moved = request(&mut new_holder, 3, true);
        assert!(matches!(moved[..], [(CLIENT, Msg::ConnRefused { id: 3 })]));
    }

    /// A client's dial held up (across a cut) while it opened a newer connection: the older
    /// connection's opening request, arriving late, is a connection of its own beside the newer
    /// (not a reset, and the newer stays), and a later request on it goes to the same server.
    #[test]
    fn an_older_connection_that_opens_late_stands_beside_the_newer() {
        let mut h = haproxy(vec![BACKEND, BACKEND + 1]);
        let get = KvOp::Get {
            key: 1,
            linearizable: true,
        };
        let newer = send(&mut h, 1, get.clone(), (0, 5), false);
        let Some((newer_server, Msg::ProxyReq { .. })) = newer.first().cloned() else {
            panic!("{newer:?}")
        };
        let late = send(&mut h, 2, get.clone(), (0, 4), false);
        let Some((late_server, Msg::ProxyReq { .. })) = late.first().cloned() else {
            panic!("{late:?}")
        };
        let after_late = send(&mut h, 3, get.clone(), (0, 4), true);
        assert!(
            matches!(after_late[..], [(to, Msg::ProxyReq { .. })] if to == late_server),
            "{after_late:?}"
        );
        let on_newer = send(&mut h, 4, get, (0, 5), true);
        assert!(
            matches!(on_newer[..], [(to, Msg::ProxyReq { .. })] if to == newer_server),
            "{on_newer:?}"
        );
    }

    /// A client's new watch of a range replaces its old one here, as at the server: the session of
    /// a watch it gave up on does not linger. Another range's watch stays, and so does another
    /// stream's watch of the same range.
    #[test]
    fn a_new_watch_of_a_range_replaces_the_clients_old_one() {
        let mut h = haproxy(vec![BACKEND]);
        let watch = |start| KvOp::Watch {
            start,
            end: start + 10,
            node: Some(1),
        };
        send(&mut h, 1, watch(100), (0, 1), false);
        send(&mut h, 2, watch(500), (0, 1), true);
        // Another stream of the same process (an informer among many) watching the same range.
        send(&mut h, 4, watch(100), (1, 1), false);
        assert_eq!(h.sessions.len(), 3);
        // The connection closed (the client gave up on the watches); a new one re-watches 100.
        send(&mut h, 3, watch(100), (0, 2), false);
        let mut clients: Vec<u64> = h.sessions.values().map(|s| s.client_id).collect();
        clients.sort_unstable();
        assert_eq!(clients, vec![2, 3, 4]);
    }

    /// With no server to send it to, HAProxy closes the connection (`mode tcp`: the client reads
    /// EOF; the model's GOAWAY before the failed answer), so the client's next request opens a new
    /// one rather than meeting a reset.
    #[test]
    fn no_backend_closes_the_clients_connection() {
        let mut h = haproxy(Vec::new());
        let sent = request(&mut h, 1, false);
        assert!(matches!(
            sent[..],
            [
                (CLIENT, Msg::GoAway { id: 1 }),
                (
                    CLIENT,
                    Msg::ApiResp {
                        id: 1,
                        result: Err(ApiError::NoBackend)
                    }
                )
            ]
        ));
    }
}

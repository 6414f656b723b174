//! The TLS layer: kubeadm's certificates, when they expire, and the handshakes and client-certificate
//! checks that fail once they have (`expire-cert`, `renew-cert`).
//!
//! Like a partition, this is the world refusing a delivery: a request whose handshake fails is
//! answered with [`Msg::TlsFailed`] (the sender sees an error at once, not silence); a peer message
//! (Raft) is dropped, as rafthttp cannot dial. The check reads no component's state: which process
//! presents which certificate follows from the process kinds (kubeadm's layout), and a certificate
//! is judged on the verifying node's wall clock (`world/clock.rs`), so a node whose clock is ahead
//! sees a certificate expire early, and one behind sees it late.
//!
//! What is checked when (the real rules, and the model's shortening of them):
//! - etcd's client port (kube-apiserver's `apiserver-etcd-client` against the member's
//!   `etcd-server`) and peer port (`etcd-peer`, mutual): at the TLS handshake only. Go's `crypto/tls`
//!   verifies certificates when a connection is set up, so an established gRPC connection or
//!   rafthttp stream outlives the certificate. The model has one connection per pair of process
//!   lives, so the handshake is taken at the later start of the two: a certificate that expires under
//!   running processes bites only when one of them restarts, as in the reported outages
//!   (kubernetes/apiserver#102: the API server "just started failing to start" weeks after the
//!   etcd certificate expired).
//! - kube-apiserver's serving certificate (`apiserver`): on every request (the model keeps no
//!   per-client TLS sessions; a client's connection through HAProxy is relayed in `mode tcp`, so its
//!   TLS session ends at the backend). HAProxy's health checks in kubeadm's example are
//!   `check verify none` (kubeadm docs/ha-considerations.md) and keep passing: a backend with an
//!   expired certificate stays UP and fails the clients balanced to it. Behind HAProxy the
//!   certificate is judged on the relayed client's clock (the TLS session is the client's).
//! - Client certificates towards kube-apiserver (`kubelet-client`, `controller-manager.conf`,
//!   `scheduler.conf`): on every request; kube-apiserver's x509 authenticator verifies the chain
//!   per request (k8s.io/apiserver pkg/authentication/request/x509) and answers 401 Unauthorized
//!   ("Unable to authenticate the request due to an error: x509: certificate has expired or is not
//!   yet valid", kubernetes/minikube#11966). Through a load balancer the model refuses the request
//!   at the load balancer, judged on that node's clock (every API server verifies the same way).
//!
//! Words each side logs, once per pair of processes until the certificates change: etcd's
//! `rejected connection from "..." (error "remote error: tls: bad certificate", ServerName "")`
//! (etcd-io/etcd#11770) or `(error "tls: failed to verify client certificate: x509: certificate has
//! expired or is not yet valid ...")` (etcd-io/etcd#15740); kube-apiserver's etcd client
//! `grpc: addrConn.createTransport failed to connect to {https://...:2379}. Err: connection error:
//! desc = "transport: authentication handshake failed: x509: certificate has expired or is not yet
//! valid ..."` (kubernetes/apiserver#102).

use super::World;
use crate::components::ctx::{IdSpace, ProcId};
use crate::components::msg::Msg;
use crate::engine::{fmt_duration, Nanos};
use crate::net::NodeId;
use crate::observe::TraceKind;
use crate::scenario::cert_clock::{CertName, CertSet, CERT_VALIDITY_NS};
use crate::topology::ProcKind;

/// Every node's certificates: when each expires (`notAfter`, in true time).
#[derive(Clone, Debug)]
pub struct Certs {
    not_after: Vec<[Nanos; CertName::ALL.len()]>,
    /// Set once a certificate or a wall clock changed: until then no check can fail (the fast path).
    pub(crate) watch: bool,
    /// Pairs already narrated since the certificates last changed.
    told: std::collections::BTreeSet<(ProcId, ProcId, TlsFailure)>,
}

impl Certs {
    /// kubeadm's certificates on `nodes` nodes, issued at the start of the run.
    pub fn new(nodes: usize) -> Certs {
        Certs {
            not_after: vec![[CERT_VALIDITY_NS; CertName::ALL.len()]; nodes],
            watch: false,
            told: Default::default(),
        }
    }

    /// Sets the expiry of `certs` on node `n`.
    fn set(&mut self, n: NodeId, certs: CertSet, not_after: Nanos) {
        for c in certs.iter() {
            self.not_after[n as usize][c as usize] = not_after;
        }
        self.watch = true;
        self.told.clear();
    }
}

/// Why a handshake or a certificate check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsFailure {
    /// The server's certificate is expired on the client's clock: the client aborts the handshake.
    ServerCert(CertName),
    /// The client's certificate is expired on the server's clock: the server aborts the handshake.
    ClientCert(CertName),
    /// The client's certificate is expired on kube-apiserver's clock: 401 Unauthorized.
    Unauthorized(CertName),
}

impl World {
    /// Whether `cert` of node `holder` is valid on node `verifier`'s wall clock at true time `at_ns`.
    fn cert_valid(&self, holder: NodeId, cert: CertName, verifier: NodeId, at_ns: Nanos) -> bool {
        let not_after = self.certs.not_after[holder as usize][cert as usize];
        self.clocks[verifier as usize].wall(at_ns) < not_after as i128
    }

    /// The client certificate a process presents to kube-apiserver for request `id`, if it is one of
    /// kubeadm's (the load generator's users and in-cluster pods have their own).
    fn api_client_cert(&self, from: ProcId, id: u64) -> Option<CertName> {
        match self.layout.procs[from as usize].kind {
            // Requests a kubelet relays for pods (kube-proxy) carry the pod's own TLS session.
            ProcKind::Kubelet if IdSpace::of(id) == IdSpace::Process => {
                Some(CertName::KubeletClient)
            }
            ProcKind::ControllerManager => Some(CertName::ControllerManagerConf),
            ProcKind::Scheduler => Some(CertName::SchedulerConf),
            ProcKind::Kubelet
            | ProcKind::Etcd
            | ProcKind::ApiServer
            | ProcKind::Haproxy
            | ProcKind::Keepalived
            | ProcKind::Client
            | ProcKind::Informers => None,
        }
    }

    /// The TLS check of one message from `from` to `to` as it arrives.
    pub(super) fn tls_check(&self, from: ProcId, to: ProcId, msg: &Msg) -> Option<TlsFailure> {
        let (fp, tp) = (&self.procs[from as usize], &self.procs[to as usize]);
        let (fnode, tnode) = (fp.node, tp.node);
        let to_kind = self.layout.procs[to as usize].kind;
        // The handshake of the connection of these two lives: when the later one started.
        let handshake_ns = fp.started_ns.max(tp.started_ns);
        match msg {
            Msg::Raft(_) | Msg::Forward(_) => {
                let cert = CertName::EtcdPeer;
                if !self.cert_valid(fnode, cert, tnode, handshake_ns) {
                    return Some(TlsFailure::ClientCert(cert));
                }
                if !self.cert_valid(tnode, cert, fnode, handshake_ns) {
                    return Some(TlsFailure::ServerCert(cert));
                }
                None
            }
            Msg::EtcdReq { .. } | Msg::EtcdPing { .. } if to_kind == ProcKind::Etcd => {
                if !self.cert_valid(tnode, CertName::EtcdServer, fnode, handshake_ns) {
                    return Some(TlsFailure::ServerCert(CertName::EtcdServer));
                }
                let client = CertName::ApiserverEtcdClient;
                let from_apiserver = self.layout.procs[from as usize].kind == ProcKind::ApiServer;
                if from_apiserver && !self.cert_valid(fnode, client, tnode, handshake_ns) {
                    return Some(TlsFailure::ClientCert(client));
                }
                None
            }
            Msg::ApiReq { id, .. } | Msg::ApiPing { id, .. } | Msg::ProxyReq { id, .. } => {
                let now = self.now;
                let client = self.procs[tls_client(from, msg) as usize].node;
                if to_kind == ProcKind::ApiServer
                    && !self.cert_valid(tnode, CertName::Apiserver, client, now)
                {
                    return Some(TlsFailure::ServerCert(CertName::Apiserver));
                }
                let authenticated = matches!(msg, Msg::ApiReq { .. })
                    && matches!(to_kind, ProcKind::ApiServer | ProcKind::Haproxy);
                match self.api_client_cert(from, *id) {
                    Some(c) if authenticated && !self.cert_valid(fnode, c, tnode, now) => {
                        Some(TlsFailure::Unauthorized(c))
                    }
                    Some(_) | None => None,
                }
            }
            Msg::EtcdReq { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::HealthReq { .. }
            | Msg::HealthResp { .. }
            | Msg::ConnRefused { .. }
            | Msg::TlsFailed { .. }
            | Msg::WatchEvent { .. }
            | Msg::Vrrp { .. } => None,
        }
    }

    /// Refuses a delivery that failed its TLS check: a request is answered with the error, a peer
    /// message is dropped; both sides log it once per pair until the certificates change.
    pub(super) fn tls_refuse(&mut self, from: ProcId, to: ProcId, msg: &Msg, why: TlsFailure) {
        let client = tls_client(from, msg);
        if self.certs.told.insert((client, to, why)) {
            let (server, client_text) = self.tls_words(from, client, to, why);
            if let Some(text) = server {
                self.record(TraceKind::Log { proc: to, text });
            }
            if let Some(text) = client_text {
                self.record(TraceKind::Log { proc: client, text });
            }
        }
        if let Some(id) = msg.request_id() {
            self.send_raw(to, from, Msg::TlsFailed { id });
        }
    }

    /// What the server (`to`) and the client log for a failed check, in their own words: `from`
    /// sent the message (the server sees its address), `client` holds the TLS session (the same
    /// process, or the one HAProxy relays).
    fn tls_words(
        &self,
        from: ProcId,
        client: ProcId,
        to: ProcId,
        why: TlsFailure,
    ) -> (Option<String>, Option<String>) {
        let node = |p: ProcId| &self.layout.nodes[self.procs[p as usize].node as usize].name;
        let (fnode, tnode) = (node(from), node(to));
        let tname = &self.layout.procs[to as usize].name;
        let port = 40000 + from as u32;
        let expired = |holder: ProcId, verifier: ProcId, c: CertName| {
            let h = self.procs[holder as usize].node as usize;
            let v = self.procs[verifier as usize].node as usize;
            let wall = Nanos::try_from(self.clocks[v].wall(self.now).max(0)).unwrap_or(Nanos::MAX);
            format!(
                "x509: certificate has expired or is not yet valid: current time t={} is after t={}",
                fmt_duration(wall),
                fmt_duration(self.certs.not_after[h][c as usize])
            )
        };
        match why {
            TlsFailure::ServerCert(c @ CertName::EtcdPeer) => (
                Some(format!("embed: rejected connection from \"{fnode}:{port}\" (error \"remote error: tls: bad certificate\", ServerName \"\")")),
                Some(format!("rafthttp: failed to dial {tname} on stream Message ({})", expired(to, from, c))),
            ),
            TlsFailure::ClientCert(c @ CertName::EtcdPeer) => (
                Some(format!("embed: rejected connection from \"{fnode}:{port}\" (error \"tls: failed to verify client certificate: {}\", ServerName \"\")", expired(from, to, c))),
                Some(format!("rafthttp: failed to dial {tname} on stream Message (remote error: tls: bad certificate)")),
            ),
            TlsFailure::ServerCert(c @ CertName::EtcdServer) => (
                Some(format!("embed: rejected connection from \"{fnode}:{port}\" (error \"remote error: tls: bad certificate\", ServerName \"\")")),
                Some(format!("grpc: addrConn.createTransport failed to connect to {{https://{tnode}:2379}}. Err: connection error: desc = \"transport: authentication handshake failed: {}\". Reconnecting...", expired(to, from, c))),
            ),
            TlsFailure::ClientCert(c) => (
                Some(format!("embed: rejected connection from \"{fnode}:{port}\" (error \"tls: failed to verify client certificate: {}\", ServerName \"\")", expired(from, to, c))),
                Some(format!("grpc: addrConn.createTransport failed to connect to {{https://{tnode}:2379}}. Err: connection error: desc = \"transport: authentication handshake failed: remote error: tls: bad certificate\". Reconnecting...")),
            ),
            TlsFailure::ServerCert(c) => (
                Some(format!("http: TLS handshake error from {fnode}:{port}: remote error: tls: bad certificate")),
                self.api_client_words(client, &format!("Get \"https://{tnode}:6443/\": tls: failed to verify certificate: {}", expired(to, client, c))),
            ),
            TlsFailure::Unauthorized(c) => (
                (self.layout.procs[to as usize].kind == ProcKind::ApiServer).then(|| format!(
                    "authentication.go: \"Unable to authenticate the request\" err=\"[{}]\"",
                    expired(from, to, c)
                )),
                self.api_client_words(from, "Unauthorized"),
            ),
        }
    }

    /// How an API client logs a failed request (`err` is the error text); HAProxy, which relays
    /// in `mode tcp`, logs nothing.
    fn api_client_words(&self, from: ProcId, err: &str) -> Option<String> {
        Some(match self.layout.procs[from as usize].kind {
            ProcKind::Kubelet => format!(
                "\"Failed to update lease\" err=\"{}\"",
                err.replace('"', "\\\"")
            ),
            ProcKind::ControllerManager => format!(
                "leaderelection.go: error retrieving resource lock kube-system/kube-controller-manager: {err}"
            ),
            ProcKind::Scheduler => format!(
                "leaderelection.go: error retrieving resource lock kube-system/kube-scheduler: {err}"
            ),
            ProcKind::Client => format!("Unable to connect to the server: {err}"),
            ProcKind::Informers => format!("reflector.go: failed to list: {err}"),
            ProcKind::Haproxy | ProcKind::Etcd | ProcKind::ApiServer | ProcKind::Keepalived => {
                return None
            }
        })
    }

    /// `expire-cert`: the certificates of `nodes` expire now.
    pub(super) fn expire_certs(&mut self, nodes: &[NodeId], certs: CertSet) {
        let names = cert_names(certs);
        for &n in nodes {
            self.certs.set(n, certs, self.now);
            let client = crate::engine::id16(self.procs.len() - 1);
            let node = self.layout.nodes[n as usize].name.clone();
            self.record(TraceKind::Log {
                proc: client,
                text: format!(
                    "{node}: certificate {names} expired (kubeadm certs check-expiration: RESIDUAL TIME <invalid>)"
                ),
            });
        }
    }

    /// `renew-cert` (and the end of an `expire-cert`): `kubeadm certs renew` gives the certificates
    /// another year, then what uses them is restarted, as kubeadm's docs say ("you must restart the
    /// control plane Pods", since not every component reloads certificates; the kubelet by
    /// `systemctl restart kubelet`). Only running processes are restarted: one that is down starts
    /// with the new certificate anyway.
    pub(super) fn renew_certs(&mut self, nodes: &[NodeId], certs: CertSet) {
        let names = cert_names(certs);
        for &n in nodes {
            self.certs
                .set(n, certs, self.now.saturating_add(CERT_VALIDITY_NS));
            let node = self.layout.nodes[n as usize].name.clone();
            let client = crate::engine::id16(self.procs.len() - 1);
            self.record(TraceKind::Log {
                proc: client,
                text: format!("{node}: kubeadm certs renew {names}: certificate renewed; restarting what uses it"),
            });
            let users: Vec<ProcId> = (0..self.procs.len())
                .filter(|&p| self.procs[p].node == n && self.procs[p].alive)
                .filter(|&p| {
                    certs
                        .iter()
                        .any(|c| c.holder() == Some(self.layout.procs[p].kind))
                })
                .map(crate::engine::id16)
                .collect();
            for p in users {
                self.crash_proc(p);
                self.start_proc(p);
            }
        }
    }
}

/// The process holding the TLS session of a message: its sender, or behind HAProxy (`mode tcp`)
/// the client whose connection it relays.
fn tls_client(from: ProcId, msg: &Msg) -> ProcId {
    match msg {
        Msg::ProxyReq { origin, .. } => *origin,
        Msg::Raft(_)
        | Msg::Forward(_)
        | Msg::EtcdReq { .. }
        | Msg::EtcdResp { .. }
        | Msg::EtcdPing { .. }
        | Msg::EtcdPong { .. }
        | Msg::ApiReq { .. }
        | Msg::ApiPing { .. }
        | Msg::ApiPong { .. }
        | Msg::GoAway { .. }
        | Msg::ProxyAccepted { .. }
        | Msg::ApiResp { .. }
        | Msg::HealthReq { .. }
        | Msg::HealthResp { .. }
        | Msg::ConnRefused { .. }
        | Msg::TlsFailed { .. }
        | Msg::WatchEvent { .. }
        | Msg::Vrrp { .. } => from,
    }
}

/// `apiserver, etcd-peer` for a set.
fn cert_names(certs: CertSet) -> String {
    certs
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

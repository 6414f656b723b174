//! Everything that travels the simulated network. Requests carry an id that the answer echoes, so a
//! component matches answers to what it asked without reading anyone's state.

use super::ctx::ProcId;
use super::etcd::types::{EntryData, RaftMsg};
use crate::engine::{Nanos, SEC};
use crate::net::Transport;

/// client-go's dial timeout (`net.Dialer{Timeout: 30 * time.Second}`, k8s.io/client-go/transport/
/// cache.go): a connection whose handshake has not completed by then fails.
pub const CLIENT_GO_DIAL_TIMEOUT_NS: Nanos = 30 * SEC;

/// etcd's peer streams (rafthttp) give up on a connection that carried nothing for
/// `ConnReadTimeout` = 5 s ("good enough for recycling bad connections", server/etcdserver/api/
/// rafthttp/peer.go): the stream round tripper and the peer listener set it as a read deadline
/// (util.go), and the stream writer sends a link heartbeat every `ConnReadTimeout / 3` (stream.go), so
/// only a stall trips it. The reader then dials again after its rate limiter's wait
/// (`streamReader.run`, stream.go) and the writer falls back to the pipeline meanwhile, which the model
/// shortens to: what was sent on the closed connection is lost, later messages go over a new one.
pub const RAFTHTTP_CONN_READ_TIMEOUT_NS: Nanos = 5 * SEC;

/// A key in etcd. The high byte is the object kind (see [`keys`]), the rest the object's id.
pub type Key = u64;

/// Key layout of the objects the model stores (as the API server stores them under /registry).
pub mod keys {
    use super::Key;
    /// Plain keys written by the load generator.
    pub const DATA: u64 = 1;
    /// coordination.k8s.io Leases in kube-system (leader election).
    pub const LEADER_LEASE: u64 = 2;
    /// Node heartbeat Leases in kube-node-lease.
    pub const NODE_LEASE: u64 = 3;
    /// Node objects (status, taints).
    pub const NODE: u64 = 4;
    /// Pods.
    pub const POD: u64 = 5;
    /// Node status as the kubelet posts it (conditions, capacity).
    pub const NODE_STATUS: u64 = 6;
    /// EndpointSlice endpoints of the workloads' Services, one key per pod (by uid).
    pub const ENDPOINT: u64 = 7;
    /// The API servers' leases in `/registry/masterleases/` (by API server ordinal); the value is the
    /// lease's expiry in milliseconds of the run (etcd's TTL on it).
    pub const MASTER_LEASE: u64 = 8;
    /// The `kubernetes` Service's Endpoints in `default` (id 0): a bit per API server ordinal, plus
    /// bit 63 so that an empty set is still a stored value.
    pub const API_ENDPOINTS: u64 = 9;
    /// The objects the scenario's informers list and watch (`load.informers`: an operator's custom
    /// resources, say). The model's etcd holds none of them; the API server knows their number
    /// (`load.informers.objects`) and charges a LIST of them as if it returned that many.
    pub const INFORMED: u64 = 10;
    /// The key of object `id` of `kind`.
    pub fn key(kind: u64, id: u64) -> Key {
        (kind << 56) | (id & ((1 << 56) - 1))
    }
    /// The kind of a key.
    pub fn kind_of(k: Key) -> u64 {
        k >> 56
    }
    /// The id of a key.
    pub fn id_of(k: Key) -> u64 {
        k & ((1 << 56) - 1)
    }
    /// The 16-bit id (a node's or a workload's) a per-object key was made from.
    pub fn id16_of(k: Key) -> u16 {
        crate::engine::id16(crate::engine::usize_from(id_of(k)))
    }
    /// What a kube-proxy watches: the workloads' endpoints, the API servers' leases (which it is
    /// not shown) and the `kubernetes` Service's endpoints, adjacent kinds. The API server's watch
    /// cache holds this range.
    pub const PROXY_WATCHED: (Key, Key) = (range(ENDPOINT).0, range(API_ENDPOINTS).1);
    /// The key range `[start, end)` of one kind.
    pub const fn range(kind: u64) -> (Key, Key) {
        (kind << 56, (kind + 1) << 56)
    }
}

/// An operation on the key-value store. Values are opaque 64-bit words (objects are packed into them);
/// a value of 0 is a deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Put, optionally only if the key's mod revision equals `expected_rev` (0: key must not exist).
    Put {
        key: Key,
        value: u64,
        expected_rev: Option<u64>,
        write_id: u64,
    },
    /// A linearizable (or serializable) read of one key.
    Get { key: Key, linearizable: bool },
    /// A linearizable read of a key range `[start, end)`.
    Range { start: Key, end: Key },
    /// A WATCH of a key range `[start, end)`, held open until the connection breaks or the server
    /// stops. To the API server: a Kubernetes watch, served from its watch cache; `node` is a
    /// kubelet's field selector (`spec.nodeName`) on pods. To an etcd member: the API server's
    /// own watch that fills that cache (`node` is then None). Changes come as [`Msg::WatchEvent`].
    Watch {
        start: Key,
        end: Key,
        node: Option<u16>,
    },
}

impl KvOp {
    /// True for writes.
    pub fn is_write(&self) -> bool {
        matches!(self, KvOp::Put { .. })
    }
}

/// A key's value and the revision that last modified it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Key,
    pub value: u64,
    pub mod_rev: u64,
}

/// The successful result of a [`KvOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvResult {
    /// A write committed at this log position and store revision.
    Written { index: u64, term: u64, rev: u64 },
    /// One key (None: absent).
    Value(Option<KeyValue>),
    /// A range. Shared: an etcd member hands the same answer to every reader until a write lands
    /// in the range, so a thousand kube-proxies listing one table hold one copy.
    Values(std::sync::Arc<[KeyValue]>),
}

/// etcd errors, as etcd names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtcdError {
    /// "etcdserver: request timed out".
    Timeout,
    /// "etcdserver: no leader".
    NoLeader,
    /// "etcdserver: leader changed".
    LeaderChanged,
    /// A compare-and-swap precondition failed (the API server's 409 Conflict).
    Conflict,
    /// The client could not reach any member (connection refused / timed out).
    Unavailable,
    /// The backend is over its quota (the NOSPACE alarm): Puts are refused.
    NoSpace,
}

impl EtcdError {
    /// The error text etcd or the client would log.
    pub fn text(self) -> &'static str {
        match self {
            EtcdError::Timeout => "etcdserver: request timed out",
            EtcdError::NoLeader => "etcdserver: no leader",
            EtcdError::LeaderChanged => "etcdserver: leader changed",
            EtcdError::Conflict => "etcdserver: compare failed",
            EtcdError::Unavailable => "etcdclient: no available endpoint",
            EtcdError::NoSpace => "etcdserver: mvcc: database space exceeded",
        }
    }
}

/// One of a client's API connections: which of its concurrent connections (`stream`; an informers
/// process holds one per informer, every other client one, stream 0) and that connection's number
/// (`generation`: a closed connection's successor has the next number). HAProxy in `mode tcp` keeps
/// one backend per (client, stream) and sends every request of a generation there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConnId {
    pub stream: u16,
    pub generation: u32,
    /// The connection was already open when this request was sent on it (it is not the request
    /// that opened it): a host that does not have the connection answers it with a reset, as the
    /// new VIP holder's kernel answers a segment of a connection made to the old one.
    pub continues: bool,
}

impl ConnId {
    /// Whether two requests ride the same connection.
    pub fn same(&self, other: &ConnId) -> bool {
        self.stream == other.stream && self.generation == other.generation
    }
}

/// The answer an API request gets (an HTTP status in the real system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// 409: optimistic-concurrency conflict.
    Conflict,
    /// 500/504: etcd failed or timed out behind the API server.
    Storage(EtcdError),
    /// 503: the API server is not serving yet (starting) or shutting down.
    NotReady,
    /// 503 from the load balancer: no backend available.
    NoBackend,
    /// 429 Too Many Requests with `Retry-After: 1`: API Priority and Fairness (or the max-in-flight
    /// filter) had no seat and no queue room, or the request waited in its queue too long.
    TooManyRequests,
}

pub use super::apf::ApiUser;
pub use crate::scenario::model::HealthPath;

/// A message on the simulated network.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Between etcd members (peer port 2380).
    Raft(RaftMsg),
    /// A follower forwards a proposal to the leader (etcd's MsgProp).
    Forward(EntryData),
    /// An etcd client request (client port 2379), on the client's connection number `conn` to that
    /// member.
    EtcdReq { id: u64, op: KvOp, conn: u32 },
    /// The answer to an etcd request.
    EtcdResp {
        id: u64,
        result: Result<KvResult, EtcdError>,
    },
    /// An etcd client keepalive ping (gRPC HTTP/2 PING) on connection `conn`, or (`syn`) a
    /// connection attempt's handshake, whose SYN retransmissions the sender times itself.
    EtcdPing { id: u64, conn: u32, syn: bool },
    /// The ping's answer.
    EtcdPong { id: u64 },
    /// A Kubernetes API request (port 6443), directly or through a load balancer, on the client's
    /// connection number `conn` (a load balancer in `mode tcp` sends every request of one connection
    /// to the same backend).
    ApiReq {
        id: u64,
        op: KvOp,
        conn: ConnId,
        user: ApiUser,
    },
    /// An HTTP/2 PING on the client's connection `conn` (client-go's connection health check).
    ApiPing { id: u64, conn: ConnId },
    /// The PING's answer.
    ApiPong { id: u64 },
    /// HTTP/2 GOAWAY sent with the answer to request `id` (`--goaway-chance`): the client finishes
    /// what is in flight and opens a new connection for its next request.
    GoAway { id: u64 },
    /// An API request relayed by HAProxy to a backend; the backend's kernel answers the TCP handshake
    /// with [`Msg::ProxyAccepted`] before the request is served, so the proxy can tell a dead backend
    /// (connect timeout) from a slow one.
    ProxyReq {
        id: u64,
        op: KvOp,
        user: ApiUser,
        /// The client whose connection this is (its source address, as the PROXY protocol would
        /// carry it). In `mode tcp` the TLS session is that client's with the backend; only the
        /// world's TLS layer reads it, to judge the backend's certificate on the client's clock.
        origin: ProcId,
        /// The client's connection: HAProxy in `mode tcp` opens one server-side connection per
        /// client connection, so the network keeps each its own TCP stream.
        conn: ConnId,
    },
    /// The TCP handshake of a relayed request completed.
    ProxyAccepted { id: u64 },
    /// The answer to an API request.
    ApiResp {
        id: u64,
        result: Result<KvResult, ApiError>,
    },
    /// A health probe (`/healthz`, `/livez`, `/readyz`).
    HealthReq { id: u64, path: HealthPath },
    /// The probe's answer (HTTP 200 or 500).
    HealthResp { id: u64, ok: bool },
    /// TCP RST: the host is up but nothing listens (the process is down or was restarted).
    ConnRefused { id: u64 },
    /// The request's TLS handshake or client-certificate check failed (an expired certificate, see
    /// `world/tls.rs`): the connection is closed with an error the sender sees at once. Senders
    /// treat it as a closed connection; the words each side logs are recorded by the TLS layer.
    TlsFailed { id: u64 },
    /// A VRRP advertisement from a keepalived instance.
    Vrrp { priority: u32 },
    /// Watch `id` saw its range change: from an etcd member to the API server that watches it, and
    /// from the API server to its watchers (relayed by HAProxy like any frame of the connection).
    /// It carries the whole current range, as the member shares it; what a real watch sends is
    /// only the changed objects, and that is what a receiver derives and is charged for.
    WatchEvent {
        id: u64,
        values: std::sync::Arc<[KeyValue]>,
        /// The sender's store revision when it sent the range: a cache that moves its watch to
        /// another member (which may have applied less) keeps the newer view, as etcd's watch
        /// resumes from the revision after the last one it delivered.
        rev: u64,
    },
}

impl Msg {
    /// For a process that only sends API requests (a leader-elected controller, a kubelet): the answer
    /// to one of them, as (request id, `Some(result)` or `None` for a connection reset). None for any
    /// other message: nothing else is sent to such a process.
    pub fn into_api_answer(self) -> Option<(u64, Option<Result<KvResult, ApiError>>)> {
        match self {
            Msg::ApiResp { id, result } => Some((id, Some(result))),
            Msg::ConnRefused { id } | Msg::TlsFailed { id } => Some((id, None)),
            Msg::ApiPing { .. } | Msg::ApiPong { .. } | Msg::GoAway { .. } => None,
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiReq { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::HealthReq { .. }
            | Msg::HealthResp { .. }
            | Msg::WatchEvent { .. }
            | Msg::Vrrp { .. } => None,
        }
    }

    /// The request id if this message opens a request that expects an answer; a request to a dead
    /// process on a live host is answered by the host's kernel with [`Msg::ConnRefused`].
    pub fn request_id(&self) -> Option<u64> {
        match self {
            Msg::EtcdReq { id, .. }
            | Msg::EtcdPing { id, .. }
            | Msg::ApiReq { id, .. }
            | Msg::ApiPing { id, .. }
            | Msg::ProxyReq { id, .. }
            | Msg::HealthReq { id, .. } => Some(*id),
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdResp { .. }
            | Msg::EtcdPong { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::HealthResp { .. }
            | Msg::ConnRefused { .. }
            | Msg::TlsFailed { .. }
            | Msg::WatchEvent { .. }
            | Msg::Vrrp { .. } => None,
        }
    }

    /// True for answers, which are dropped if their requester restarted meanwhile.
    pub fn is_response(&self) -> bool {
        match self {
            Msg::EtcdResp { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiResp { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::HealthResp { .. }
            | Msg::ConnRefused { .. }
            | Msg::TlsFailed { .. }
            | Msg::WatchEvent { .. }
            | Msg::ProxyAccepted { .. } => true,
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdPing { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ProxyReq { .. }
            | Msg::HealthReq { .. }
            | Msg::Vrrp { .. } => false,
        }
    }

    /// Which of the TCP connections between two process lives carries this message, for the
    /// network's in-order delivery ([`crate::net::StreamId::conn`]): a client's API connection as the
    /// request names it (and, relayed by HAProxy, that client's server-side connection), so a
    /// connection the client closed and replaced does not hold up the new one. 0 for everything else:
    /// one connection per pair of process lives (etcd peers and clients, health checks, answers).
    pub fn conn_key(&self) -> u64 {
        let key = |c: &ConnId| (u64::from(c.stream) << 32) | u64::from(c.generation);
        match self {
            Msg::ApiReq { conn, .. } | Msg::ApiPing { conn, .. } => 1 + key(conn),
            Msg::ProxyReq { origin, conn, .. } => {
                (1 << 63) | (u64::from(*origin) << 48) | key(conn)
            }
            Msg::EtcdReq { conn, .. } | Msg::EtcdPing { conn, .. } => 1 + u64::from(*conn),
            Msg::Raft(_)
            | Msg::Forward(_)
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
            | Msg::Vrrp { .. } => 0,
        }
    }

    /// How the message travels, which decides what loss does to it (see `net`): everything rides a
    /// TCP connection (etcd's peer streams, gRPC and HTTP/2 clients, HAProxy's proxied connections and
    /// health checks, and the RST that refuses one) except keepalived's VRRP adverts, which are IP
    /// datagrams (protocol 112, RFC 5798 section 5.1). etcd's peer streams carry a read deadline.
    pub fn transport(&self) -> Transport {
        match self {
            Msg::Raft(_) | Msg::Forward(_) => Transport::Tcp {
                read_timeout_ns: Some(RAFTHTTP_CONN_READ_TIMEOUT_NS),
            },
            // A client's request on a connection it has not used yet opens it (client-go's dialer:
            // `net.Dialer{Timeout: 30 * time.Second}`, k8s.io/client-go/transport/cache.go).
            Msg::ApiReq { conn, .. } if !conn.continues => Transport::Dial {
                timeout_ns: CLIENT_GO_DIAL_TIMEOUT_NS,
            },
            // A handshake the sender retransmits itself: one that is lost is gone.
            Msg::EtcdPing { syn: true, .. } => Transport::Datagram,
            Msg::EtcdReq { .. }
            | Msg::EtcdResp { .. }
            | Msg::EtcdPing { .. }
            | Msg::EtcdPong { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::HealthReq { .. }
            | Msg::HealthResp { .. }
            | Msg::ConnRefused { .. }
            | Msg::WatchEvent { .. }
            | Msg::TlsFailed { .. } => Transport::Tcp {
                read_timeout_ns: None,
            },
            Msg::Vrrp { .. } => Transport::Datagram,
        }
    }
}

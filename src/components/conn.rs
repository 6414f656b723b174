//! A client's connection to the Kubernetes API, as client-go holds it: one long-lived HTTP/2
//! connection per process (requests are streams on it), or a new connection per request (a `kubectl`
//! invocation). Through HAProxy in `mode tcp` (kubeadm's HA guide) the connection, not the request, is
//! balanced: every request of a connection goes to the backend chosen when it was opened, and HAProxy
//! does not close established sessions when it marks that backend DOWN.
//!
//! What closes a long-lived connection, so that the next request opens a new one:
//! - the HTTP/2 health check (k/k PR #95981, `ReadIdleTimeout` 30 s, `PingTimeout` 15 s in
//!   k8s.io/client-go/transport): when no frame has been read for 30 s a PING is sent, and without its
//!   answer within 15 s the connection is closed, failing the requests on it;
//! - a reset from the far end (the backend's host answers a packet for a connection it no longer
//!   has, or HAProxy no longer knows the session);
//! - the owner itself (the kubelet's `closeAllConns` after repeated lease update failures).
//!
//! A request that times out does not close the connection: a client pinned to a silently dead
//! backend fails until the health check gives up on it, about 45 s.

use crate::components::ctx::{Ctx, IdGen, Timer};
use crate::components::msg::{ConnId, Msg};
use crate::engine::{Nanos, SEC};

/// `ReadIdleTimeout` of client-go's HTTP/2 transport (k/k PR #95981).
pub const READ_IDLE_NS: Nanos = 30 * SEC;
/// `PingTimeout` of client-go's HTTP/2 transport (k/k PR #95981).
pub const PING_TIMEOUT_NS: Nanos = 15 * SEC;

/// The connection's timers, wrapped in the owner's timer enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnTimer {
    /// Time to check whether the connection has been read-idle for `READ_IDLE_NS`.
    ReadIdle { generation: u32 },
    /// The PING with this id got no answer in time.
    Ping { id: u64 },
}

/// What the owner must do after a connection event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEvent {
    /// Nothing.
    None,
    /// The connection closed: fail the requests still waiting on it.
    Closed,
}

/// One client's API connection.
#[derive(Clone, Debug)]
pub struct ApiConn {
    long_lived: bool,
    /// Which of the owner's concurrent connections this is (0 unless it holds several).
    stream: u16,
    /// The connection's number: the next request opens connection `generation + 1` if this one closed.
    generation: u32,
    /// When a frame was last read on the connection.
    last_read_ns: Nanos,
    /// The PING in flight.
    ping: Option<u64>,
    /// A health-check timer is armed for this generation.
    armed: Option<u32>,
}

impl ApiConn {
    /// A connection of the given kind (none opened yet).
    pub fn new(long_lived: bool) -> ApiConn {
        ApiConn::with_stream(long_lived, 0)
    }

    /// One of several concurrent connections of one owner (an informer's, among its process's).
    pub fn with_stream(long_lived: bool, stream: u16) -> ApiConn {
        ApiConn {
            long_lived,
            stream,
            generation: 0,
            last_read_ns: 0,
            ping: None,
            armed: None,
        }
    }

    /// Whether it is held across requests.
    pub fn long_lived(&self) -> bool {
        self.long_lived
    }

    /// The owner (re)starts: whatever connection it had died with the process.
    pub fn restart(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.ping = None;
        self.armed = None;
    }

    /// The connection a request goes on: a new one per request unless long-lived. Arms the health
    /// check of a long-lived connection.
    pub fn for_request<T: From<ConnTimer> + Into<Timer>>(&mut self, ctx: &mut Ctx) -> ConnId {
        self.for_request_with(ctx, |t| T::from(t).into())
    }

    /// [`ApiConn::for_request`] for an owner whose timer names the connection (`wrap` turns the
    /// connection's timer into the owner's).
    pub fn for_request_with(&mut self, ctx: &mut Ctx, wrap: impl Fn(ConnTimer) -> Timer) -> ConnId {
        if !self.long_lived {
            self.generation = self.generation.wrapping_add(1);
            return self.id();
        }
        let continues = self.armed == Some(self.generation);
        if !continues {
            // A new connection: nothing read on it yet, so its idle clock starts now.
            self.armed = Some(self.generation);
            self.last_read_ns = ctx.now;
            ctx.timer(
                READ_IDLE_NS,
                wrap(ConnTimer::ReadIdle {
                    generation: self.generation,
                }),
            );
        }
        ConnId {
            continues,
            ..self.id()
        }
    }

    /// The current connection's id.
    pub fn id(&self) -> ConnId {
        ConnId {
            stream: self.stream,
            generation: self.generation,
            continues: false,
        }
    }

    /// The id of the PING in flight, if one is.
    pub fn ping_in_flight(&self) -> Option<u64> {
        self.ping
    }

    /// A frame arrived on the connection (any answer, including an error status).
    pub fn read(&mut self, now: Nanos) {
        self.last_read_ns = now;
    }

    /// An answer to the PING `id`: true if it was this connection's.
    pub fn pong(&mut self, id: u64, now: Nanos) -> bool {
        if self.ping == Some(id) {
            self.ping = None;
            self.last_read_ns = now;
            true
        } else {
            false
        }
    }

    /// Closes the connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.ping = None;
    }

    /// The health check's timers: sends the PING to `to` when the connection has been read-idle for
    /// 30 s, closes it when the PING goes unanswered for 15 s.
    pub fn on_timer<T: From<ConnTimer> + Into<Timer>>(
        &mut self,
        ctx: &mut Ctx,
        ids: &mut IdGen,
        to: crate::components::ctx::ProcId,
        t: ConnTimer,
    ) -> ConnEvent {
        self.on_timer_with(ctx, ids, to, t, |t| T::from(t).into())
    }

    /// [`ApiConn::on_timer`] for an owner whose timer names the connection.
    pub fn on_timer_with(
        &mut self,
        ctx: &mut Ctx,
        ids: &mut IdGen,
        to: crate::components::ctx::ProcId,
        t: ConnTimer,
        wrap: impl Fn(ConnTimer) -> Timer,
    ) -> ConnEvent {
        match t {
            ConnTimer::ReadIdle { generation } => {
                if generation != self.generation || self.armed != Some(generation) {
                    return ConnEvent::None;
                }
                let idle_until = self.last_read_ns + READ_IDLE_NS;
                if ctx.now < idle_until {
                    ctx.timer_at(idle_until, wrap(ConnTimer::ReadIdle { generation }));
                    return ConnEvent::None;
                }
                let id = ids.next_id();
                self.ping = Some(id);
                ctx.send(
                    to,
                    Msg::ApiPing {
                        id,
                        conn: self.id(),
                    },
                );
                ctx.timer(PING_TIMEOUT_NS, wrap(ConnTimer::Ping { id }));
                ctx.timer(READ_IDLE_NS, wrap(ConnTimer::ReadIdle { generation }));
                ConnEvent::None
            }
            ConnTimer::Ping { id } => {
                if self.ping != Some(id) {
                    return ConnEvent::None;
                }
                ctx.log(
                    "transport: \"health check failed\" err=\"http2: client connection lost\" (no PING ack in 15s); closing the connection".into(),
                );
                self.close();
                ConnEvent::Closed
            }
        }
    }
}

//! The simulated network: hosts placed in zones, one-way latency with jitter, loss, partitions,
//! isolation and degraded links. Nothing reaches or leaves a host that is down.
//!
//! Loss is modelled as TCP sees it. Every process talks to another over a TCP connection (etcd peers
//! over rafthttp streams, API and etcd clients over HTTP/2), so a lost segment is not a lost message:
//! the sender retransmits it after a retransmission timeout that doubles on every consecutive loss,
//! and the receiver hands nothing sent later on that connection to the application before it
//! (in-order delivery, so head-of-line blocking). See [`Network::transmit`]. Only VRRP adverts are
//! datagrams, lost outright. A partition or an isolation is loss until it heals: what crosses it is
//! retransmitted and gets through at the first retransmission after the heal. A message is lost only
//! when a host is down (the world's check), when TCP gives up on the connection, or when the
//! connection closes first (a read deadline, a dial timeout).

use crate::engine::rng::{stream, Rng};
use crate::engine::{Nanos, MS, SEC};
use rand::Rng as _;
use std::collections::BTreeMap;

/// The network's random streams, one per sending node: `stream(seed, SENDER_STREAMS | node)`. A
/// message's delay and loss are drawn from its sender's stream, so a message added on one node does not
/// shift the draws of every later message in the run.
pub const SENDER_STREAMS: u64 = 1 << 63;

/// Linux's floor on the retransmission timeout, `TCP_RTO_MIN` = HZ/5 = 200 ms (include/net/tcp.h).
/// Linux adds it to the smoothed round trip instead of RFC 6298's clock granularity G (see
/// [`Network::rto_ns`]), so on a LAN the first retransmission comes about 200 ms after the send.
pub const TCP_RTO_MIN_NS: Nanos = 200 * MS;

/// Linux's cap on the backed-off retransmission timeout, `TCP_RTO_MAX` = 120 s (include/net/tcp.h;
/// RFC 6298 section 2.5 allows a maximum of at least 60 s).
pub const TCP_RTO_MAX_NS: Nanos = 120 * SEC;

/// `net.ipv4.tcp_retries2` = 15 (Documentation/networking/ip-sysctl.rst): TCP retransmits a segment
/// 15 times and kills the connection at the 16th timeout (924.6 s after the send with a 200 ms RTO).
pub const TCP_RETRIES2: u32 = 15;

/// TCP's initial retransmission timeout, for a SYN: 1 s (RFC 6298 section 2.1; Linux
/// `TCP_TIMEOUT_INIT`, include/net/tcp.h). A SYN goes at 0, 1, 3, 7, 15, 31 s, ... (doubling).
pub const TCP_TIMEOUT_INIT_NS: Nanos = SEC;

/// `net.ipv4.tcp_syn_retries` = 6 (Documentation/networking/ip-sysctl.rst): a SYN is retransmitted 6
/// times, so a connection attempt fails after 127 s unless the client's dial timeout ends it first.
pub const TCP_SYN_RETRIES: u32 = 6;

/// Index of a node (host).
pub type NodeId = u16;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Over a TCP connection: retransmitted until it gets through, in order with the rest of its
    /// [`StreamId`]. With `read_timeout_ns`, the receiving application sets that read deadline on
    /// the connection and closes it when nothing has arrived for that long (a stall behind a
    /// retransmission): what was sent on it until then is lost, and later messages go over a new
    /// connection (see [`Network::in_order`]).
    Tcp { read_timeout_ns: Option<Nanos> },
    /// The first message of a new TCP connection, which rides its handshake: the SYN is retransmitted
    /// from TCP's initial RTO ([`TCP_TIMEOUT_INIT_NS`]), and the client gives the connection up after
    /// its dial timeout `timeout_ns`. Then the message is lost, and so is whatever the client sends on
    /// that connection until then (it learns of the failure only then).
    Dial { timeout_ns: Nanos },
    /// A datagram (VRRP, IP protocol 112, RFC 5798 section 5.1): a lost one is gone.
    Datagram,
}

/// One direction of one connection: what a sending endpoint sends a receiving one, in order. The
/// world uses processes and their incarnations (a restarted process opens new connections). Each
/// direction of a TCP connection is its own byte stream, so a stall one way does not hold up the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamId {
    pub from: u32,
    pub from_life: u32,
    pub to: u32,
    pub to_life: u32,
    /// Which connection between the two lives ([`crate::components::msg::Msg::conn_key`]): a
    /// client that closes a stalled connection sends its next request over a new one.
    pub conn: u64,
}

/// An active partition: the group of each node (`None`: in no group, unaffected).
#[derive(Clone, Debug)]
struct Partition {
    fault: u16,
    group_of: Vec<Option<u16>>,
    /// When the fault ends (`Nanos::MAX`: never), so TCP knows which retransmission gets through.
    until_ns: Nanos,
}

impl Partition {
    fn cuts(&self, a: NodeId, b: NodeId) -> bool {
        matches!((self.group_of[a as usize], self.group_of[b as usize]), (Some(x), Some(y)) if x != y)
    }
}

/// An active degraded link between two sets of nodes.
#[derive(Clone, Debug)]
struct Degrade {
    fault: u16,
    side_a: Vec<bool>,
    side_b: Vec<bool>,
    extra_latency_ns: Nanos,
    loss: f64,
    /// When the fault that degrades it ends (`Nanos::MAX`: never). A retransmission after it sees the
    /// healed link (see [`Network::link_at`]).
    until_ns: Nanos,
}

/// The base behaviour of every link (the scenario's `settings.network`).
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// One-way latency between processes on the same node.
    pub local_latency_ns: Nanos,
    /// One-way latency inside a zone.
    pub zone_latency_ns: Nanos,
    /// One-way latency across zones.
    pub cross_zone_latency_ns: Nanos,
    /// Jitter as a fraction of the latency, drawn uniformly in [0, jitter x latency].
    pub jitter: f64,
    /// Probability that a message between two nodes is lost.
    pub loss: f64,
}

/// Why a stream's next message cannot go through at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// It waits until the last message held back on the stream is delivered, at this time.
    Until(Nanos),
    /// The receiver's read deadline closes the connection at this time: a message sent on it before
    /// then is lost with it; one sent later goes over a new connection.
    Closing(Nanos),
}

impl Held {
    fn at_ns(self) -> Nanos {
        match self {
            Held::Until(t) | Held::Closing(t) => t,
        }
    }
}

/// The network between hosts.
#[derive(Clone)]
pub struct Network {
    zone_of: Vec<u16>,
    host_up: Vec<bool>,
    isolated: Vec<u32>,
    /// The isolations in force (the sum of `isolated`), so that [`Network::unpartitioned`], asked on
    /// every send, does not scan every host.
    isolations: u32,
    /// Per host, when the last isolation in force on it ends (`Nanos::MAX`: never).
    isolated_until: Vec<Nanos>,
    partitions: Vec<Partition>,
    degrades: Vec<Degrade>,
    local_latency_ns: Nanos,
    zone_latency_ns: Nanos,
    cross_zone_latency_ns: Nanos,
    jitter: f64,
    loss: f64,
    /// Per sending node.
    rngs: Vec<Rng>,
    /// The streams whose next message must wait (head-of-line blocking): when the last message held
    /// back on each is delivered. Only streams that had a retransmission are here, so a network without
    /// loss never touches it.
    held: BTreeMap<StreamId, Held>,
    /// The latest time in `held`: from then on nothing is held and `held` is cleared.
    held_until_ns: Nanos,
    /// `held` is swept of delivered entries when it grows past this.
    held_sweep_len: usize,
}

/// `held` is first swept when it has this many streams.
const HELD_SWEEP_MIN: usize = 64;

/// One TCP message on its way, for [`Network::in_order`].
#[derive(Clone, Copy, Debug)]
struct Sent {
    /// When the application sent it.
    now: Nanos,
    /// When the copy that got through arrives.
    arrive_ns: Nanos,
    /// That copy's one-way delay.
    latency_ns: Nanos,
    /// Whether it took a retransmission.
    retransmitted: bool,
}

impl Network {
    /// A network of hosts in the given zones, all up and connected; `seed` is the run's root seed.
    pub fn new(zone_of: Vec<u16>, settings: &LinkConfig, seed: u64) -> Network {
        let n = zone_of.len();
        let rngs = (0..n as u64)
            .map(|node| stream(seed, SENDER_STREAMS | node))
            .collect();
        Network {
            zone_of,
            host_up: vec![true; n],
            isolated: vec![0; n],
            isolations: 0,
            isolated_until: vec![0; n],
            partitions: Vec::new(),
            degrades: Vec::new(),
            local_latency_ns: settings.local_latency_ns,
            zone_latency_ns: settings.zone_latency_ns,
            cross_zone_latency_ns: settings.cross_zone_latency_ns,
            jitter: settings.jitter,
            loss: settings.loss,
            rngs,
            held: BTreeMap::new(),
            held_until_ns: 0,
            held_sweep_len: HELD_SWEEP_MIN,
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.zone_of.len()
    }

    /// The zone of a host.
    pub fn zone(&self, node: NodeId) -> u16 {
        self.zone_of[node as usize]
    }

    /// Whether the host is powered and running.
    pub fn host_up(&self, node: NodeId) -> bool {
        self.host_up[node as usize]
    }

    /// Powers a host down or up.
    pub fn set_host_up(&mut self, node: NodeId, up: bool) {
        self.host_up[node as usize] = up;
    }

    /// Whether traffic between two hosts is cut (by a partition or an isolation). Both hosts must also
    /// be up for anything to pass; that is checked separately.
    pub fn blocked(&self, a: NodeId, b: NodeId) -> bool {
        if a == b {
            return false;
        }
        if self.isolated[a as usize] > 0 || self.isolated[b as usize] > 0 {
            return true;
        }
        self.partitions.iter().any(|p| p.cuts(a, b))
    }

    /// Whether a partition or an isolation in force now still cuts `a` from `b` at `t` (each ends
    /// when its fault does; one that starts later is not known yet).
    fn cut_at(&self, a: NodeId, b: NodeId, t: Nanos) -> bool {
        if a == b {
            return false;
        }
        let isolated =
            |n: NodeId| self.isolated[n as usize] > 0 && self.isolated_until[n as usize] > t;
        isolated(a)
            || isolated(b)
            || self
                .partitions
                .iter()
                .any(|p| p.until_ns > t && p.cuts(a, b))
    }

    /// Whether no partition or isolation cuts any pair of hosts: then two hosts reach each other
    /// exactly when both are up.
    pub fn unpartitioned(&self) -> bool {
        self.partitions.is_empty() && self.isolations == 0
    }

    /// Whether nothing on the network loses, degrades, holds back or cuts a message: every message
    /// between up hosts arrives after one latency draw.
    pub fn quiet(&self) -> bool {
        self.loss == 0.0 && self.degrades.is_empty() && self.held.is_empty() && self.unpartitioned()
    }

    /// The mean one-way delay from `a` to `b` on a quiet network: latency plus half the jitter.
    pub fn mean_latency_ns(&self, a: NodeId, b: NodeId) -> Nanos {
        let base = self.base_latency_ns(a, b);
        base.saturating_add(crate::engine::ns_from_f64(self.jitter * base as f64 / 2.0))
    }

    /// Whether a message can currently pass from `a` to `b`.
    pub fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        self.host_up(a) && self.host_up(b) && !self.blocked(a, b)
    }

    /// Sends a message from node `a` to node `b` at `now`: when it is delivered, or None if
    /// it is lost (a datagram that the link loses; a TCP segment still lost after [`TCP_RETRIES2`]
    /// retransmissions, when Linux kills the connection; a message on a connection that its
    /// receiver's read deadline closes first). Reachability is checked by the caller at send and at
    /// delivery time.
    ///
    /// On a link without loss this is one jitter draw, as it has always been; loss adds the draws of
    /// [`Network::retransmit`] and the stream bookkeeping of [`Network::in_order`], which only a
    /// stream behind a retransmission needs. So `route`, the message's transport and stream, is asked
    /// for only then.
    pub fn transmit(
        &mut self,
        now: Nanos,
        a: NodeId,
        b: NodeId,
        route: impl FnOnce() -> (Transport, StreamId),
    ) -> Option<Nanos> {
        if self.loss == 0.0
            && self.degrades.is_empty()
            && self.held.is_empty()
            && self.unpartitioned()
        {
            // Nothing lossy, degraded or held back anywhere: the cost of the network before loss
            // was modelled as TCP (the idle cluster's hot path).
            return Some(now.saturating_add(self.draw_latency(a, b, 0)));
        }
        let (transport, stream) = route();
        let (extra_ns, loss) = self.link_at(a, b, now);
        let sent_ns = if loss > 0.0 {
            match transport {
                Transport::Datagram if loss >= 1.0 || self.rngs[a as usize].gen::<f64>() < loss => {
                    return None
                }
                Transport::Datagram => now,
                Transport::Tcp { .. } => match self.held.get(&stream) {
                    // Behind a segment held back by a cut (or a handshake not yet through), TCP
                    // sends nothing new: what was queued goes once that one is acknowledged, about
                    // when it arrives, so it does not back off on its own.
                    Some(Held::Until(until)) if *until > now && self.cut_at(a, b, now) => {
                        let until = *until;
                        let loss = self.link_at(a, b, until).1;
                        self.retransmit(a, b, until, extra_ns, loss)?
                    }
                    _ => self.retransmit(a, b, now, extra_ns, loss)?,
                },
                Transport::Dial { timeout_ns } => {
                    let Some(t) = self.retransmit_syn(a, b, now, loss, timeout_ns) else {
                        // The dial failed: what the client sends on the connection meanwhile is
                        // lost with it.
                        let closing = Held::Closing(now.saturating_add(timeout_ns));
                        self.hold(stream, closing, now);
                        return None;
                    };
                    t
                }
            }
        } else {
            now
        };
        let extra_ns = if sent_ns == now {
            extra_ns
        } else {
            self.link_at(a, b, sent_ns).0
        };
        let latency_ns = self.draw_latency(a, b, extra_ns);
        let arrive_ns = sent_ns.saturating_add(latency_ns);
        let read_timeout_ns = match transport {
            Transport::Tcp { read_timeout_ns } => read_timeout_ns,
            Transport::Dial { .. } => None,
            Transport::Datagram => return Some(arrive_ns),
        };
        let sent = Sent {
            now,
            arrive_ns,
            latency_ns,
            retransmitted: sent_ns > now,
        };
        self.in_order(stream, sent, read_timeout_ns)
    }

    /// The one-way latency between two hosts before jitter and degradation.
    fn base_latency_ns(&self, a: NodeId, b: NodeId) -> Nanos {
        if a == b {
            self.local_latency_ns
        } else if self.zone_of[a as usize] == self.zone_of[b as usize] {
            self.zone_latency_ns
        } else {
            self.cross_zone_latency_ns
        }
    }

    /// The added latency and the loss probability of the link from `a` to `b` at `t`: the base loss
    /// (never on a host's own loopback) combined with every degrade-link in force then. A degrade ends
    /// at its `until_ns`, when the world heals it; one that starts later is not known yet.
    fn link_at(&self, a: NodeId, b: NodeId, t: Nanos) -> (Nanos, f64) {
        let mut extra = 0;
        let mut loss = if a == b { 0.0 } else { self.loss };
        if self.cut_at(a, b, t) {
            // A cut link loses everything until it heals; TCP retransmits across it.
            loss = 1.0;
        }
        let (ai, bi) = (a as usize, b as usize);
        for d in &self.degrades {
            if d.until_ns > t && ((d.side_a[ai] && d.side_b[bi]) || (d.side_b[ai] && d.side_a[bi]))
            {
                // Many overlapping degrade-link faults with huge latencies must not wrap.
                extra = d.extra_latency_ns.saturating_add(extra);
                loss = 1.0 - (1.0 - loss) * (1.0 - d.loss);
            }
        }
        (extra, loss)
    }

    /// One transmission's one-way delay: latency, jitter drawn from the sender's stream, added latency.
    fn draw_latency(&mut self, a: NodeId, b: NodeId, extra_ns: Nanos) -> Nanos {
        let base = self.base_latency_ns(a, b);
        let jitter = if self.jitter > 0.0 && base > 0 {
            crate::engine::ns_from_f64(
                self.rngs[a as usize].gen::<f64>() * self.jitter * base as f64,
            )
        } else {
            0
        };
        base.saturating_add(jitter).saturating_add(extra_ns)
    }

    /// When the copy of a TCP segment first sent at `now` that gets through leaves the sender, or None
    /// if TCP gives up. Each transmission is lost with the link's loss at its moment (so a
    /// retransmission after a degrade-link ends gets through). The first retransmission follows
    /// after the RTO ([`Network::rto_ns`]), each later one after twice the previous wait (RFC 6298
    /// section 5.5, "back off the timer"; Linux `tcp_retransmit_timer`: `icsk_rto = min(icsk_rto << 1,
    /// TCP_RTO_MAX)`). After [`TCP_RETRIES2`] lost retransmissions Linux kills the connection
    /// (ETIMEDOUT) and the message is gone.
    ///
    /// Not modelled: fast retransmit and tail loss probes, which recover a loss sooner when more
    /// segments follow close behind it (heartbeat-sized messages 100 ms apart rarely do), and the
    /// backoff a connection carries from one lost segment to the next (each message starts at the RTO).
    fn retransmit(
        &mut self,
        a: NodeId,
        b: NodeId,
        now: Nanos,
        extra_ns: Nanos,
        loss: f64,
    ) -> Option<Nanos> {
        let rto = self.rto_ns(a, b, extra_ns);
        self.resend(a, b, now, loss, rto, TCP_RETRIES2, Nanos::MAX)
    }

    /// When the SYN of a connection opened at `now` that gets through leaves the client, or None if
    /// none does before the client's dial timeout: SYNs at 0, 1, 3, 7, 15 s, ... (the RTO starts at
    /// [`TCP_TIMEOUT_INIT_NS`] and doubles, [`TCP_SYN_RETRIES`] times). Each is lost with the link's
    /// loss at its moment.
    fn retransmit_syn(
        &mut self,
        a: NodeId,
        b: NodeId,
        now: Nanos,
        loss: f64,
        timeout_ns: Nanos,
    ) -> Option<Nanos> {
        let deadline = now.saturating_add(timeout_ns);
        self.resend(
            a,
            b,
            now,
            loss,
            TCP_TIMEOUT_INIT_NS,
            TCP_SYN_RETRIES,
            deadline,
        )
    }

    /// When the copy of a segment first sent at `now` that gets through leaves the sender, or None
    /// when `retries` retransmissions were lost or the next would leave at or after `deadline`. The
    /// first retransmission follows `rto` after the send, each later one twice the previous wait
    /// (at most [`TCP_RTO_MAX_NS`]); each sees the link's loss at its moment.
    #[allow(clippy::too_many_arguments)]
    fn resend(
        &mut self,
        a: NodeId,
        b: NodeId,
        now: Nanos,
        mut loss: f64,
        mut rto: Nanos,
        retries: u32,
        deadline: Nanos,
    ) -> Option<Nanos> {
        let mut t = now;
        let mut sent = 0;
        // A cut loses every copy until it heals: no draw decides it.
        while loss > 0.0 && (loss >= 1.0 || self.rngs[a as usize].gen::<f64>() < loss) {
            if sent == retries {
                return None;
            }
            sent += 1;
            t = t.saturating_add(rto);
            if t >= deadline {
                return None;
            }
            rto = rto.saturating_mul(2).min(TCP_RTO_MAX_NS);
            loss = self.link_at(a, b, t).1;
        }
        debug_assert!(sent <= retries && t >= now);
        Some(t)
    }

    /// The retransmission timeout of a connection from `a` to `b` whose estimator has settled on the
    /// link: Linux's RTO = SRTT + max(TCP_RTO_MIN, 4 x mdev) (`__tcp_set_rto` in include/net/tcp.h,
    /// with `rttvar_us = max(mdev, tcp_rto_min_us)` from `tcp_rtt_estimator` in
    /// net/ipv4/tcp_input.c), which is RFC 6298's SRTT + max(G, 4 x RTTVAR) with the 200 ms floor in
    /// the place of the clock granularity G. SRTT is the link's mean round trip (latency and added
    /// latency both ways plus the mean of two jitter draws in [0, J]); the mean deviation of those two
    /// draws is J/3. On a LAN this is about 200 ms plus the round trip. At most TCP_RTO_MAX.
    fn rto_ns(&self, a: NodeId, b: NodeId, extra_ns: Nanos) -> Nanos {
        let base = self.base_latency_ns(a, b);
        let jitter_span = self.jitter * base as f64;
        let srtt = 2.0 * base.saturating_add(extra_ns) as f64 + jitter_span;
        let rttvar_term = (4.0 * jitter_span / 3.0).max(TCP_RTO_MIN_NS as f64);
        // The conversion saturates, so a huge added latency gives TCP_RTO_MAX.
        crate::engine::ns_from_f64(srtt + rttvar_term).min(TCP_RTO_MAX_NS)
    }

    /// Head-of-line blocking. TCP is "a reliable, in-order, byte-stream service" (RFC 9293 section
    /// 2.2): the receiver hands the application only in-sequence data and keeps later segments in its
    /// out-of-order queue, so a message is delivered no earlier than the one sent before it on the same
    /// stream. Only streams behind a retransmission are tracked: a retransmitted message records when
    /// it is delivered, and whatever follows on its stream until then waits for it.
    ///
    /// A receiver with a read deadline (`read_timeout_ns`) gives up on a stream that stalls longer:
    /// the connection closes a read timeout after the last delivery, and what was sent on it until
    /// then never arrives. Returns the delivery time, or None for a message lost that way.
    fn in_order(
        &mut self,
        stream: StreamId,
        sent: Sent,
        read_timeout_ns: Option<Nanos>,
    ) -> Option<Nanos> {
        let now = sent.now;
        if self.held.is_empty() && !sent.retransmitted {
            return Some(sent.arrive_ns);
        }
        if now >= self.held_until_ns {
            // Everything held back has been delivered or closed.
            self.held.clear();
        }
        let behind = match self.held.get(&stream) {
            Some(Held::Closing(t)) if *t > now => return None,
            Some(Held::Until(t)) if *t > now => Some(*t),
            Some(Held::Until(_) | Held::Closing(_)) | None => None,
        };
        let at_ns = behind.map_or(sent.arrive_ns, |until| sent.arrive_ns.max(until));
        // The receiver's last read: the message before this one, or on a stream flowing freely about
        // when this one would have come had it not been lost.
        let last_read_ns = behind.unwrap_or(0).max(now.saturating_add(sent.latency_ns));
        let closing_ns = read_timeout_ns.map(|d| last_read_ns.saturating_add(d));
        let held = match closing_ns {
            Some(close) if at_ns > close => Held::Closing(close),
            Some(_) | None => Held::Until(at_ns),
        };
        if sent.retransmitted || behind.is_some() {
            self.hold(stream, held, now);
        } else {
            // A stream whose held messages have all been delivered runs free again.
            self.held.remove(&stream);
        }
        match held {
            Held::Until(at) => {
                debug_assert!(at >= sent.arrive_ns && behind.is_none_or(|until| at >= until));
                Some(at)
            }
            Held::Closing(_) => None,
        }
    }

    /// Records what holds up `stream` (see [`Network::in_order`]).
    fn hold(&mut self, stream: StreamId, held: Held, now: Nanos) {
        self.held.insert(stream, held);
        self.held_until_ns = self.held_until_ns.max(held.at_ns());
        if self.held.len() > self.held_sweep_len {
            self.held.retain(|_, h| h.at_ns() > now);
            self.held_sweep_len = (2 * self.held.len()).max(HELD_SWEEP_MIN);
        }
    }

    /// Starts a partition between groups of hosts (hosts in no group are unaffected).
    /// It lasts until `until_ns` (`Nanos::MAX`: to the end), when the world heals it.
    pub fn add_partition(&mut self, fault: u16, groups: &[Vec<NodeId>], until_ns: Nanos) {
        let mut group_of = vec![None; self.hosts()];
        for (g, nodes) in groups.iter().enumerate() {
            for n in nodes {
                group_of[*n as usize] = Some(crate::engine::id16(g));
            }
        }
        self.partitions.push(Partition {
            fault,
            group_of,
            until_ns,
        });
    }

    /// Cuts a host off from every other (`on`) until `until_ns` (`Nanos::MAX`: to the end), or ends
    /// one such cut (`!on`).
    pub fn isolate(&mut self, node: NodeId, on: bool, until_ns: Nanos) {
        let n = node as usize;
        if on {
            self.isolated[n] += 1;
            self.isolations += 1;
            self.isolated_until[n] = self.isolated_until[n].max(until_ns);
        } else {
            if self.isolated[n] > 0 {
                self.isolated[n] -= 1;
                self.isolations -= 1;
            }
            if self.isolated[n] == 0 {
                self.isolated_until[n] = 0;
            }
        }
    }

    /// Degrades the links between two sets of hosts until `until_ns` (`Nanos::MAX`: to the end),
    /// when the world heals it.
    pub fn add_degrade(
        &mut self,
        fault: u16,
        a: &[NodeId],
        b: &[NodeId],
        extra_latency_ns: Nanos,
        loss: f64,
        until_ns: Nanos,
    ) {
        let mut side_a = vec![false; self.hosts()];
        let mut side_b = vec![false; self.hosts()];
        for n in a {
            side_a[*n as usize] = true;
        }
        for n in b {
            side_b[*n as usize] = true;
        }
        self.degrades.push(Degrade {
            fault,
            side_a,
            side_b,
            extra_latency_ns,
            loss,
            until_ns,
        });
    }

    /// Ends whatever partition or degradation fault `fault` started.
    pub fn heal(&mut self, fault: u16) {
        self.partitions.retain(|p| p.fault != fault);
        self.degrades.retain(|d| d.fault != fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(jitter: f64) -> LinkConfig {
        LinkConfig {
            local_latency_ns: 50_000,
            zone_latency_ns: 250_000,
            cross_zone_latency_ns: 1_000_000,
            jitter,
            loss: 0.0,
        }
    }

    fn net() -> Network {
        Network::new(vec![0, 1, 0, 2], &links(0.2), 1)
    }

    /// Without jitter, so that times are exact.
    fn still_net() -> Network {
        Network::new(vec![0, 1, 0, 2], &links(0.0), 1)
    }

    /// Plain TCP, without a read deadline.
    const TCP: Transport = Transport::Tcp {
        read_timeout_ns: None,
    };

    fn stream(from: u32, to: u32) -> StreamId {
        StreamId {
            from,
            from_life: 1,
            to,
            to_life: 1,
            conn: 0,
        }
    }

    /// The delay of a TCP message sent at 0 on its own stream.
    fn delay(n: &mut Network, a: NodeId, b: NodeId) -> Option<Nanos> {
        n.transmit(0, a, b, || (TCP, stream(a.into(), b.into())))
    }

    #[test]
    fn partitions_cut_only_across_groups() {
        let mut n = net();
        n.add_partition(0, &[vec![0, 2], vec![1]], Nanos::MAX);
        assert!(n.blocked(0, 1));
        assert!(!n.blocked(0, 2));
        assert!(!n.blocked(0, 3), "a host in no group is unaffected");
        n.heal(0);
        assert!(!n.blocked(0, 1));
    }

    /// The first message of a new connection.
    const DIAL: Transport = Transport::Dial {
        timeout_ns: 30 * SEC,
    };

    #[test]
    fn tcp_resends_across_a_partition_until_it_heals() {
        // Cross-zone, no jitter: latency 1 ms, RTO 200 ms + 2 ms round trip. Retransmissions at
        // 202, 606, 1414 ms: the first after a heal at 1 s gets through.
        let mut n = still_net();
        n.add_partition(0, &[vec![0], vec![1]], SEC);
        assert_eq!(delay(&mut n, 0, 1), Some(1_415_000_000));
        // The reverse direction is a stream of its own and resends on its own.
        assert_eq!(delay(&mut n, 1, 0), Some(1_415_000_000));
        let datagram = n.transmit(0, 0, 1, || (Transport::Datagram, stream(0, 1)));
        assert_eq!(datagram, None, "a datagram is lost");
        // An isolation too, and one that never heals loses the message when TCP gives up.
        let mut n = still_net();
        n.isolate(1, true, Nanos::MAX);
        assert_eq!(delay(&mut n, 0, 1), None);
        assert_eq!(
            delay(&mut n, 0, 2),
            Some(250_000),
            "other hosts are not cut"
        );
    }

    #[test]
    fn a_connection_opened_across_a_partition_waits_for_its_handshake() {
        // SYNs at 0, 1, 3, 7, 15 s: after a heal at 10 s the fifth gets through, and what the
        // client queued on the connection meanwhile follows it rather than backing off on its own.
        let mut n = still_net();
        n.add_partition(0, &[vec![0], vec![1]], 10 * SEC);
        let conn = stream(5, 6);
        assert_eq!(n.transmit(0, 0, 1, || (DIAL, conn)), Some(15_001_000_000));
        let queued = n.transmit(2 * SEC, 0, 1, || (TCP, conn));
        assert_eq!(queued, Some(15_002_000_000));
        // Past the 30 s dial timeout the connection fails: its first message and what follows it
        // until the client gives up are lost.
        let mut n = still_net();
        n.add_partition(0, &[vec![0], vec![1]], 40 * SEC);
        assert_eq!(n.transmit(0, 0, 1, || (DIAL, conn)), None);
        assert_eq!(n.transmit(5 * SEC, 0, 1, || (TCP, conn)), None);
        // A SYN lost to plain loss is resent after 1 s, not after the data RTO of 202 ms.
        let mut n = Network::new(
            vec![0, 1],
            &LinkConfig {
                loss: 0.5,
                ..links(0.0)
            },
            3,
        );
        let times: Vec<Nanos> = (0..200u32)
            .filter_map(|i| n.transmit(0, 0, 1, || (DIAL, stream(i, 1000))))
            .collect();
        let syns = [0, 1, 3, 7, 15].map(|s| s * SEC + 1_000_000);
        assert!(times.iter().all(|t| syns.contains(t)), "{times:?}");
        assert!(
            times.contains(&(SEC + 1_000_000)),
            "some SYN is resent once"
        );
    }

    #[test]
    fn isolation_and_down_hosts() {
        let mut n = net();
        n.isolate(1, true, Nanos::MAX);
        assert!(!n.reachable(0, 1));
        n.isolate(1, false, 0);
        assert!(n.reachable(0, 1));
        n.set_host_up(2, false);
        assert!(!n.reachable(0, 2));
    }

    #[test]
    fn zone_latency_is_smaller_than_cross_zone() {
        let mut n = net();
        let same = delay(&mut n, 0, 2).unwrap();
        let cross = delay(&mut n, 0, 1).unwrap();
        assert!(same < cross, "{same} < {cross}");
    }

    #[test]
    fn each_sender_draws_from_its_own_stream() {
        // Node 0's delays are the same whether or not node 1 sent messages in between.
        let (mut quiet, mut busy) = (net(), net());
        let a: Vec<_> = (0..5).map(|_| delay(&mut quiet, 0, 1)).collect();
        let b: Vec<_> = (0..5)
            .map(|_| {
                delay(&mut busy, 1, 3);
                delay(&mut busy, 0, 1)
            })
            .collect();
        assert_eq!(a, b);
        assert!(a.windows(2).any(|w| w[0] != w[1]), "jitter varies: {a:?}");
    }

    #[test]
    fn degraded_link_slows_and_a_datagram_is_lost() {
        let mut n = net();
        n.add_degrade(3, &[0], &[1], 50_000_000, 1.0, Nanos::MAX);
        let vrrp =
            |n: &mut Network, a, b| n.transmit(0, a, b, || (Transport::Datagram, stream(0, 1)));
        assert_eq!(vrrp(&mut n, 0, 1), None);
        assert_eq!(vrrp(&mut n, 1, 0), None);
        assert!(vrrp(&mut n, 0, 2).is_some());
        n.heal(3);
        n.add_degrade(4, &[0], &[1], 50_000_000, 0.0, Nanos::MAX);
        assert!(delay(&mut n, 0, 1).unwrap() >= 50_000_000);
    }

    #[test]
    fn tcp_gives_up_only_after_its_retries() {
        // A link that loses everything for good: the segment is retransmitted 15 times and the
        // connection dies at the 16th timeout (tcp_retries2), so the message is lost.
        let mut n = still_net();
        n.add_degrade(0, &[0], &[1], 0, 1.0, Nanos::MAX);
        assert_eq!(delay(&mut n, 0, 1), None);
    }

    /// The RTO of a cross-zone link without jitter: the 1 ms latency both ways plus TCP_RTO_MIN.
    const RTO: Nanos = 2 * 1_000_000 + TCP_RTO_MIN_NS;

    #[test]
    fn retransmissions_back_off_doubling_up_to_the_cap() {
        // The link loses everything until `until`; the message gets through with the first
        // retransmission at or after it. Transmissions go at 0, RTO, RTO + 2 RTO, ...: each wait twice
        // the one before, never more than TCP_RTO_MAX.
        let mut sends = vec![0];
        let mut wait = RTO;
        while sends.len() < 14 {
            sends.push(sends.last().unwrap() + wait);
            wait = (2 * wait).min(TCP_RTO_MAX_NS);
        }
        assert_eq!(&sends[..5], &[0, RTO, 3 * RTO, 7 * RTO, 15 * RTO]);
        assert_eq!(sends[11] - sends[10], TCP_RTO_MAX_NS, "capped at 120 s");
        for k in 1..sends.len() {
            let mut n = still_net();
            let until = sends[k - 1] + 1;
            n.add_degrade(0, &[0], &[1], 0, 1.0, until);
            assert_eq!(
                delay(&mut n, 0, 1),
                Some(sends[k] + 1_000_000),
                "lost until {until}: gets through with retransmission {k}"
            );
        }
    }

    #[test]
    fn a_message_behind_a_retransmitted_one_waits_for_it() {
        let mut n = still_net();
        // The first message on 0 -> 1 is lost once (the link loses everything until 10 ms) and is
        // delivered after the first retransmission.
        n.add_degrade(0, &[0], &[1], 0, 1.0, 10_000_000);
        let first = n.transmit(0, 0, 1, || (TCP, stream(5, 6))).unwrap();
        assert_eq!(first, RTO + 1_000_000);
        n.heal(0);
        // The next one on the same stream arrives long before but is handed over only after it.
        let second = n
            .transmit(50_000_000, 0, 1, || (TCP, stream(5, 6)))
            .unwrap();
        assert_eq!(
            second, first,
            "head-of-line blocked until the first is delivered"
        );
        // Other connections are not held up: another process pair on the same nodes, the reverse
        // direction, and the same pair after the sender restarted (a new connection).
        let other = n.transmit(50_000_000, 0, 1, || (TCP, stream(7, 6)));
        let reverse = n.transmit(50_000_000, 1, 0, || (TCP, stream(6, 5)));
        let restarted = StreamId {
            from_life: 2,
            ..stream(5, 6)
        };
        let fresh = n.transmit(50_000_000, 0, 1, || (TCP, restarted));
        let reconnected = StreamId {
            conn: 1,
            ..stream(5, 6)
        };
        let new_conn = n.transmit(50_000_000, 0, 1, || (TCP, reconnected));
        for at in [other, reverse, fresh, new_conn] {
            assert_eq!(at, Some(51_000_000));
        }
        // Once the first is delivered, the stream runs free and the bookkeeping is gone.
        let later = n.transmit(first + 1, 0, 1, || (TCP, stream(5, 6))).unwrap();
        assert_eq!(later, first + 1 + 1_000_000);
        assert!(n.held.is_empty());
    }

    #[test]
    fn a_read_deadline_closes_a_stalled_connection() {
        // etcd's peer streams: the receiver closes a connection on which nothing arrived for 5 s.
        let peer = Transport::Tcp {
            read_timeout_ns: Some(5_000_000_000),
        };
        // The link loses everything until 6 s: the first message would get through with its 5th
        // retransmission, at 31 RTO = 6.262 s, more than 5 s after the last read (about 1 ms).
        let mut n = still_net();
        n.add_degrade(0, &[0], &[1], 0, 1.0, 6_000_000_000);
        assert_eq!(n.transmit(0, 0, 1, || (peer, stream(5, 6))), None);
        // What is sent on the dying connection is lost with it...
        assert_eq!(
            n.transmit(1_000_000_000, 0, 1, || (peer, stream(5, 6))),
            None
        );
        // ...what is sent after it closed (at 5.001 s) goes over a new one: lost at 5.5 s and
        // 5.5 s + RTO, through at 5.5 s + 3 RTO, after the link healed.
        let next = n.transmit(5_500_000_000, 0, 1, || (peer, stream(5, 6)));
        assert_eq!(next, Some(5_500_000_000 + 3 * RTO + 1_000_000));
        // A stall shorter than the deadline only delays: lost until 3 s, through at 15 RTO.
        let mut n = still_net();
        n.add_degrade(0, &[0], &[1], 0, 1.0, 3_000_000_000);
        let first = n.transmit(0, 0, 1, || (peer, stream(5, 6)));
        assert_eq!(first, Some(15 * RTO + 1_000_000));
        // The next one, sent as the link heals, waits for it.
        assert_eq!(
            n.transmit(3_000_000_000, 0, 1, || (peer, stream(5, 6))),
            first
        );
    }

    #[test]
    fn half_loss_delays_about_half_the_messages_and_loses_none() {
        let mut n = net();
        n.add_degrade(0, &[0], &[1], 0, 0.5, Nanos::MAX);
        let mut retransmitted = 0;
        for i in 0..1000u32 {
            let now = Nanos::from(i) * 1_000_000_000;
            let at = n.transmit(now, 0, 1, || (TCP, stream(i, 1))).unwrap();
            if at - now >= TCP_RTO_MIN_NS {
                retransmitted += 1;
            }
        }
        assert!(
            (450..550).contains(&retransmitted),
            "{retransmitted} of 1000"
        );
    }
}

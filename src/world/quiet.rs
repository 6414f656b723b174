//! Lazy heartbeats, the engine's shortcut for quiet time (issue 12 item 4).
//!
//! An idle etcd leader sends an empty heartbeat to every follower each tick and gets an answer back:
//! nine events in ten of an idle etcd cluster, and each changes nothing but a follower's election
//! timer and the leader's check-quorum count. While nothing in the world could make one of them
//! fail or arrive late (no fault in force, a loss-free network, perfect clocks, every member
//! running), a leader stops sending them to a follower that has all its entries (see
//! [`Raft::set_quiet_allowed`](crate::components::etcd::raft::Raft::set_quiet_allowed)) and reports
//! a quiet stream. The world then stands in for them:
//!
//! - the follower, before its next event, hears from its leader at the last stood-in heartbeat's
//!   arrival (the leader's tick plus the link's mean latency), which is all a run of heartbeats does
//!   to it (`EtcdMember::heard_quietly`);
//! - the leader counts the follower active at check-quorum, as the answers would.
//!
//! A stream ends when the leader sends that follower anything else (an append, a snapshot, a
//! hand-over), when it stops leading, and whenever the world changes: before every fault starts or
//! ends, every boot, crash and start (`World::quiet_world_changed`). On such a forced end a
//! heartbeat still in flight is delivered as a real message, checked against the network at its
//! arrival as any message is, and the leader sends real heartbeats again from its next tick, so
//! what a failure does to the followers' timers is what the plain engine does.
//!
//! A heartbeat that carries a read's context (a ReadIndex round) goes to a quiet follower too, and
//! its answer decides when the read is served. The world stands in for the follower's half of it:
//! the heartbeat is not queued, and the follower's `MsgHeartbeatResp` is queued for when it would
//! arrive, a latency there and a latency back, each drawn from the link's distribution as a real
//! message's is. What handling it would do to the follower is what the stream already does (it
//! has every entry and the commit index, so only its election timer moves). Should the world change
//! before that heartbeat would have reached the follower, the answer is dropped and the heartbeat
//! goes on as a real message, so a crash or a cut meets it as it would meet the real one. This
//! halves the events of a linearizable read's round in a quiet cluster.
//!
//! Not exact: the stood-in heartbeats and answers draw no latency from the sending node's random
//! stream, so the draws after them differ and a run follows another path of the same distribution.
//! `settings.engine.lazy_heartbeats: false` (or `shortcuts: false`) turns it off; the suite
//! compares outcome distributions over seeds both ways.

use super::{Event, World};
use crate::components::ctx::{ProcId, QuietChange};
use crate::components::etcd::types::{MemberId, MsgType, RaftMsg};
use crate::components::msg::Msg;
use crate::engine::Nanos;

/// One leader's quiet stream to one follower.
#[derive(Clone, Debug)]
pub(crate) struct Stream {
    leader: ProcId,
    leader_inc: u32,
    follower_inc: u32,
    from: MemberId,
    to: MemberId,
    term: u64,
    commit: u64,
    /// The tick of the first stood-in heartbeat; one follows every `tick_ns`.
    first_ns: Nanos,
    tick_ns: Nanos,
    /// Each stood-in heartbeat's one-way delay: the link's mean.
    latency_ns: Nanos,
    /// No stood-in heartbeat after this (`Nanos::MAX` while the stream runs).
    end_ns: Nanos,
    /// The arrival the follower last heard (0: none yet).
    heard_ns: Nanos,
}

impl Stream {
    /// The send time of the last stood-in heartbeat sent by `t`, if any.
    fn last_send_by(&self, t: Nanos) -> Option<Nanos> {
        let t = t.min(self.end_ns);
        let since = t.checked_sub(self.first_ns)?;
        Some(self.first_ns + since / self.tick_ns * self.tick_ns)
    }

    /// The arrival of the last stood-in heartbeat that reached the follower by `t`, if any.
    fn last_arrival_by(&self, t: Nanos) -> Option<Nanos> {
        let sent = self.last_send_by(t.checked_sub(self.latency_ns)?)?;
        Some(sent + self.latency_ns)
    }

    /// Ended, and the follower heard everything it stood in for by `t`.
    fn spent_by(&self, t: Nanos) -> bool {
        self.end_ns != Nanos::MAX
            && self
                .last_send_by(self.end_ns)
                .is_none_or(|s| s + self.latency_ns <= t.min(self.heard_ns))
    }
}

/// A read's heartbeat to a quiet follower, stood in for: the follower's answer is queued as
/// [`Event::QuietAnswer`] with this token.
#[derive(Clone, Debug)]
struct StoodInRead {
    token: u64,
    /// When the heartbeat would reach the follower.
    heard_ns: Nanos,
    leader: ProcId,
    leader_inc: u32,
    follower: ProcId,
    follower_inc: u32,
    /// The heartbeat itself (sent again as a real message if the world changes before `heard_ns`).
    heartbeat: RaftMsg,
}

/// Every quiet stream, by follower.
#[derive(Clone, Debug, Default)]
pub(crate) struct QuietStreams {
    /// Per follower process: the streams to it (the running one, and ended ones whose last
    /// heartbeats it has not heard yet).
    by_follower: Vec<Vec<Stream>>,
    /// How many streams there are in all.
    count: usize,
    /// The read heartbeats stood in for whose answers are queued (a handful at most: one per quiet
    /// follower and read round in flight).
    reads: Vec<StoodInRead>,
    next_token: u64,
}

impl QuietStreams {
    /// Whether there is any stream (the hot path's only question).
    pub(crate) fn any(&self) -> bool {
        self.count > 0
    }

    /// Whether `leader` (in life `leader_inc`) runs a quiet stream to `follower` (in life
    /// `follower_inc`) now.
    fn running(
        &self,
        leader: ProcId,
        leader_inc: u32,
        follower: ProcId,
        follower_inc: u32,
    ) -> bool {
        self.by_follower.get(follower as usize).is_some_and(|v| {
            v.iter().any(|s| {
                s.leader == leader
                    && s.leader_inc == leader_inc
                    && s.follower_inc == follower_inc
                    && s.end_ns == Nanos::MAX
            })
        })
    }
}

impl World {
    /// Whether the engine may stand in for heartbeats now: lazy heartbeats are on, the network
    /// loses, degrades and holds back nothing and cuts no link, every clock is perfect, no
    /// certificate was expired, and every etcd member runs on an up host. (A slow disk or a
    /// defrag changes nothing a stood-in heartbeat does: a write ends the stream first.)
    fn quiet_allowed(&self) -> bool {
        self.lazy_heartbeats
            && !self.certs.watch
            && self.net.quiet()
            && self.clocks.iter().all(|c| c.is_perfect())
            && self.procs.iter().enumerate().all(|(i, p)| {
                self.layout.procs[i].kind != crate::topology::ProcKind::Etcd
                    || (p.alive && p.paused == 0 && self.net.host_up(p.node))
            })
    }

    /// The world is about to change, or just did (a fault, a boot, a crash, a start): every
    /// stream ends, and streams may start again only if the world allows.
    pub(crate) fn quiet_world_changed(&mut self) {
        if !self.lazy_heartbeats {
            return;
        }
        self.end_quiet_streams();
        self.quiet_ok = self.quiet_allowed();
    }

    /// Ends every running stream now: a heartbeat in flight becomes a real message, and each
    /// leader sends heartbeats again from its next tick.
    fn end_quiet_streams(&mut self) {
        if self.quiet.count == 0 && self.quiet.reads.is_empty() {
            return;
        }
        let now = self.now;
        let mut leaders: Vec<(ProcId, u32)> = Vec::new();
        let mut in_flight: Vec<(Nanos, Event)> = Vec::new();
        // A read's heartbeat that has not reached its follower yet goes on as a real message (its
        // queued answer is dropped); one that has is answered, and that answer is in flight.
        let mut i = 0;
        while i < self.quiet.reads.len() {
            if self.quiet.reads[i].heard_ns <= now {
                i += 1;
                continue;
            }
            let r = self.quiet.reads.swap_remove(i);
            in_flight.push((
                r.heard_ns,
                Event::Deliver {
                    from: r.leader,
                    from_inc: r.leader_inc,
                    to: r.follower,
                    to_inc: r.follower_inc,
                    msg: Msg::Raft(r.heartbeat),
                },
            ));
        }
        for (f, streams) in self.quiet.by_follower.iter_mut().enumerate() {
            for s in streams.iter_mut().filter(|s| s.end_ns == Nanos::MAX) {
                match s.last_send_by(now) {
                    Some(sent) if sent + s.latency_ns > now => {
                        s.end_ns = sent - 1;
                        let mut m = RaftMsg::new(MsgType::Heartbeat, s.from, s.to, s.term);
                        m.commit = s.commit;
                        in_flight.push((
                            sent + s.latency_ns,
                            Event::Deliver {
                                from: s.leader,
                                from_inc: s.leader_inc,
                                to: super::id16(f),
                                to_inc: s.follower_inc,
                                msg: Msg::Raft(m),
                            },
                        ));
                    }
                    Some(_) => s.end_ns = now,
                    None => s.end_ns = s.first_ns.saturating_sub(1),
                }
                if !leaders.contains(&(s.leader, s.leader_inc)) {
                    leaders.push((s.leader, s.leader_inc));
                }
            }
        }
        for (at, ev) in in_flight {
            self.push(at, ev);
        }
        leaders.sort_unstable();
        for (l, inc) in leaders {
            let p = &self.procs[l as usize];
            if p.alive && p.incarnation == inc && p.paused == 0 {
                self.dispatch(l, |comp, ctx| {
                    if let Some(m) = comp.etcd_mut() {
                        m.quiet_off(ctx)
                    }
                });
            }
        }
    }

    /// A leader's report: a stream started or ended.
    pub(crate) fn quiet_change(&mut self, leader: ProcId, c: QuietChange) {
        let f = c.peer as usize;
        if self.quiet.by_follower.len() <= f {
            self.quiet
                .by_follower
                .resize_with(self.procs.len().max(f + 1), Vec::new);
        }
        if !c.start {
            for s in &mut self.quiet.by_follower[f] {
                if s.leader == leader && s.end_ns == Nanos::MAX {
                    s.end_ns = c.at;
                }
            }
            return;
        }
        let (l, fp) = (&self.procs[leader as usize], &self.procs[f]);
        if !self.quiet_ok || !l.alive || !fp.alive {
            // The world changed within the leader's own event (it exited): no stream.
            if l.alive && l.paused == 0 {
                self.dispatch(leader, |comp, ctx| {
                    if let Some(m) = comp.etcd_mut() {
                        m.quiet_off(ctx)
                    }
                });
            }
            return;
        }
        let latency_ns = self.net.mean_latency_ns(l.node, fp.node);
        let stream = Stream {
            leader,
            leader_inc: l.incarnation,
            follower_inc: fp.incarnation,
            from: c.from,
            to: c.to,
            term: c.term,
            commit: c.commit,
            first_ns: c.at,
            tick_ns: c.tick_ns.max(1),
            latency_ns,
            end_ns: Nanos::MAX,
            heard_ns: 0,
        };
        self.quiet.by_follower[f].push(stream);
        self.quiet.count += 1;
    }

    /// Before `proc` handles anything: the stood-in heartbeats that reached it by now.
    pub(crate) fn quiet_hear(&mut self, proc: ProcId) {
        let f = proc as usize;
        let Some(streams) = self.quiet.by_follower.get_mut(f) else {
            return;
        };
        if streams.is_empty() {
            return;
        }
        let now = self.now;
        let p = &mut self.procs[f];
        let before = streams.len();
        for s in streams.iter_mut() {
            if s.follower_inc != p.incarnation {
                s.end_ns = 0;
                s.heard_ns = Nanos::MAX;
                continue;
            }
            if let Some(at) = s.last_arrival_by(now) {
                if at > s.heard_ns {
                    s.heard_ns = at;
                    if let Some(m) = p.comp.etcd_mut() {
                        m.heard_quietly(at, s.from, s.term, s.commit);
                    }
                }
            }
        }
        streams.retain(|s| !s.spent_by(now));
        self.quiet.count -= before - streams.len();
    }
}

impl World {
    /// `from` sends `msg`: if it is a leader's heartbeat with a read's context to a follower whose
    /// quiet stream runs, the world stands in for the follower's half of the round (see the module
    /// doc) and returns true; the caller then sends nothing.
    pub(crate) fn quiet_read_heartbeat(
        &mut self,
        (from, from_inc): (ProcId, u32),
        (to, to_inc): (ProcId, u32),
        msg: &Msg,
    ) -> bool {
        let Msg::Raft(m) = msg else {
            return false;
        };
        if m.kind != MsgType::Heartbeat
            || m.context == 0
            || !self.quiet.running(from, from_inc, to, to_inc)
        {
            return false;
        }
        let (a, b) = (self.procs[from as usize].node, self.procs[to as usize].node);
        // The world allows quiet streams only while the network loses and holds back nothing, so
        // both legs arrive: each a latency drawn as a real message's.
        let reply_conn = &self.reply_conn;
        let there = || super::route(reply_conn, (from, from_inc), (to, to_inc), msg);
        let Some(heard_ns) = self.net.transmit(self.now, a, b, there) else {
            return false;
        };
        let back = || super::route(reply_conn, (to, to_inc), (from, from_inc), msg);
        let Some(answer_ns) = self.net.transmit(heard_ns, b, a, back) else {
            return false;
        };
        let token = self.quiet.next_token;
        self.quiet.next_token += 1;
        self.quiet.reads.push(StoodInRead {
            token,
            heard_ns,
            leader: from,
            leader_inc: from_inc,
            follower: to,
            follower_inc: to_inc,
            heartbeat: m.clone(),
        });
        self.push(answer_ns, Event::QuietAnswer(token));
        true
    }

    /// The stood-in follower's answer to a read's heartbeat arrives (unless the world changed
    /// before the heartbeat reached it: then the token is gone and the real heartbeat is on its
    /// way instead).
    pub(crate) fn quiet_answer(&mut self, token: u64) {
        let Some(i) = self.quiet.reads.iter().position(|r| r.token == token) else {
            return;
        };
        let r = self.quiet.reads.swap_remove(i);
        let hb = &r.heartbeat;
        // What the follower's `handle_heartbeat` answers (etcd-io/raft `handleHeartbeat`): its
        // term is the leader's, as its stream still ran.
        let mut resp = RaftMsg::new(MsgType::HeartbeatResp, hb.to, hb.from, hb.term);
        resp.context = hb.context;
        self.deliver(
            r.follower,
            r.follower_inc,
            r.leader,
            r.leader_inc,
            Msg::Raft(resp),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::etcd::types::MsgType;

    /// A read's heartbeat to a quiet follower is stood in for, and when the world changes before
    /// it would have reached the follower, it goes on as the real heartbeat (with its read's
    /// context, to the same follower life) and the stood-in answer is dropped; the run then goes
    /// on to its end.
    #[test]
    fn a_read_heartbeat_in_flight_when_the_world_changes_goes_on_as_a_real_one() {
        let text = r#"{"name":"t","duration":"2m","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},"load":{"requests_per_second":50}}"#;
        let plan = crate::scenario::parse_scenario(text, "t.json").expect("test scenario");
        let mut w = World::build(&plan, 1);
        let mut at = 30 * crate::engine::SEC;
        let pending = loop {
            w.run_until(at).expect("runs");
            if let Some(r) = w.quiet.reads.iter().find(|r| r.heard_ns > w.now) {
                break r.clone();
            }
            at += crate::engine::MS;
            assert!(
                at < 90 * crate::engine::SEC,
                "no read heartbeat was stood in for"
            );
        };
        w.quiet_world_changed();
        assert!(
            w.quiet.reads.iter().all(|r| r.token != pending.token),
            "the stood-in answer is dropped"
        );
        let real = w.slab.iter().flatten().any(|ev| {
            matches!(ev, Event::Deliver { from, to, to_inc, msg: Msg::Raft(m), .. }
                if *from == pending.leader && *to == pending.follower
                    && *to_inc == pending.follower_inc && m.kind == MsgType::Heartbeat
                    && m.context == pending.heartbeat.context)
        });
        assert!(real, "the heartbeat goes on as a real message");
        w.run().expect("the run goes on to its end");
    }
}

//! The world: hosts, processes and the network, driven by the event queue. It delivers messages through
//! the simulated network, fires timers, injects the scenario's faults, records the trace, and runs the
//! observers (capabilities) and invariant checkers. Components never see each other: only messages.

pub mod build;
pub mod clock;
mod deadlines;
pub mod faults;
mod fork;
pub mod invariants;
mod membership;
pub mod observer;
pub(crate) mod quiet;
pub mod tls;

use crate::components::ctx::{Ctx, Obs, Out, ProcId, Timer, VIP};
use crate::components::msg::Msg;
use crate::components::Component;
use crate::engine::rng::Rng;
use crate::engine::{fmt_duration, id16, EventQueue, Nanos};
use crate::net::{Network, NodeId, StreamId, Transport};
use crate::observe::{ProcState, Trace, TraceKind};
use crate::scenario::plan::FaultAction;
use crate::scenario::Plan;
use crate::topology::Layout;
use faults::ResolvedFault;
pub use fork::ForkError;
use invariants::Invariants;
use observer::Observer;

/// The spread of process start times after their node has booted (see [`World::schedule_starts`]).
const PROCESS_START_JITTER_NS: Nanos = crate::engine::SEC;

/// A uniform draw in [0, bound) (0 when the bound is 0).
fn draw_below(rng: &mut Rng, bound: Nanos) -> Nanos {
    if bound == 0 {
        0
    } else {
        rand::Rng::gen_range(rng, 0..bound)
    }
}

/// One modelled process.
#[derive(Clone)]
pub struct Proc {
    pub id: ProcId,
    pub node: NodeId,
    pub alive: bool,
    /// Bumped on every crash and start, so that timers and connections of an earlier life are void.
    pub incarnation: u32,
    pub comp: Component,
    pub rng: Rng,
    /// Consecutive voluntary exits, for the kubelet's restart back-off.
    pub exits: u32,
    /// When the process last started.
    pub started_ns: Nanos,
    /// Set while a crash fault holds the process down (the kubelet does not restart it).
    pub held_down: u32,
    /// How many `pause` faults stall the process: nothing is handled while any does.
    pub paused: u32,
    /// An `etcdctl defrag` holds the member's backend: client requests wait, Raft goes on.
    pub defragging: bool,
    /// What arrived or fell due while stalled, in order, handled when the stall ends.
    pub held: Vec<Event>,
}

impl Proc {
    /// Runs and is scheduled: alive and not stalled by a `pause`. The observers judge by this, since a
    /// stalled process answers nothing even though it holds its state and connections.
    pub fn running(&self) -> bool {
        self.alive && self.paused == 0
    }
}

/// What the queue holds.
#[derive(Clone, Debug)]
pub enum Event {
    Deliver {
        from: ProcId,
        from_inc: u32,
        to: ProcId,
        to_inc: u32,
        msg: Msg,
    },
    Timer {
        proc: ProcId,
        inc: u32,
        timer: Timer,
        /// The deadline on the process's node clock (see [`clock`]): a timer whose node clock was
        /// slowed after it was set is put off until that clock reaches it.
        local_at: Nanos,
    },
    FaultStart(u16),
    FaultEnd(u16),
    /// The snapshot a `restore` fault will restore is taken.
    Snapshot(u16),
    /// The kubelet restarts a process that exited.
    Restart {
        proc: ProcId,
        inc: u32,
    },
    /// The grace period of a container the kubelet killed is over: SIGKILL if still running.
    GraceOver {
        proc: ProcId,
        inc: u32,
    },
    /// A process starts because its node has booted (at the start of the run or after the node came
    /// back); `inc` is its incarnation when the start was scheduled.
    Start {
        proc: ProcId,
        inc: u32,
    },
    /// The operator tries `etcdctl member promote` for the learner a `member-add` fault added.
    Promote(u16),
    /// An etcd member's defrag is done: its backend serves clients again.
    DefragDone {
        proc: ProcId,
        inc: u32,
    },
    /// A node that was powered on has finished booting its OS (`gen` voids a boot that a later
    /// `node_down` cut short).
    Boot {
        node: NodeId,
        gen: u32,
    },
    /// A quiet follower's stood-in answer to a read's heartbeat arrives at its leader (see
    /// [`quiet`]).
    QuietAnswer(u64),
}

/// The connection `msg` from `from` to `to` (each with its life) rides, and how it travels: one
/// connection per pair of process lives, as a TCP connection between them, told apart by the
/// message's connection key (an answer takes the one its request came on, `reply_conn`).
pub(crate) fn route(
    reply_conn: &ReplyConns,
    (from, from_inc): (ProcId, u32),
    (to, to_inc): (ProcId, u32),
    msg: &Msg,
) -> (Transport, StreamId) {
    let stream = StreamId {
        from: from.into(),
        from_life: from_inc,
        to: to.into(),
        to_life: to_inc,
        conn: match msg.conn_key() {
            0 => reply_conn.get(&(from, to)).copied().unwrap_or(0),
            key => key,
        },
    };
    (msg.transport(), stream)
}

/// Per (process, peer): the connection the peer last sent it a request on (see
/// the world's `reply_conn`). Kept per process, since it is written at every delivery of a request
/// and a process has few peers (a search of one `BTreeMap` of all pairs was 0.5 % of an idle
/// control plane's instructions).
#[derive(Clone, Default)]
pub(crate) struct ReplyConns(Vec<crate::engine::SmallMap<ProcId, u64>>);

impl ReplyConns {
    /// The connection `peer` last sent `proc` a request on.
    pub(crate) fn get(&self, &(proc, peer): &(ProcId, ProcId)) -> Option<&u64> {
        self.0.get(proc as usize)?.get(&peer)
    }

    /// `peer` sent `proc` a request on connection `conn`.
    pub(crate) fn insert(&mut self, (proc, peer): (ProcId, ProcId), conn: u64) {
        let p = proc as usize;
        if self.0.len() <= p {
            self.0.resize_with(p + 1, Default::default);
        }
        *self.0[p].get_or_insert_with(peer, || conn) = conn;
    }
}

/// Where the next event is (see [`World::next_due`]).
enum Next {
    /// In the slab, at this index.
    Slot(u32),
    /// The earliest cancellable deadline.
    Deadline,
}

/// A run that went wrong in a way the model cannot recover from.
#[derive(Debug)]
pub enum RunError {
    /// The event bound was hit: the model is running away.
    TooManyEvents {
        limit: u64,
        at_ns: Nanos,
        /// The settings that drive the run's cost, as `name = value`, for the message.
        drivers: String,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            RunError::TooManyEvents {
                limit,
                at_ns,
                drivers,
            } if *limit >= crate::engine::RUN_EVENT_CEILING => write!(
                f,
                "the run stopped after {limit} events at t={} of simulated time, the most one run may take \
                 (its estimate was within the budget of {} events); the settings that drive its cost are \
                 {drivers}: lower one of them or shorten duration",
                fmt_duration(*at_ns),
                crate::engine::RUN_EVENT_BUDGET
            ),
            RunError::TooManyEvents {
                limit,
                at_ns,
                drivers,
            } => write!(
                f,
                "the run stopped after {limit} events at t={} of simulated time: the model is running away \
                 (a message storm?); the settings that drive its cost are {drivers}: lower one of them or shorten \
                 duration",
                fmt_duration(*at_ns)
            ),
        }
    }
}

/// The simulated world.
#[derive(Clone)]
pub struct World {
    pub(crate) now: Nanos,
    pub(crate) end_ns: Nanos,
    /// The root of all the run's randomness (kept for a fork's outcome, which reports it).
    pub(crate) seed: u64,
    pub(crate) scenario: Plan,
    pub(crate) layout: Layout,
    pub(crate) procs: Vec<Proc>,
    pub(crate) net: Network,
    /// Per (process, peer): the connection the peer last sent it a request on
    /// ([`Msg::conn_key`]). The process answers on that connection, so an answer that a cut holds
    /// back does not hold up the answers on the connection the peer opened after it.
    pub(crate) reply_conn: ReplyConns,
    /// Per process, its last TCP send: (to, connection key, arrival), to keep a stream in order.
    pub(crate) last_sent: Vec<(ProcId, u64, Nanos)>,
    pub(crate) trace: Trace,
    pub(crate) faults: Vec<ResolvedFault>,
    pub(crate) vip_holder: Option<NodeId>,
    pub(crate) invariants: Invariants,
    pub(crate) observer: Observer,
    pub(crate) events_processed: u64,
    pub(crate) max_events: u64,
    /// Per node: the boot-time stream (its boot moment and its processes' start jitter), derived from
    /// (seed, node) so that a draw on one node never moves another's.
    pub(crate) boot_rng: Vec<Rng>,
    /// Per node: a boot is under way (powered on, OS not up yet), and the generation of the latest one.
    pub(crate) booting: Vec<bool>,
    pub(crate) boot_gen: Vec<u32>,
    /// Per node: its clock (`clock-skew`); perfect unless a fault changed it.
    pub(crate) clocks: Vec<clock::NodeClock>,
    /// Every node's certificates (`expire-cert`, `renew-cert`).
    pub(crate) certs: tls::Certs,
    queue: EventQueue<u32>,
    /// The pending cancellable deadlines, beside the queue.
    deadlines: deadlines::Deadlines,
    /// The engine's shortcuts are on (`settings.engine.shortcuts`): deadlines can be cancelled.
    shortcuts: bool,
    /// Lazy heartbeats are on (`settings.engine.shortcuts` and `lazy_heartbeats`): see [`quiet`].
    lazy_heartbeats: bool,
    /// The world allows quiet streams now (see [`quiet`]).
    quiet_ok: bool,
    /// The quiet streams.
    quiet: quiet::QuietStreams,
    slab: Vec<Option<Event>>,
    free: Vec<u32>,
    out: Vec<Out>,
    dirty: bool,
    /// Re-run the observers after every event, not only after a change that sets `dirty` (tests:
    /// the dirty flag must miss nothing they judge).
    observe_always: bool,
    /// The boot and the faults are scheduled (the first `run_until` or `run` did it), so that a run
    /// can be continued in steps.
    started: bool,
}

impl World {
    fn push(&mut self, at: Nanos, ev: Event) {
        let idx = self.store(ev);
        self.queue.push(at, idx);
    }

    /// Queues a scripted event (the initial boot, a fault): see [`EventQueue::push_script`] for why
    /// these sort apart.
    fn push_script(&mut self, at: Nanos, ev: Event) {
        let idx = self.store(ev);
        self.queue.push_script(at, idx);
    }

    /// Puts `ev` into the slab; its index goes into the queue.
    fn store(&mut self, ev: Event) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(ev);
                i
            }
            None => {
                self.slab.push(Some(ev));
                u32::try_from(self.slab.len() - 1).expect("fewer than 4 billion events pending (the run's event ceiling is checked first)")
            }
        }
    }

    /// Lowers the bound on processed events past which a run counts as running away (tests of the
    /// bound itself).
    pub fn with_event_limit(mut self, max_events: u64) -> World {
        self.max_events = max_events;
        self
    }

    /// Re-runs the observers after every event instead of after the changes that set the dirty
    /// flag: the same trace, far slower. Tests compare the two to show the flag misses nothing the
    /// observers judge.
    pub fn observing_every_event(mut self) -> World {
        self.observe_always = true;
        self
    }

    /// The nodes and processes (read-only).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The trace so far (read-only).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Whether process `p` runs and, as a leader-elected component, believes it leads and acts.
    pub fn acting(&self, p: usize) -> bool {
        self.procs[p].alive && self.procs[p].comp.acting()
    }

    /// Events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// The time the world has run to.
    pub fn now_ns(&self) -> Nanos {
        self.now
    }

    /// The seed the world was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs the scenario to its end.
    pub fn run(&mut self) -> Result<(), RunError> {
        self.run_events(self.end_ns)?;
        self.now = self.end_ns;
        self.invariants
            .finish(self.now, &self.procs, &mut self.trace);
        Ok(())
    }

    /// Runs the scenario through every event at or before `at_ns` (at most the end), and stops
    /// there: the world then holds the state a client would see at that moment (`inspect`,
    /// `exercise`, `lab`, the report's time scrubber). The events and their order are those of
    /// [`World::run`] up to that time, since nothing in the model reads where the run stops; so it
    /// may be called again with a later time (or followed by [`World::run`]) to continue the same
    /// run, which is how the report captures its moments in one pass.
    pub fn run_until(&mut self, at_ns: Nanos) -> Result<(), RunError> {
        let at_ns = at_ns.min(self.end_ns);
        debug_assert!(
            !self.started || at_ns >= self.now,
            "a run continues forward only"
        );
        self.run_events(at_ns)?;
        self.now = at_ns;
        Ok(())
    }

    /// Schedules the boot and the faults (on the first call), then processes events up to `until_ns`.
    fn run_events(&mut self, until_ns: Nanos) -> Result<(), RunError> {
        if !std::mem::replace(&mut self.started, true) {
            self.schedule_initial_boot();
            self.schedule_faults(0);
            self.observe_now();
        }
        while let Some((t, next)) = self.next_due(until_ns) {
            self.now = t;
            self.events_processed += 1;
            if self.events_processed > self.max_events {
                return Err(self.too_many_events());
            }
            // The event is moved out of its slot straight into the handler: an event is 120 bytes,
            // and copies of it were a tenth of an idle cluster's profile.
            match next {
                Next::Slot(idx) => {
                    let ev = self.slab[idx as usize]
                        .take()
                        .expect("a queued event is stored");
                    self.free.push(idx);
                    self.handle(ev);
                }
                Next::Deadline => {
                    let ev = self.pop_deadline();
                    self.handle(ev);
                }
            }
            if self.dirty || self.observe_always {
                self.dirty = false;
                self.observe_now();
            }
        }
        Ok(())
    }

    /// After node `n`'s clock changed: its processes' pending timers whose deadline its clock now
    /// reaches sooner move earlier, as a Go timer fires when the monotonic clock reaches it. (One that
    /// it reaches later is put off when it pops: see [`World::handle`].) Without this, a timer set
    /// before a clock sped up fired at its old moment, and a process noticed its clock only at the
    /// next unrelated event it handled.
    pub(crate) fn retime_timers(&mut self, n: NodeId) {
        let clock = &self.clocks[n as usize];
        let procs = &self.procs;
        let now = self.now;
        let due = |proc: ProcId, local_at: Nanos| {
            (procs[proc as usize].node == n).then(|| clock.true_of(local_at).max(now))
        };
        let slab = &self.slab;
        self.queue
            .move_earlier(|_, &idx| match &slab[idx as usize] {
                Some(Event::Timer { proc, local_at, .. }) => due(*proc, *local_at),
                _ => None,
            });
        self.deadlines.move_earlier(due);
    }

    /// The run went past its event bound.
    #[cold]
    fn too_many_events(&self) -> RunError {
        let p = &self.scenario;
        RunError::TooManyEvents {
            limit: self.max_events,
            at_ns: self.now,
            drivers: format!(
                "load.requests_per_second = {}, duration = {}, topology.workers = {}, \
                 settings.etcd.heartbeat_interval = {}",
                p.load.requests_per_second,
                fmt_duration(p.duration_ns),
                p.topology.workers,
                fmt_duration(p.settings.etcd.heartbeat_interval.ns())
            ),
        }
    }

    /// Where the next event due at or before `until_ns` is, and its time: the queue's head (taken
    /// out; its slot is returned) or the earliest deadline, whichever is first in (time, sequence
    /// number).
    fn next_due(&mut self, until_ns: Nanos) -> Option<(Nanos, Next)> {
        let head = self.queue.peek_key();
        let deadline = self.deadlines.first();
        let (from_queue, (t, _)) = match (head, deadline) {
            (None, None) => return None,
            (Some(h), Some(d)) if d < h => (false, d),
            (Some(h), _) => (true, h),
            (None, Some(d)) => (false, d),
        };
        if t > until_ns {
            return None;
        }
        if !from_queue {
            return Some((t, Next::Deadline));
        }
        let (t, idx) = self.queue.pop()?;
        Some((t, Next::Slot(idx)))
    }

    /// Queues the faults from index `first` on (with a `restore`'s snapshot before its fault), in the
    /// script band: all of them at the start of a run, the ones a fork added when it is made.
    fn schedule_faults(&mut self, first: usize) {
        for i in first..self.faults.len() {
            if let FaultAction::Restore { snapshot_at_ns } = self.faults[i].plan.action {
                self.push_script(snapshot_at_ns, Event::Snapshot(id16(i)));
            }
            let at = self.faults[i].at_ns;
            self.push_script(at, Event::FaultStart(id16(i)));
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Deliver {
                from,
                from_inc,
                to,
                to_inc,
                msg,
            } => self.deliver(from, from_inc, to, to_inc, msg),
            Event::Timer {
                proc,
                inc,
                timer,
                local_at,
            } => {
                let p = &self.procs[proc as usize];
                if !p.alive || p.incarnation != inc {
                    return;
                }
                let clock = &self.clocks[p.node as usize];
                if !clock.is_perfect() && clock.local(self.now) < local_at {
                    let at = clock.true_of(local_at);
                    self.push(
                        at,
                        Event::Timer {
                            proc,
                            inc,
                            timer,
                            local_at,
                        },
                    );
                    return;
                }
                // A stalled process's timer falls due but nothing runs it until the stall ends.
                let p = &mut self.procs[proc as usize];
                if p.paused > 0 {
                    p.held.push(Event::Timer {
                        proc,
                        inc,
                        timer,
                        local_at,
                    });
                    return;
                }
                self.dispatch(proc, |comp, ctx| comp.on_timer(ctx, timer));
            }
            Event::FaultStart(i) => {
                self.quiet_world_changed();
                self.fault_start(i);
                self.quiet_world_changed();
            }
            Event::Snapshot(i) => self.take_snapshot(i),
            Event::FaultEnd(i) => {
                self.quiet_world_changed();
                self.fault_end(i);
                self.quiet_world_changed();
            }
            Event::Boot { node, gen } => {
                self.boot_done(node, gen);
                self.quiet_world_changed();
            }
            Event::DefragDone { proc, inc } => self.defrag_done(proc, inc),
            Event::QuietAnswer(token) => self.quiet_answer(token),
            Event::Promote(i) => {
                self.promote_poll(i);
                self.quiet_world_changed();
            }
            Event::GraceOver { proc, inc } => {
                let p = &self.procs[proc as usize];
                if p.alive && p.incarnation == inc {
                    self.exit_proc(proc);
                }
            }
            Event::Restart { proc, inc } | Event::Start { proc, inc } => {
                let p = &self.procs[proc as usize];
                if p.alive || p.incarnation != inc || p.held_down > 0 {
                    return;
                }
                if self.net.host_up(p.node) {
                    self.start_proc(proc);
                }
            }
        }
    }

    fn deliver(&mut self, from: ProcId, from_inc: u32, to: ProcId, to_inc: u32, msg: Msg) {
        let (from_node, to_node) = (self.procs[from as usize].node, self.procs[to as usize].node);
        // A host going down while the message was in flight drops it.
        if !(self.net.host_up(from_node) && self.net.host_up(to_node)) {
            return;
        }
        if self.net.blocked(from_node, to_node) {
            // A partition cut the link while it was in flight: the segment is lost, and TCP
            // retransmits it (the first retransmission an RTO after this lost copy; the world does not
            // keep when it left, a latency earlier) until the cut heals or TCP gives up.
            self.send_on(from, from_inc, to, to_inc, msg);
            return;
        }
        let target = &self.procs[to as usize];
        if !target.alive || (msg.request_id().is_some() && target.incarnation != to_inc) {
            // Host up but nothing listening (or the connection died with the old process): the kernel
            // answers with a reset, which the sender sees at once.
            if let Some(id) = msg.request_id() {
                let sender = &self.procs[from as usize];
                if sender.alive && sender.incarnation == from_inc {
                    self.send_raw(to, from, Msg::ConnRefused { id });
                }
            }
            return;
        }
        if msg.is_response() && target.incarnation != to_inc {
            return;
        }
        if self.certs.watch {
            if let Some(why) = self.tls_check(from, to, &msg) {
                let sender = &self.procs[from as usize];
                if sender.alive && sender.incarnation == from_inc {
                    self.tls_refuse(from, to, &msg, why);
                }
                return;
            }
        }
        // The kernel accepts what a stalled process is sent (TCP keeps acknowledging): it waits in the
        // socket. A defragmenting etcd member's Raft messages go on; its clients' requests wait for
        // the backend (etcd-io/etcd#15477: no election during a leader's defrag, its health check
        // fails).
        let conn = msg.conn_key();
        if conn != 0 {
            self.reply_conn.insert((to, from), conn);
        }
        if self.holds(to, from) {
            self.procs[to as usize].held.push(Event::Deliver {
                from,
                from_inc,
                to,
                to_inc,
                msg,
            });
            return;
        }
        self.dispatch(to, |comp, ctx| comp.on_msg(ctx, from, msg));
    }

    /// Whether a message from `from` waits in `to`'s socket instead of being handled: `to` is stalled
    /// (a `pause`), or it is a defragmenting etcd member and `from` is its client, not a peer.
    fn holds(&self, to: ProcId, from: ProcId) -> bool {
        let target = &self.procs[to as usize];
        target.paused > 0
            || (target.defragging
                && self.layout.procs[from as usize].kind != crate::topology::ProcKind::Etcd)
    }

    /// A stall ended (a pause, or a defrag): what arrived and fell due meanwhile is handled now, in
    /// the order it came, as a stopped Go process handles its pending timers and socket reads on
    /// SIGCONT. What is still held back (a defrag's clients while a pause ends) stays held.
    pub(crate) fn release_held(&mut self, proc: ProcId) {
        let held = std::mem::take(&mut self.procs[proc as usize].held);
        for ev in held {
            let p = &self.procs[proc as usize];
            match ev {
                Event::Timer { inc, timer, .. } => {
                    if !p.alive || p.incarnation != inc {
                        continue;
                    }
                    if p.paused > 0 {
                        self.procs[proc as usize].held.push(ev);
                        continue;
                    }
                    self.dispatch(proc, |comp, ctx| comp.on_timer(ctx, timer));
                }
                Event::Deliver {
                    from,
                    from_inc,
                    to,
                    to_inc,
                    msg,
                } => {
                    // The message already reached the host: only whether the process is still the one
                    // it was sent to matters now.
                    if !p.alive
                        || ((msg.request_id().is_some() || msg.is_response())
                            && p.incarnation != to_inc)
                    {
                        continue;
                    }
                    if self.holds(proc, from) {
                        self.procs[proc as usize].held.push(Event::Deliver {
                            from,
                            from_inc,
                            to,
                            to_inc,
                            msg,
                        });
                        continue;
                    }
                    self.dispatch(proc, |comp, ctx| comp.on_msg(ctx, from, msg));
                }
                Event::FaultStart(_)
                | Event::FaultEnd(_)
                | Event::DefragDone { .. }
                | Event::Promote(_)
                | Event::QuietAnswer(_)
                | Event::Snapshot(_)
                | Event::Restart { .. }
                | Event::GraceOver { .. }
                | Event::Start { .. }
                | Event::Boot { .. } => unreachable!("only timers and deliveries are held"),
            }
        }
        self.dirty = true;
    }

    /// Runs a component handler and applies what it asked for.
    pub(crate) fn dispatch(&mut self, proc: ProcId, f: impl FnOnce(&mut Component, &mut Ctx)) {
        if self.quiet.any() {
            self.quiet_hear(proc);
        }
        let mut out = std::mem::take(&mut self.out);
        {
            let p = &mut self.procs[proc as usize];
            let mut ctx = Ctx {
                now: self.clocks[p.node as usize].local(self.now),
                me: proc,
                rng: &mut p.rng,
                out: &mut out,
                quiet_ok: self.quiet_ok,
            };
            f(&mut p.comp, &mut ctx);
        }
        self.apply_out(proc, &mut out);
        self.out = out;
    }

    fn apply_out(&mut self, proc: ProcId, out: &mut Vec<Out>) {
        let node = self.procs[proc as usize].node as usize;
        for mut o in out.drain(..) {
            if !self.clocks[node].is_perfect() {
                self.to_true_time(node, &mut o);
            }
            match o {
                Out::Send { to, msg } => self.send_raw(proc, to, msg),
                Out::Deadline { at, timer } if self.shortcuts => {
                    let true_at = self.clocks[node].true_of(at).max(self.now);
                    self.add_deadline(proc, true_at, at, timer);
                }
                // The plain engine: a deadline is a timer, and fires even when cancelled.
                Out::Timer { at, timer } | Out::Deadline { at, timer } => {
                    let inc = self.procs[proc as usize].incarnation;
                    let true_at = self.clocks[node].true_of(at).max(self.now);
                    self.push(
                        true_at,
                        Event::Timer {
                            proc,
                            inc,
                            timer,
                            local_at: at,
                        },
                    );
                }
                Out::Cancel(timer) => {
                    if self.shortcuts {
                        self.cancel_deadline(proc, timer);
                    }
                }
                Out::Trace(kind) => self.record(kind),
                Out::Obs(obs) => self.observation(proc, obs),
                Out::Request(r) => self.trace.request(r),
                // Every served request is kept only under client load: the capacity metrics and
                // picture are about that load, and the control plane's own lease traffic (about
                // 3 requests a second for three nodes) would make an idle run's memory grow with
                // its duration (issue 12: years in constant memory).
                Out::Served(r) if self.scenario.load.requests_per_second > 0.0 => {
                    self.trace.served(r)
                }
                Out::Served(_) => {}
                // Kept under client load only, as the served requests are.
                Out::EtcdBusy { start_ns, cpu_ns }
                    if self.scenario.load.requests_per_second > 0.0 =>
                {
                    self.trace.etcd_busy(start_ns, cpu_ns)
                }
                Out::EtcdBusy { .. } => {}
                Out::Throttled(r) => self.trace.throttled(r),
                Out::Relist => self.trace.relist(self.now),
                Out::Vip(claim) => self.set_vip(proc, claim),
                Out::Exit => self.exit_proc(proc),
                Out::Kill(target) => self.kill_container(target),
                Out::Quiet(c) => self.quiet_change(proc, c),
            }
        }
    }

    /// The times a component wrote into what it hands the world, read on its node's clock, put into
    /// true time: the trace, the metrics and the invariants are in true time. A duration ending now
    /// (a latency) becomes the true time since its start. Timers are converted where they are queued.
    fn to_true_time(&self, node: usize, o: &mut Out) {
        let clock = &self.clocks[node];
        let since = |start: Nanos| self.now.saturating_sub(clock.true_of(start));
        match o {
            Out::Request(r) => {
                r.latency_ns = since(r.sent_ns);
                r.sent_ns = clock.true_of(r.sent_ns);
            }
            Out::Served(r) => {
                r.latency_ns = since(r.at_ns);
                r.at_ns = clock.true_of(r.at_ns);
            }
            Out::Throttled(r) => r.at_ns = clock.true_of(r.at_ns),
            Out::EtcdBusy { start_ns, .. } => *start_ns = clock.true_of(*start_ns),
            Out::Obs(Obs::LeaderAction { last_renew_ns, .. }) => {
                *last_renew_ns = clock.true_of(*last_renew_ns)
            }
            Out::Obs(
                Obs::BecameLeader { .. }
                | Obs::Applied { .. }
                | Obs::Truncated { .. }
                | Obs::SnapshotApplied { .. }
                | Obs::WriteAcked { .. },
            )
            | Out::Send { .. }
            | Out::Timer { .. }
            | Out::Deadline { .. }
            | Out::Cancel(_)
            | Out::Trace(_)
            | Out::Vip(_)
            | Out::Quiet(_)
            | Out::Relist
            | Out::Kill(_)
            | Out::Exit => {}
        }
    }

    /// Records a trace event; state changes re-run the observers.
    pub fn record(&mut self, kind: TraceKind) {
        if !matches!(kind, TraceKind::Log { .. }) {
            self.dirty = true;
        }
        self.trace.push(self.now, kind);
    }

    fn observation(&mut self, proc: ProcId, obs: Obs) {
        let found = self.invariants.observe(self.now, proc, obs, &self.procs);
        for text in found.violations {
            self.record(TraceKind::Violation { text });
        }
        if let Some(text) = found.past_lease {
            self.record(TraceKind::PastLease { proc, text });
        }
        // A leader's action can only bring scheduling or reconciliation up (it acts, so it leads);
        // while both are up it changes nothing the observers judge, and evaluating them at every
        // Lease renewal was about 3 % of an idle control plane's instructions. (A sweep of the
        // library over seeds 2-6 gave byte-identical reports even with no evaluation at leader
        // actions: every other change they judge is traced, and a traced change re-runs them.)
        if let Obs::LeaderAction { .. } = obs {
            if !self.observer.leaders_up() {
                self.dirty = true;
            }
        }
    }

    /// Sends a message from `from` to `to` through the network (resolving the VIP).
    fn send_raw(&mut self, from: ProcId, to: ProcId, msg: Msg) {
        let to = if to == VIP {
            match self.vip_target() {
                Some(p) => p,
                // Nobody answers ARP for the VIP: the packet goes nowhere.
                None => return,
            }
        } else {
            to
        };
        let from_inc = self.procs[from as usize].incarnation;
        let to_inc = self.procs[to as usize].incarnation;
        self.send_on(from, from_inc, to, to_inc, msg);
    }

    /// Sends a message over the connection between two process lives. A partition or an isolation
    /// is loss to TCP (see [`Network::transmit`]): a segment that meets one is retransmitted and gets
    /// through at the first retransmission after the heal, or is lost when TCP gives up; a datagram is
    /// lost.
    fn send_on(&mut self, from: ProcId, from_inc: u32, to: ProcId, to_inc: u32, msg: Msg) {
        let from_node = self.procs[from as usize].node;
        let to_node = self.procs[to as usize].node;
        if !(self.net.host_up(from_node) && self.net.host_up(to_node)) {
            return;
        }
        if self.quiet_ok
            && self.quiet.any()
            && matches!(msg, Msg::Raft(_))
            && self.quiet_read_heartbeat((from, from_inc), (to, to_inc), &msg)
        {
            return;
        }
        let reply_conn = &self.reply_conn;
        let route = || route(reply_conn, (from, from_inc), (to, to_inc), &msg);
        let Some(mut at) = self.net.transmit(self.now, from_node, to_node, route) else {
            return;
        };
        // A TCP stream delivers in order. The network draws each message's latency on its own, so
        // a message sent right behind another on the same connection could overtake it (a request
        // continuing a connection ahead of the one opening it, which the far end then resets).
        // Each process's last send is kept: the next one on the same connection arrives no
        // earlier. (The network's slow path orders a stream held back by loss or a cut.)
        if msg.transport() != Transport::Datagram {
            let key = msg.conn_key();
            if self.last_sent.len() <= from as usize {
                self.last_sent.resize(self.procs.len(), (0, 0, 0));
            }
            let last = &mut self.last_sent[from as usize];
            if last.0 == to && last.1 == key && at < last.2 {
                at = last.2;
            }
            *last = (to, key, at);
        }
        self.push(
            at,
            Event::Deliver {
                from,
                from_inc,
                to,
                to_inc,
                msg,
            },
        );
    }

    /// The process answering for the VIP: the load balancer on the node that holds it.
    pub(crate) fn vip_target(&self) -> Option<ProcId> {
        self.layout
            .vip_responder(self.vip_holder? as usize)
            .map(id16)
    }

    /// The VIP goes where the last gratuitous ARP pointed the network (`claim`: a keepalived that
    /// became master or re-asserted itself). When that node removes the address (`!claim`), the
    /// network still delivers there and the packets are dropped: nobody answers until another
    /// keepalived claims it. A release by a node the network no longer points at changes nothing.
    fn set_vip(&mut self, proc: ProcId, claim: bool) {
        let node = self.procs[proc as usize].node;
        if claim {
            if self.vip_holder != Some(node) {
                self.vip_holder = Some(node);
                self.record(TraceKind::Vip { node: Some(node) });
            }
        } else if self.vip_holder == Some(node) {
            self.vip_holder = None;
            self.record(TraceKind::Vip { node: None });
        }
    }

    /// The run starts as the nodes are powered on: each node finishes booting at an independent moment
    /// within `settings.nodes.boot_spread`, and each of its processes starts a little after that (see
    /// [`World::schedule_starts`]). Real clusters never start every process in the same nanosecond; doing
    /// so put every etcd ticker, kubelet lease and retry loop in phase (issue 10, item 1).
    fn schedule_initial_boot(&mut self) {
        let spread_ns = self.scenario.settings.nodes.boot_spread.ns();
        for n in 0..self.net.hosts() {
            let at = self.now + draw_below(&mut self.boot_rng[n], spread_ns + 1);
            self.queue_starts(id16(n), at, true);
        }
    }

    /// Schedules the start of every process of node `n` at `booted_ns` plus a per-process start jitter:
    /// systemd and the kubelet start the node's services and static pods one after another, each
    /// container start taking a fraction of a second. Assumption (not a measured figure): uniform in
    /// [0, 1 s), drawn from the node's own boot stream.
    pub(crate) fn schedule_starts(&mut self, n: NodeId, booted_ns: Nanos) {
        self.queue_starts(n, booted_ns, false);
    }

    /// [`World::schedule_starts`], in the script band for the run's initial boot (it is scheduled
    /// before the faults, so it keeps its place ahead of them).
    fn queue_starts(&mut self, n: NodeId, booted_ns: Nanos, script: bool) {
        for p in 0..self.procs.len() {
            if self.procs[p].node != n {
                continue;
            }
            let jitter = draw_below(&mut self.boot_rng[n as usize], PROCESS_START_JITTER_NS);
            let inc = self.procs[p].incarnation;
            let ev = Event::Start { proc: id16(p), inc };
            if script {
                self.push_script(booted_ns + jitter, ev);
            } else {
                self.push(booted_ns + jitter, ev);
            }
        }
    }

    /// Starts (or restarts) a process.
    pub fn start_proc(&mut self, proc: ProcId) {
        let node = self.procs[proc as usize].node;
        if !self.net.host_up(node) || self.procs[proc as usize].alive {
            return;
        }
        {
            let now = self.now;
            let p = &mut self.procs[proc as usize];
            p.incarnation += 1;
            p.alive = true;
            p.started_ns = now;
        }
        let mut started = true;
        self.record(TraceKind::Proc {
            proc,
            state: ProcState::Up,
        });
        self.dispatch(proc, |comp, ctx| started = comp.start(ctx));
        if !started {
            let p = &mut self.procs[proc as usize];
            p.alive = false;
            p.incarnation += 1;
            self.record(TraceKind::Proc {
                proc,
                state: ProcState::Down,
            });
        } else {
            self.tell_kubelet(proc, true);
        }
        self.quiet_world_changed();
    }

    /// Crashes a process: volatile state, timers and connections are gone.
    pub fn crash_proc(&mut self, proc: ProcId) {
        if !self.procs[proc as usize].alive {
            return;
        }
        self.quiet_world_changed();
        let p = &self.procs[proc as usize];
        // A process that dies on a live host (killed, crashed, exited) has its connections closed
        // by the kernel: a peer with a request held open on one (a watch) gets the reset at once.
        // A host that lost its power sends nothing: its peers find out by their own timeouts.
        let resets = if self.net.host_up(p.node) {
            p.comp.held_requests()
        } else {
            Vec::new()
        };
        let p = &mut self.procs[proc as usize];
        p.alive = false;
        p.incarnation += 1;
        // SIGKILL ends a stall too: what waited for the process dies with it.
        p.paused = 0;
        p.defragging = false;
        p.held.clear();
        p.comp.crash();
        self.quiet_world_changed();
        self.tell_kubelet(proc, false);
        // A crashed keepalived leaves the VIP configured on the interface: the node keeps answering for
        // it until the host goes down or a backup claims it with a gratuitous ARP.
        self.record(TraceKind::Proc {
            proc,
            state: ProcState::Down,
        });
        for (peer, id) in resets {
            self.send_raw(proc, peer, Msg::ConnRefused { id });
        }
    }

    /// The kubelet kills a container (a failed probe): SIGTERM, SIGKILL after the pod's
    /// `terminationGracePeriodSeconds` (30 s: kubeadm's static pods leave the default), then the
    /// restart back-off, as for an exit.
    fn kill_container(&mut self, proc: ProcId) {
        if !self.procs[proc as usize].alive {
            return;
        }
        // A stopped process (a `pause`: SIGSTOP) leaves SIGTERM pending; SIGKILL ends it anyway.
        let mut graceful = self.procs[proc as usize].paused > 0;
        if !graceful {
            self.dispatch(proc, |comp, ctx| {
                graceful = comp.stop(ctx) == crate::components::Stopping::Graceful
            });
        }
        if graceful {
            let inc = self.procs[proc as usize].incarnation;
            self.push(
                self.now.saturating_add(30 * crate::engine::SEC),
                Event::GraceOver { proc, inc },
            );
        } else {
            self.exit_proc(proc);
        }
    }

    /// The running kubelet of `node`, if it has one.
    fn node_kubelet(&self, node: NodeId) -> Option<ProcId> {
        self.procs
            .iter()
            .position(|p| p.node == node && p.alive && matches!(p.comp, Component::Kubelet(_)))
            .map(id16)
    }

    /// The runtime's report to the node's kubelet (PLEG) that a probed container (kube-apiserver, a
    /// stacked etcd member, kube-controller-manager, kube-scheduler) started or stopped: the kubelet's probe worker follows its life.
    fn tell_kubelet(&mut self, proc: ProcId, started: bool) {
        if !matches!(
            self.procs[proc as usize].comp,
            Component::ApiServer(_) | Component::Etcd(_) | Component::Elector(_)
        ) {
            return;
        }
        let Some(k) = self.node_kubelet(self.procs[proc as usize].node) else {
            return;
        };
        self.dispatch(k, |comp, ctx| {
            if let Component::Kubelet(k) = comp {
                if started {
                    k.container_started(ctx, proc);
                } else {
                    k.container_stopped(proc);
                }
            }
        });
    }

    fn exit_proc(&mut self, proc: ProcId) {
        self.crash_proc(proc);
        let now = self.now;
        let s = &self.scenario.settings.kubelet;
        let p = &mut self.procs[proc as usize];
        // The kubelet forgets a container's back-off once it ran for twice the cap
        // (client-go flowcontrol.Backoff garbage-collects entries older than 2 x max).
        if now.saturating_sub(p.started_ns) > 2 * s.restart_backoff_max.ns() {
            p.exits = 0;
        }
        p.exits += 1;
        // Container restart back-off (k/k pkg/kubelet/kuberuntime doBackOff): the first exit is
        // restarted at the next pod sync (about 1 s after the PLEG notices), later ones wait 10 s
        // doubling to 5 m.
        let backoff = if p.exits == 1 {
            crate::engine::SEC
        } else {
            s.restart_backoff_initial
                .ns()
                .saturating_mul(1u64 << (p.exits - 2).min(20))
                .min(s.restart_backoff_max.ns())
        };
        let inc = p.incarnation;
        self.push(
            self.now.saturating_add(backoff),
            Event::Restart { proc, inc },
        );
        // The node's kubelet says so in its own words (kuberuntime's CrashLoopBackOff error from
        // `SyncPod`, logged by the pod workers), as `journalctl -u kubelet` shows it.
        if backoff > crate::engine::SEC {
            let node = self.procs[proc as usize].node;
            if let Some(k) = self.node_kubelet(node) {
                let name = self.layout.procs[proc as usize].kind.name();
                let pod = format!("{name}-{}", self.layout.nodes[node as usize].name);
                self.record(TraceKind::Log {
                    proc: k,
                    text: format!(
                        "\"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"{name}\\\" with CrashLoopBackOff: \\\"back-off {} restarting failed container={name} pod={pod}_kube-system\\\"\" pod=\"kube-system/{pod}\"",
                        go_duration(backoff)
                    ),
                });
            }
        }
    }

    /// Re-evaluates the capabilities after a state change.
    fn observe_now(&mut self) {
        let mut observer = std::mem::take(&mut self.observer);
        let changes = observer.evaluate(self);
        self.observer = observer;
        for kind in changes {
            self.trace.push(self.now, kind);
        }
    }
}

/// A duration as Go's `time.Duration.String` prints whole seconds: `10s`, `1m20s`, `5m0s`.
fn go_duration(ns: Nanos) -> String {
    let s = ns / crate::engine::SEC;
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::msg::{ApiUser, ConnId, KvOp};

    /// The requests (id, arrival) the world has queued for delivery, in delivery order.
    fn deliveries(w: &mut World) -> Vec<(u64, Nanos)> {
        let mut out = Vec::new();
        while let Some((t, next)) = w.next_due(Nanos::MAX) {
            let Next::Slot(idx) = next else { continue };
            if let Some(Event::Deliver {
                msg: Msg::ApiReq { id, .. },
                ..
            }) = w.slab[idx as usize].take()
            {
                out.push((id, t));
            }
        }
        out
    }

    /// A TCP connection delivers in order: a request sent right behind another on the same
    /// connection never arrives before it, though each draws its own latency. (Before, a request
    /// continuing a connection overtook the one opening it about half the time, and HAProxy reset
    /// it as a segment of a connection it did not have.) Requests on different connections are
    /// still independent.
    #[test]
    fn a_connection_delivers_in_the_order_sent() {
        let text = r#"{"name":"t","duration":"1m","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1},"settings":{"network":{"jitter":1.0}}}"#;
        let plan = crate::scenario::parse_scenario(text, "t.json").expect("test scenario");
        let mut w = World::build(&plan, 1);
        let (from, to) = (0, id16(w.procs.len() - 1));
        assert_ne!(w.procs[from as usize].node, w.procs[to as usize].node);
        let req = |id: u64, generation: u32, continues: bool| Msg::ApiReq {
            id,
            op: KvOp::Get {
                key: 1,
                linearizable: true,
            },
            conn: ConnId {
                stream: 0,
                generation,
                continues,
            },
            user: ApiUser::User,
        };
        // Pairs on one connection each (its opening request, then one continuing it).
        for g in 0..200u32 {
            w.send_raw(from, to, req(2 * u64::from(g), g, false));
            w.send_raw(from, to, req(2 * u64::from(g) + 1, g, true));
        }
        let order = deliveries(&mut w);
        assert_eq!(order.len(), 400);
        let pos = |id: u64| order.iter().position(|(i, _)| *i == id).unwrap();
        for g in 0..200u64 {
            assert!(pos(2 * g) < pos(2 * g + 1), "connection {g}: {order:?}");
        }
        // Alternating between two connections: no order is kept across them, so with this
        // jitter some later request arrives first.
        for i in 0..200u64 {
            w.send_raw(from, to, req(1000 + i, 1000 + (i % 2) as u32, true));
        }
        let order = deliveries(&mut w);
        assert!(order.windows(2).any(|p| p[0].0 > p[1].0), "{order:?}");
    }
}

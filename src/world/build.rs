//! Building the world from a scenario: hosts in zones, the processes of the topology with their
//! configuration (peer lists, endpoints), each with its own random stream.

use super::faults::ResolvedFault;
use super::invariants::Invariants;
use super::observer::Observer;
use super::{Proc, ReplyConns, World};
use crate::components;
use crate::engine::rng::stream;
use crate::engine::{id16, EventQueue};
use crate::net::Network;
use crate::observe::Trace;
use crate::scenario::plan::Plan;

/// The boot-time streams, one per node: `stream(seed, BOOT_STREAMS | node)`, apart from the
/// processes' streams (`stream(seed, proc)`) and the network's (`crate::net::SENDER_STREAMS | node`).
const BOOT_STREAMS: u64 = 1 << 62;

impl World {
    /// Builds the world for a plan, with `seed` as the root of all randomness.
    pub fn build(scenario: &Plan, seed: u64) -> World {
        let layout = scenario.layout.clone();
        let s = &scenario.settings;
        let zone_of = layout.nodes.iter().map(|n| id16(n.zone)).collect();
        let net = Network::new(zone_of, &s.network.links(), seed);
        let hosts = layout.nodes.len();
        let boot_rng = (0..hosts as u64)
            .map(|n| stream(seed, BOOT_STREAMS | n))
            .collect();
        let mut procs = Vec::with_capacity(layout.procs.len());
        for (i, spec) in layout.procs.iter().enumerate() {
            let id = id16(i);
            let comp = components::build(scenario, id, spec.kind);
            procs.push(Proc {
                id,
                node: id16(spec.node),
                alive: false,
                incarnation: 0,
                comp,
                rng: stream(seed, i as u64),
                exits: 0,
                started_ns: 0,
                held_down: 0,
                paused: 0,
                defragging: false,
                held: Vec::new(),
            });
        }
        let end_ns = scenario.duration_ns;
        let faults = scenario
            .faults
            .iter()
            .cloned()
            .map(ResolvedFault::new)
            .collect();
        let max_events = crate::engine::event_bound(end_ns, scenario.load.requests_per_second);
        World {
            now: 0,
            end_ns,
            seed,
            scenario: scenario.clone(),
            layout,
            procs,
            net,
            reply_conn: ReplyConns::default(),
            last_sent: Vec::new(),
            trace: Trace::new(),
            faults,
            vip_holder: None,
            invariants: {
                let mut inv = Invariants::default();
                inv.lease_duration_ns = s.leader_election.lease_duration.ns();
                inv.lease_overrun_allowed =
                    crate::scenario::cert_clock::lease_overrun_possible(scenario);
                inv
            },
            observer: Observer::default(),
            events_processed: 0,
            max_events,
            boot_rng,
            booting: vec![false; hosts],
            boot_gen: vec![0; hosts],
            clocks: vec![Default::default(); hosts],
            certs: super::tls::Certs::new(hosts),
            queue: EventQueue::new(),
            deadlines: Default::default(),
            shortcuts: s.engine.shortcuts,
            lazy_heartbeats: s.engine.shortcuts && s.engine.lazy_heartbeats,
            quiet_ok: false,
            quiet: Default::default(),
            slab: Vec::new(),
            free: Vec::new(),
            out: Vec::new(),
            dirty: false,
            observe_always: false,
            started: false,
        }
    }
}

//! Building the world from a scenario: hosts in zones, the processes of the topology with their
//! configuration (peer lists, endpoints), each with its own random stream.

use super::ctx::{ProcId, VIP};
use super::faults::ResolvedFault;
use super::invariants::Invariants;
use super::observer::Observer;
use super::{Proc, World};
use crate::components::client::{interval_for, ClientConfig, ClientTarget, LoadClient};
use crate::components::etcd::member::{EtcdConfig, EtcdMember};
use crate::components::Component;
use crate::engine::rng::stream;
use crate::engine::{EventQueue, MIN};
use crate::net::Network;
use crate::observe::Trace;
use crate::scenario::model::LoadTarget;
use crate::scenario::plan::{Endpoint, Plan};
use crate::topology::{Layout, ProcKind};

impl World {
    /// Builds the world for a plan, with `seed` as the root of all randomness.
    pub fn build(scenario: &Plan, seed: u64) -> World {
        let layout = scenario.layout.clone();
        let s = &scenario.settings;
        let zone_of = layout.nodes.iter().map(|n| n.zone as u16).collect();
        let net = Network::new(zone_of, &s.network.links(), stream(seed, u64::MAX));
        let etcd_procs: Vec<ProcId> = layout
            .procs_of(ProcKind::Etcd)
            .map(|p| p as ProcId)
            .collect();
        let peers: Vec<(u64, ProcId)> = etcd_procs
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 + 1, *p))
            .collect();
        let tick_ns = s.etcd.heartbeat_interval.ns().max(1);
        // Validation bounds the heartbeat below (1 ms) and the election timeout above (50 s), so the
        // tick count fits easily; saturate rather than wrap if that ever changes.
        let election_tick = u32::try_from(s.etcd.election_timeout.ns() / tick_ns)
            .unwrap_or(u32::MAX)
            .max(1);
        let mut procs = Vec::with_capacity(layout.procs.len());
        for (i, spec) in layout.procs.iter().enumerate() {
            let id = i as ProcId;
            let comp = match spec.kind {
                ProcKind::Etcd => {
                    let member_id = peers
                        .iter()
                        .find(|(_, p)| *p == id)
                        .map(|(m, _)| *m)
                        .unwrap_or(0);
                    Component::Etcd(Box::new(EtcdMember::new(EtcdConfig {
                        member_id,
                        peers: peers.clone(),
                        tick_ns,
                        election_tick,
                        pre_vote: s.etcd.pre_vote,
                        check_quorum: s.etcd.check_quorum,
                        initial_election_tick_advance: s.etcd.initial_election_tick_advance,
                        fsync_latency_ns: s.etcd.fsync_latency.ns(),
                        request_timeout_ns: s.etcd.effective_request_timeout(),
                    })))
                }
                ProcKind::Client => {
                    let target = match scenario.load.target {
                        LoadTarget::Etcd => ClientTarget::Etcd(etcd_procs.clone()),
                        LoadTarget::Api => ClientTarget::Api(endpoint_proc(scenario, &layout)),
                    };
                    Component::Client(LoadClient::new(ClientConfig {
                        target,
                        interval_ns: interval_for(scenario.load.requests_per_second),
                        write_ratio: scenario.load.write_ratio,
                        timeout_ns: scenario.load.timeout.ns(),
                        start_ns: 0,
                    }))
                }
                _ => crate::components::build_control_plane(scenario, &layout, id, spec.kind),
            };
            procs.push(Proc {
                id,
                node: spec.node as u16,
                alive: false,
                incarnation: 0,
                comp,
                rng: stream(seed, i as u64),
                exits: 0,
                started_ns: 0,
                held_down: 0,
            });
        }
        let end_ns = scenario.duration_ns;
        let faults = scenario
            .faults
            .iter()
            .cloned()
            .map(ResolvedFault::new)
            .collect();
        // A generous bound: a busy 100-worker cluster needs well under a million events per simulated
        // minute; ten times that means something is storming.
        let minutes = end_ns / MIN + 1;
        let max_events = 20_000_000u64.saturating_add(minutes.saturating_mul(5_000_000));
        World {
            now: 0,
            end_ns,
            scenario: scenario.clone(),
            layout,
            procs,
            net,
            trace: Trace::new(),
            faults,
            vip_holder: None,
            invariants: {
                let mut inv = Invariants::default();
                inv.lease_duration_ns = s.leader_election.lease_duration.ns();
                inv
            },
            observer: Observer::default(),
            events_processed: 0,
            max_events,
            queue: EventQueue::new(),
            slab: Vec::new(),
            free: Vec::new(),
            out: Vec::new(),
            dirty: false,
        }
    }
}

/// The process clients reach for the cluster endpoint.
pub fn endpoint_proc(scenario: &Plan, layout: &Layout) -> ProcId {
    match scenario.topology.endpoint {
        Endpoint::Direct { cp } => layout
            .proc_index(&format!("cp-{cp}/kube-apiserver"))
            .map_or(VIP, |p| p as ProcId),
        Endpoint::LoadBalancer => {
            let mut lbs = layout.procs_of(ProcKind::Haproxy);
            match (lbs.next(), lbs.next()) {
                // One load balancer and no VIP: clients talk to it directly.
                (Some(only), None) => only as ProcId,
                // Two or more: the VIP, answered by whichever holds it.
                (Some(_), Some(_)) | (None, _) => VIP,
            }
        }
    }
}

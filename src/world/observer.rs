//! The observers: after every state change they decide, from the ground truth of the world (who is
//! alive, who leads, what the network lets through), whether each capability is up, and trace changes.
//! They only read; nothing in the model depends on them.

use super::World;
use crate::components::ctx::ProcId;
use crate::components::etcd::types::Role;
use crate::components::Component;
use crate::engine::{id16, Nanos};
use crate::observe::{Capability, TraceKind};
use crate::topology::ProcKind;

/// Capability states last traced.
#[derive(Clone, Default)]
pub struct Observer {
    state: [Option<bool>; 5],
    ready: Vec<(u32, u32)>,
    /// Per process: the scrape state last traced.
    scrape: Vec<Option<bool>>,
    /// Per process: the etcd member's `(has_leader, peer_failures)` last traced.
    etcd: Vec<Option<(bool, bool)>>,
    /// The proxy-table summaries of the last evaluation, reused while nothing they read changed.
    tables: TableCache,
}

fn cap_index(c: Capability) -> usize {
    match c {
        Capability::Api => 0,
        Capability::EtcdQuorum => 1,
        Capability::Scheduling => 2,
        Capability::Reconciliation => 3,
        Capability::Workloads => 4,
    }
}

impl Observer {
    /// Re-evaluates the capabilities; returns trace events for those that changed.
    pub fn evaluate(&mut self, w: &World) -> Vec<TraceKind> {
        let mut out = Vec::new();
        let leader = quorum_leader(w);
        let etcd_up = leader.is_some();
        self.set(Capability::EtcdQuorum, etcd_up, &mut out);
        // Without load there are no requests to measure `api` by: it is judged from the cluster's state.
        if w.scenario.load.requests_per_second == 0.0
            && w.layout.procs_of(ProcKind::ApiServer).next().is_some()
        {
            self.set(Capability::Api, api_reachable(w, leader), &mut out);
        }
        let has_cp = w.layout.procs_of(ProcKind::Scheduler).next().is_some();
        if has_cp {
            for (kind, cap) in [
                (ProcKind::Scheduler, Capability::Scheduling),
                (ProcKind::ControllerManager, Capability::Reconciliation),
            ] {
                // Up while some instance that believes it leads is alive and can get writes through.
                let effective = w.layout.procs_of(kind).any(|p| {
                    let proc = &w.procs[p];
                    proc.running() && proc.comp.acting() && api_path_ok(w, id16(p), leader)
                });
                self.set(cap, effective, &mut out);
            }
        }
        if !w.scenario.workloads.is_empty() {
            let ready = ready_replicas_cached(w, &mut self.tables);
            self.ready.resize(ready.len(), (u32::MAX, u32::MAX));
            for (i, r) in ready.iter().enumerate() {
                if self.ready[i] != *r {
                    self.ready[i] = *r;
                    out.push(TraceKind::WorkloadReady {
                        workload: id16(i),
                        ready: r.0,
                        reachable_ppm: r.1,
                    });
                }
            }
            let all = w
                .scenario
                .workloads
                .iter()
                .zip(&ready)
                .all(|(wl, (r, _))| *r >= wl.replicas);
            self.set(Capability::Workloads, all, &mut out);
        }
        self.monitoring(w, &mut out);
        out
    }

    /// What a Prometheus scraping the cluster sees (`observe::alerts` derives the alerts from it): each
    /// scraped process's `up`, and each live etcd member's own `etcd_server_has_leader` and peer send
    /// failures. Prometheus stands where the load's clients stand (the client node), outside the
    /// cluster; without a client node, a scrape succeeds while the process runs on a live node.
    fn monitoring(&mut self, w: &World, out: &mut Vec<TraceKind>) {
        let n = w.procs.len();
        self.scrape.resize(n, None);
        self.etcd.resize(n, None);
        let vantage = w
            .layout
            .nodes
            .iter()
            .position(|n| n.kind == crate::topology::NodeKind::Client)
            .map(id16);
        let members: Vec<usize> = w.layout.procs_of(ProcKind::Etcd).collect();
        for (i, spec) in w.layout.procs.iter().enumerate() {
            if !crate::observe::alerts::scraped(spec.kind) {
                continue;
            }
            let p = &w.procs[i];
            // A stalled process (a `pause`) answers no scrape either.
            let up = p.running()
                && w.net.host_up(p.node)
                && vantage.is_none_or(|v| w.net.reachable(v, p.node));
            if self.scrape[i] != Some(up) {
                self.scrape[i] = Some(up);
                out.push(TraceKind::Scrape { proc: id16(i), up });
            }
            let Some(raft) = p.comp.raft().filter(|_| p.running()) else {
                continue;
            };
            let has_leader = raft.leader().is_some();
            let peer_failures = members.iter().any(|&o| {
                o != i && (!w.procs[o].running() || !w.net.reachable(p.node, w.procs[o].node))
            });
            if self.etcd[i] != Some((has_leader, peer_failures)) {
                self.etcd[i] = Some((has_leader, peer_failures));
                out.push(TraceKind::EtcdHealth {
                    proc: id16(i),
                    has_leader,
                    peer_failures,
                });
            }
        }
    }

    /// Whether scheduling and reconciliation were both up at the last evaluation.
    pub fn leaders_up(&self) -> bool {
        [Capability::Scheduling, Capability::Reconciliation]
            .iter()
            .all(|&c| self.state[cap_index(c)] == Some(true))
    }

    fn set(&mut self, cap: Capability, up: bool, out: &mut Vec<TraceKind>) {
        let i = cap_index(cap);
        if self.state[i] != Some(up) {
            self.state[i] = Some(up);
            out.push(TraceKind::Cap { cap, up });
        }
    }
}

/// The etcd member that leads with a quorum of live members it can reach, if any.
pub fn quorum_leader(w: &World) -> Option<ProcId> {
    let mut best: Option<(u64, ProcId)> = None;
    for m in w.layout.procs_of(ProcKind::Etcd) {
        let p = &w.procs[m];
        if !p.running() {
            continue;
        }
        let Some(raft) = p.comp.raft() else { continue };
        if raft.role() != Role::Leader {
            continue;
        }
        // The quorum is of the voters in the leader's membership (all members unless a
        // `member-remove` or `member-add` changed it).
        let voters = p.comp.etcd().map(|e| e.voter_procs()).unwrap_or_default();
        let quorum = voters.len() / 2 + 1;
        let reach = voters
            .iter()
            .map(|&o| o as usize)
            .filter(|&o| w.procs[o].running() && w.net.reachable(p.node, w.procs[o].node))
            .count();
        if reach >= quorum && best.is_none_or(|(t, _)| raft.term() > t) {
            best = Some((raft.term(), id16(m)));
        }
    }
    best.map(|(_, p)| p)
}

/// Whether an etcd member can get writes committed: it is the quorum leader or reaches it.
pub fn member_can_write(w: &World, member: ProcId, leader: Option<ProcId>) -> bool {
    let Some(l) = leader else { return false };
    let m = &w.procs[member as usize];
    m.running()
        && !m.defragging
        && (member == l || w.net.reachable(m.node, w.procs[l as usize].node))
}

/// Whether an API server is serving and can write through one of its etcd endpoints.
pub fn apiserver_can_write(w: &World, api: ProcId, leader: Option<ProcId>) -> bool {
    let a = &w.procs[api as usize];
    if !a.running() || !a.comp.serving() {
        return false;
    }
    a.comp.etcd_endpoints().iter().any(|&m| {
        w.net.reachable(a.node, w.procs[m as usize].node) && member_can_write(w, m, leader)
    })
}

/// Whether a controller (scheduler, controller manager, kubelet) can get a write through the API path
/// it is configured with.
pub fn api_path_ok(w: &World, from: ProcId, leader: Option<ProcId>) -> bool {
    let node = w.procs[from as usize].node;
    let is_lb = |t: ProcId| w.layout.procs[t as usize].kind == ProcKind::Haproxy;
    match w.procs[from as usize].comp.api_target() {
        Some(t) if t == crate::components::ctx::VIP || is_lb(t) => {
            let lb = if t == crate::components::ctx::VIP {
                w.vip_target().map(|p| &w.procs[p as usize])
            } else {
                Some(&w.procs[t as usize])
            };
            let Some(lb) = lb else { return false };
            if !lb.running() || !w.net.reachable(node, lb.node) {
                return false;
            }
            w.layout.procs_of(ProcKind::ApiServer).any(|a| {
                w.net.reachable(lb.node, w.procs[a].node) && apiserver_can_write(w, id16(a), leader)
            })
        }
        Some(t) => {
            w.net.reachable(node, w.procs[t as usize].node) && apiserver_can_write(w, t, leader)
        }
        None => false,
    }
}

/// Whether a request from the load's node through the cluster endpoint would reach an API server that
/// serves and can write: the `api` capability when there is no load (`requests_per_second` 0) to
/// measure it by. Through a load balancer, the one answering the endpoint (the VIP holder's, or the
/// only one) must be alive and reachable, and one of the backends it marks UP must be reachable from
/// it, serve and be able to write: HAProxy sends new requests only to those, and with `option
/// redispatch` a dead one among them costs a retry, not the request. (With redispatch off, requests
/// to such a dead backend fail, which this judgement does not count: it asks whether a request can
/// succeed, not what share does.) A direct endpoint is that API server.
pub fn api_reachable(w: &World, leader: Option<ProcId>) -> bool {
    let Some(client) = w.layout.procs_of(ProcKind::Client).next() else {
        return false;
    };
    let from = w.procs[client].node;
    let endpoint = crate::components::endpoint_proc(&w.scenario);
    let target = if endpoint == crate::components::ctx::VIP {
        match w.vip_target() {
            Some(p) => p,
            None => return false,
        }
    } else {
        endpoint
    };
    let t = &w.procs[target as usize];
    if !t.running() || !w.net.reachable(from, t.node) {
        return false;
    }
    match &t.comp {
        Component::Haproxy(h) => h.up_backends().any(|a| {
            w.net.reachable(t.node, w.procs[a as usize].node) && apiserver_can_write(w, a, leader)
        }),
        Component::ApiServer(_) => apiserver_can_write(w, target, leader),
        // The endpoint is a load balancer or an API server.
        Component::Etcd(_)
        | Component::Client(_)
        | Component::Keepalived(_)
        | Component::Elector(_)
        | Component::Kubelet(_)
        | Component::Informers(_) => false,
    }
}

/// What users reach of each workload through its Service: `(ready, reachable_ppm)`.
///
/// Users enter on the worker nodes they can reach (kubeadm labels control-plane nodes
/// `node.kubernetes.io/exclude-from-external-load-balancers`; with no workers, every node with a
/// kubelet is an entry) once its kube-proxy has synced since boot (its `/healthz` on port 10256 fails
/// until then, k/k pkg/proxy/healthcheck/proxier_health.go, so no load balancer sends users there),
/// and that node's kube-proxy sends each request to one of the endpoints it last
/// programmed, uniformly. An endpoint serves if its pod's containers run and are ready on a node that
/// is up and that the entry node reaches. `ready` counts the endpoints that serve through every entry
/// node (a pod that left the Service, or that some entry cannot reach, does not count);
/// `reachable_ppm` is the fraction of requests, in parts per million, that reach a serving pod
/// (requests to a dead pod still in the rules are black-holed; no endpoints at all is a refusal).
pub fn ready_replicas(w: &World) -> Vec<(u32, u32)> {
    ready_replicas_cached(w, &mut TableCache::default())
}

/// A proxy table summarised: its endpoints per workload and, per node hosting them, those whose pod
/// serves.
#[derive(Clone)]
struct Summary {
    /// The table summarised, when in uid order: a change to a running pod outside it leaves the
    /// summary as it is.
    table: Option<std::sync::Arc<[(u64, crate::components::objects::EndpointObj)]>>,
    total: Vec<u32>,
    /// Serving endpoints per (node, workload), `nodes x n`, and the nodes with any.
    serving: Vec<u32>,
    hosts: Vec<u16>,
    /// Serving endpoints per workload over every node: what every entry reaches when nothing
    /// is partitioned (`serving` holds only pods on nodes that are up).
    all: Vec<u32>,
}

/// Summaries by table fingerprint, valid while every kubelet's `serving_version` and every node's
/// power are as they were, every clock is perfect, and no listed pod has become ready since (the
/// earliest such moment is `valid_until`). The observer runs after every state change, and with a
/// thousand workers rebuilding the summaries of 5000 endpoints each time was most of the run.
#[derive(Clone, Default)]
struct TableCache {
    key: Vec<(u64, bool)>,
    valid_until: Nanos,
    summaries: std::collections::BTreeMap<u64, Summary>,
    /// Every running pod as (uid, node, ready at), sorted: what the summaries look endpoints up
    /// in. It changes only with a kubelet's `serving_version` (part of `key`); while a thousand
    /// workers start their pods, the kube-proxies hold dozens of table versions, and looking each
    /// endpoint up in its node's kubelet made the summaries most of the warm-up.
    running: Vec<(u64, u16, Nanos)>,
}

/// The uids of the entries in one sorted list and not in the other.
fn symmetric_difference(a: &[(u64, u16, Nanos)], b: &[(u64, u16, Nanos)]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => (i, j) = (i + 1, j + 1),
            (Some(x), Some(y)) if x < y => {
                out.push(x.0);
                i += 1;
            }
            (Some(_), Some(y)) | (None, Some(y)) => {
                out.push(y.0);
                j += 1;
            }
            (Some(x), None) => {
                out.push(x.0);
                i += 1;
            }
            (None, None) => unreachable!("the loop's condition"),
        }
    }
    out
}

fn ready_replicas_cached(w: &World, cache: &mut TableCache) -> Vec<(u32, u32)> {
    let n = w.scenario.workloads.len();
    let nodes = w.layout.nodes.len();
    let users = w
        .layout
        .nodes
        .iter()
        .position(|n| n.kind == crate::topology::NodeKind::Client)
        .map(id16);
    // Indexed by node (this runs after every state change).
    let mut kubelets: Vec<Option<&crate::components::kubelet::Kubelet>> = vec![None; nodes];
    for p in &w.procs {
        if let Component::Kubelet(k) = &p.comp {
            kubelets[p.node as usize] = Some(&**k);
        }
    }
    let is_worker = |node: usize| w.layout.nodes[node].kind == crate::topology::NodeKind::Worker;
    let any_worker = (0..nodes).any(|node| kubelets[node].is_some() && is_worker(node));
    let entries = (0..nodes).filter_map(|node| {
        let k = kubelets[node]?;
        let entry = id16(node);
        ((!any_worker || is_worker(node))
            && k.proxy_synced
            && w.net.host_up(entry)
            && users.is_none_or(|u| w.net.reachable(u, entry)))
        .then_some((entry, k))
    });
    // Most nodes' kube-proxies hold the same table: summarise each distinct table once.
    let unpartitioned = w.net.unpartitioned();
    let key: Vec<(u64, bool)> = (0..nodes)
        .filter_map(|node| {
            let k = kubelets[node]?;
            Some((k.serving_version, w.net.host_up(id16(node))))
        })
        .collect();
    let clocks_perfect = w.clocks.iter().all(|c| c.is_perfect());
    if key != cache.key {
        let mut running = Vec::with_capacity(cache.running.len());
        for (node, k) in kubelets.iter().enumerate() {
            if let Some(k) = k {
                running.extend(
                    k.running
                        .iter()
                        .map(|(&uid, p)| (uid, id16(node), p.ready_at_ns)),
                );
            }
        }
        running.sort_unstable();
        let hosts_changed =
            key.len() != cache.key.len() || key.iter().zip(&cache.key).any(|(a, b)| a.1 != b.1);
        if hosts_changed {
            cache.summaries.clear();
        } else {
            // Only summaries whose tables list a pod that started, stopped or moved are stale:
            // while pods start, none is listed yet (endpoints are published once ready).
            let changed = symmetric_difference(&cache.running, &running);
            cache.summaries.retain(|_, s| {
                s.table.as_ref().is_some_and(|t| {
                    !changed
                        .iter()
                        .any(|u| t.binary_search_by_key(u, |e| e.0).is_ok())
                })
            });
        }
        cache.running = running;
        cache.key = key;
    }
    if !clocks_perfect || w.now >= cache.valid_until {
        cache.valid_until = Nanos::MAX;
        cache.summaries.clear();
    }
    let running = &cache.running;
    let mut ready = vec![u32::MAX; n];
    let mut reach = vec![0f64; n];
    let mut count = 0u32;
    let mut good = vec![0u32; n];
    for (entry, k) in entries {
        count += 1;
        let valid_until = &mut cache.valid_until;
        let sum = cache.summaries.entry(k.proxy_fp).or_insert_with(|| {
            let sorted = k.proxy.windows(2).all(|p| p[0].0 < p[1].0);
            let mut s = Summary {
                table: sorted.then(|| k.proxy.clone()),
                total: vec![0; n],
                serving: vec![0; nodes * n],
                hosts: Vec::new(),
                all: vec![0; n],
            };
            // The table is in uid order (etcd's key order), as is `running`: a merge, with a
            // search when the order breaks.
            let mut at = 0usize;
            for &(uid, ep) in k.proxy.iter() {
                let i = ep.workload as usize;
                if i >= n {
                    continue;
                }
                s.total[i] += 1;
                let node = ep.node as usize;
                if at > 0 && running[at - 1].0 >= uid {
                    at = running.partition_point(|r| r.0 < uid);
                }
                while at < running.len() && running[at].0 < uid {
                    at += 1;
                }
                // The pod as the kubelet of the node it is bound to runs it.
                let ready_at = running[at..]
                    .iter()
                    .take_while(|r| r.0 == uid)
                    .find(|r| usize::from(r.1) == node)
                    .map(|r| r.2);
                let local_now = w.clocks[node].local(w.now);
                let serves = w.net.host_up(ep.node) && ready_at.is_some_and(|at| at <= local_now);
                // A listed pod that turns ready later changes this summary then.
                if let Some(at) = ready_at.filter(|&at| at > local_now) {
                    *valid_until = (*valid_until).min(at);
                }
                if serves {
                    let row = &mut s.serving[node * n..(node + 1) * n];
                    if row.iter().all(|&c| c == 0) {
                        s.hosts.push(ep.node);
                    }
                    row[i] += 1;
                    s.all[i] += 1;
                }
            }
            s
        });
        if unpartitioned {
            good.copy_from_slice(&sum.all);
        } else {
            good.fill(0);
            for &node in &sum.hosts {
                if w.net.reachable(entry, node) {
                    let row = &sum.serving[node as usize * n..(node as usize + 1) * n];
                    for (g, c) in good.iter_mut().zip(row) {
                        *g += c;
                    }
                }
            }
        }
        for i in 0..n {
            ready[i] = ready[i].min(good[i]);
            if sum.total[i] > 0 {
                reach[i] += f64::from(good[i]) / f64::from(sum.total[i]);
            }
        }
    }
    (0..n)
        .map(|i| {
            if count == 0 {
                (0, 0)
            } else {
                // A mean of fractions (0..=1) in parts per million: 0..=1,000,000 fits.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ppm = (reach[i] / f64::from(count) * 1e6).round() as u32;
                (ready[i], ppm)
            }
        })
        .collect()
}

/// Whether every desired workload replica is ready (None when the scenario declares no workloads).
pub fn workload_ready(w: &World) -> Option<bool> {
    if w.scenario.workloads.is_empty() {
        return None;
    }
    let ready = ready_replicas(w);
    Some(
        w.scenario
            .workloads
            .iter()
            .zip(ready)
            .all(|(wl, (r, _))| r >= wl.replicas),
    )
}

/// One etcd member's log as it stands (for tests and diagnostics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdLogView {
    pub proc: ProcId,
    /// The first index still held (1 until compacted).
    pub first_index: u64,
    pub last_index: u64,
    pub commit: u64,
    /// Entries held in memory: the storage and the part not yet durable.
    pub entries_held: usize,
    /// The latest snapshot's index (0: none).
    pub snapshot_index: u64,
}

/// The log of every running etcd member.
pub fn etcd_logs(w: &World) -> Vec<EtcdLogView> {
    w.layout
        .procs_of(ProcKind::Etcd)
        .filter_map(|p| {
            let raft = w.procs[p].comp.raft()?;
            Some(EtcdLogView {
                proc: id16(p),
                first_index: raft.first_index(),
                last_index: raft.last_index(),
                commit: raft.commit(),
                entries_held: raft.entries_held(),
                snapshot_index: raft.snapshot().map_or(0, |s| s.index),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::symmetric_difference;

    #[test]
    fn symmetric_difference_names_pods_started_stopped_or_changed() {
        let before = [(1, 0, 5), (2, 0, 5), (4, 1, 7)];
        let after = [(2, 0, 5), (3, 1, 9), (4, 1, 8)];
        // 1 stopped, 3 started, 4 restarted (ready at another moment); 2 is as it was.
        assert_eq!(symmetric_difference(&before, &after), vec![1, 3, 4, 4]);
        assert!(symmetric_difference(&after, &after).is_empty());
        assert_eq!(symmetric_difference(&[], &after), vec![2, 3, 4]);
    }
}

//! Swarm test (in the spirit of TigerBeetle's VOPR): random valid scenarios over every topology shape and
//! every fault kind, each run twice. Every run must finish without a panic or a runaway, break no model
//! invariant, lose acknowledged writes only under a declared data-loss fault (wipe-data, restore), and
//! give byte-identical reports both times.
//!
//! `cargo test` runs a short swarm; `SWARM_SCENARIOS=10000 cargo test --release --test suite swarm`
//! runs a long one, and `SWARM_FIRST=10001` starts it past the first ten thousand seeds. A failure
//! prints the scenario and the replay command.

use kube_ha_sim::scenario::parse_scenario;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// What a random cluster looks like, to aim faults at names that exist.
struct Shape {
    stacked: bool,
    cps: u32,
    etcd_nodes: u32,
    workers: u32,
    zones: Vec<String>,
    lbs: u32,
    /// HAProxy and keepalived on the control-plane nodes (`lbs` is then `cps`) instead of lb-N nodes.
    lbs_on_cp: bool,
}

impl Shape {
    fn random(rng: &mut ChaCha8Rng) -> Shape {
        let stacked = rng.gen_bool(0.6);
        let zones = (0..rng.gen_range(1..=3))
            .map(|z| ["a", "b", "c"][z].to_string())
            .collect();
        let mut shape = Shape {
            stacked,
            cps: rng.gen_range(1..=5),
            etcd_nodes: if stacked { 0 } else { rng.gen_range(1..=5) },
            workers: rng.gen_range(0..=4),
            zones,
            lbs: rng.gen_range(0..=3),
            lbs_on_cp: false,
        };
        // Drawn last, so that the shapes drawn before this option existed keep their other fields.
        if rng.gen_bool(0.25) {
            shape.lbs_on_cp = true;
            shape.lbs = shape.cps;
        }
        shape
    }

    /// Nodes running HAProxy.
    fn lb_hosts(&self) -> Vec<String> {
        let prefix = if self.lbs_on_cp { "cp" } else { "lb" };
        (1..=self.lbs).map(|i| format!("{prefix}-{i}")).collect()
    }

    fn members(&self) -> u32 {
        if self.stacked {
            self.cps
        } else {
            self.etcd_nodes
        }
    }

    /// Nodes running an etcd member.
    fn etcd_hosts(&self) -> Vec<String> {
        let prefix = if self.stacked { "cp" } else { "etcd" };
        (1..=self.members())
            .map(|i| format!("{prefix}-{i}"))
            .collect()
    }

    /// Every cluster node.
    fn nodes(&self) -> Vec<String> {
        let mut out: Vec<String> = (1..=self.cps).map(|i| format!("cp-{i}")).collect();
        if !self.stacked {
            out.extend((1..=self.etcd_nodes).map(|i| format!("etcd-{i}")));
        }
        if !self.lbs_on_cp {
            out.extend(self.lb_hosts());
        }
        out.extend((1..=self.workers).map(|i| format!("worker-{i}")));
        out
    }

    /// Targets a crash, stop or restart may name: nodes, processes, zones and the selectors this
    /// shape has.
    fn any_target(&self, rng: &mut ChaCha8Rng) -> String {
        let mut pool = self.nodes();
        pool.extend((1..=self.cps).map(|i| format!("cp-{i}/kube-apiserver")));
        pool.extend(self.etcd_hosts().iter().map(|n| format!("{n}/etcd")));
        pool.extend(self.lb_hosts().iter().map(|n| format!("{n}/haproxy")));
        if self.lbs >= 2 {
            pool.extend(self.lb_hosts().iter().map(|n| format!("{n}/keepalived")));
        }
        pool.extend(self.zones.iter().map(|z| format!("zone:{z}")));
        if self.members() >= 1 {
            pool.push("leader:etcd".into());
        }
        if self.members() >= 2 {
            pool.push("follower:etcd".into());
        }
        if self.cps >= 1 {
            pool.push("leader:kube-scheduler".into());
            pool.push("leader:kube-controller-manager".into());
        }
        if self.lbs >= 2 {
            pool.push("vip-holder".into());
        }
        pool[rng.gen_range(0..pool.len())].clone()
    }

    fn etcd_target(&self, rng: &mut ChaCha8Rng) -> String {
        let hosts = self.etcd_hosts();
        match rng.gen_range(0..3) {
            0 => "leader:etcd".into(),
            1 if hosts.len() >= 2 => "follower:etcd".into(),
            _ => hosts[rng.gen_range(0..hosts.len())].clone(),
        }
    }

    /// Zones with at least one cluster node: the i-th node of each kind sits in zone i mod zones.
    fn populated_zones(&self) -> usize {
        let most = self
            .cps
            .max(self.etcd_nodes)
            .max(self.lbs)
            .max(self.workers) as usize;
        self.zones.len().min(most)
    }

    fn network_end(&self, rng: &mut ChaCha8Rng) -> String {
        if rng.gen_bool(0.3) && self.populated_zones() > 0 {
            format!(
                "zone:{}",
                self.zones[rng.gen_range(0..self.populated_zones())]
            )
        } else {
            let nodes = self.nodes();
            nodes[rng.gen_range(0..nodes.len())].clone()
        }
    }
}

/// One random fault of a random kind (every kind appears), at or after 20 s, within `duration_s`.
fn random_fault(rng: &mut ChaCha8Rng, shape: &Shape, duration_s: u32) -> Value {
    let at = rng.gen_range(20..duration_s);
    let mut f = json!({ "at": format!("{at}s") });
    let kind = [
        "crash",
        "stop",
        "restart",
        "partition",
        "isolate",
        "degrade-link",
        "slow-disk",
        "wipe-data",
        "restore",
        "pause",
        "defrag",
        "member-remove",
        "member-add",
        "expire-cert",
        "renew-cert",
        "clock-skew",
        "alarm-disarm",
    ][rng.gen_range(0..17)];
    f["kind"] = json!(kind);
    match kind {
        "crash" | "stop" | "restart" => f["target"] = json!(shape.any_target(rng)),
        "isolate" => {
            let nodes = shape.nodes();
            f["target"] = json!(nodes[rng.gen_range(0..nodes.len())]);
        }
        "partition" => {
            let nodes = shape.nodes();
            let cut = rng.gen_range(1..=nodes.len());
            let (left, right) = nodes.split_at(cut);
            let right = if right.is_empty() {
                vec!["client".to_string()]
            } else {
                right.to_vec()
            };
            f["groups"] = json!([left, right]);
        }
        "degrade-link" => {
            f["between"] = json!([shape.network_end(rng), shape.network_end(rng)]);
            f["latency"] = json!(format!("{}ms", rng.gen_range(1..300)));
            if rng.gen_bool(0.5) {
                f["loss"] = json!((rng.gen_range(0..60) as f64) / 100.0);
            }
        }
        "slow-disk" => {
            f["target"] = json!(shape.etcd_target(rng));
            f["fsync_latency"] = json!(format!("{}ms", rng.gen_range(5..1500)));
        }
        "wipe-data" | "defrag" | "member-remove" | "member-add" => {
            f["target"] = json!(shape.etcd_target(rng))
        }
        "pause" => f["target"] = json!(shape.any_target(rng)),
        "expire-cert" | "renew-cert" => f["cert"] = json!("all"),
        "clock-skew" => {
            let nodes = shape.nodes();
            f["target"] = json!(nodes[rng.gen_range(0..nodes.len())]);
            f["rate"] = json!(f64::from(rng.gen_range(50..200u32)) / 100.0);
        }
        "alarm-disarm" => {}
        _ => f["snapshot_at"] = json!(format!("{}s", rng.gen_range(1..=at))),
    }
    let undone = !matches!(
        kind,
        "restore" | "defrag" | "member-remove" | "member-add" | "renew-cert" | "alarm-disarm"
    );
    if undone && rng.gen_bool(0.7) {
        f["for"] = json!(format!("{}s", rng.gen_range(1..90)));
    }
    f
}

/// A random valid scenario.
fn random_scenario(seed: u64) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = Shape::random(&mut rng);
    let duration_s = rng.gen_range(60..240);
    let endpoint = if shape.lbs == 0 {
        format!("direct:cp-{}", rng.gen_range(1..=shape.cps))
    } else {
        "load-balancer".to_string()
    };
    let faults: Vec<Value> = (0..rng.gen_range(0..=6))
        .map(|_| random_fault(&mut rng, &shape, duration_s))
        .collect();
    let requests_per_second = if rng.gen_bool(0.15) {
        0
    } else {
        rng.gen_range(1..40)
    };
    let snapshot_count = [10_000, 50, 300][rng.gen_range(0..3)];
    let catchup = [5_000, 20, 100][rng.gen_range(0..3)];
    let workloads: Vec<Value> = (0..rng.gen_range(0..=2))
        .map(|i| json!({ "name": format!("w{i}"), "replicas": rng.gen_range(0..6), "on_control_plane": rng.gen_bool(0.3) }))
        .collect();
    let mut scenario = json!({
        "name": format!("swarm-{seed}"),
        "seed": seed,
        "duration": format!("{duration_s}s"),
        "topology": {
            "etcd": if shape.stacked { "stacked" } else { "external" },
            "control_plane_nodes": shape.cps,
            "etcd_nodes": shape.etcd_nodes,
            "workers": shape.workers,
            "zones": shape.zones,
            "load_balancers": shape.lbs,
            "load_balancer_placement": if shape.lbs_on_cp { "control-plane" } else { "separate" },
            "endpoint": endpoint,
        },
        "settings": {
            "etcd": {
                "pre_vote": rng.gen_bool(0.8),
                // Small counts: members snapshot every few seconds, and a follower back from a short
                // outage may need a snapshot.
                "snapshot_count": snapshot_count,
                "snapshot_catchup_entries": catchup,
            },
            "leader_election": { "api_endpoint": if rng.gen_bool(0.7) { "local" } else { "load-balancer" } },
        },
        "load": {
            // Sometimes no load: api judged from the cluster's state.
            "requests_per_second": requests_per_second,
            "write_ratio": (rng.gen_range(0..=10) as f64) / 10.0,
            "target": if rng.gen_bool(0.8) { "api" } else { "etcd" },
        },
        "workloads": workloads,
        "faults": faults,
    });
    // Drawn last, so that the scenarios drawn before this option existed keep their other fields.
    if rng.gen_bool(0.3) {
        random_timings(&mut rng, &mut scenario["settings"]);
    }
    scenario
}

/// Timing settings away from the defaults, within what validation accepts: etcd's heartbeat and
/// election timeout (at least 5 heartbeats), and leader election (lease > renew > 1.2 x retry), some of
/// them letting a leader act past its lease (retry + renew > lease: a hazard of those settings, counted
/// in its own metric, never an invariant violation).
fn random_timings(rng: &mut ChaCha8Rng, settings: &mut Value) {
    let heartbeat_ms = rng.gen_range(20..=300u64);
    let election_ms = heartbeat_ms * rng.gen_range(5..=30u64);
    settings["etcd"]["heartbeat_interval"] = json!(format!("{heartbeat_ms}ms"));
    settings["etcd"]["election_timeout"] = json!(format!("{election_ms}ms"));
    let retry_ms = rng.gen_range(500..=8_000u64);
    let renew_ms = retry_ms * 6 / 5 + rng.gen_range(1..=10_000u64);
    let lease_ms = renew_ms + rng.gen_range(1..=10_000u64);
    settings["leader_election"]["retry_period"] = json!(format!("{retry_ms}ms"));
    settings["leader_election"]["renew_deadline"] = json!(format!("{renew_ms}ms"));
    settings["leader_election"]["lease_duration"] = json!(format!("{lease_ms}ms"));
}

/// Runs one random scenario twice and checks it; returns a description of the first problem.
fn check_one(seed: u64) -> Result<(), String> {
    let scenario = random_scenario(seed);
    let text = serde_json::to_string_pretty(&scenario).unwrap();
    let plan = parse_scenario(&text, "swarm.json")
        .map_err(|e| format!("the generator made an invalid scenario: {e}"))?;
    let report = |n: u32| -> Result<Vec<u8>, String> {
        let o = std::panic::catch_unwind(|| kube_ha_sim::run::run(&plan, seed))
            .map_err(|_| format!("run {n} panicked"))?
            .map_err(|e| format!("run {n} failed: {e}"))?;
        let m = &o.metrics;
        if m["invariants.violations"] != 0.0 {
            return Err(format!(
                "{} invariant violations",
                m["invariants.violations"]
            ));
        }
        let declared = text.contains("\"wipe-data\"") || text.contains("\"restore\"");
        if m["data.acknowledged_writes_lost"] > 0.0 && !declared {
            return Err("acknowledged writes lost without a data-loss fault".into());
        }
        Ok(serde_json::to_vec(&kube_ha_sim::report::json::report(&o)).unwrap())
    };
    let (a, b) = (report(1)?, report(2)?);
    if a != b {
        return Err("two runs of the same seed differ".into());
    }
    Ok(())
}

#[test]
fn random_scenarios_of_every_fault_kind_run_clean_and_deterministic() {
    let n: u64 = std::env::var("SWARM_SCENARIOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    // Where a long swarm starts: past the seeds an earlier long swarm already ran clean.
    let first: u64 = std::env::var("SWARM_FIRST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut failures = Vec::new();
    for seed in first..first + n {
        if let Err(why) = check_one(seed) {
            let text = serde_json::to_string_pretty(&random_scenario(seed)).unwrap();
            failures.push(format!("seed {seed}: {why}\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} swarm scenarios failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!(
        "swarm: {n} scenarios (seeds {first}..{}), each run twice, all clean",
        first + n - 1
    );
}

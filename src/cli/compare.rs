//! `kube-ha-sim compare FILE`: the same fault script on stacked and on external etcd, side by side.
//! Faults are mapped by role: `cp-N/etcd` on stacked is `etcd-N/etcd` (node `etcd-N`) on external and the
//! other way round; `cp-N` stays the control-plane node, so a node fault takes its etcd member with it
//! only where etcd is stacked.

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::report;
use crate::run::{self, Outcome};
use crate::scenario::model::{EtcdTopology, Fault, Scenario};
use crate::scenario::plan::FaultPlan;
use crate::scenario::{load_scenario, plan_scenario, Plan, ScenarioError};
use crate::topology::{Layout, NodeKind, ProcKind, Target};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The etcd member with this 1-based ordinal in a layout: `cp-N/etcd` stacked, `etcd-N/etcd` external.
fn etcd_member(layout: &Layout, ordinal: u32) -> Option<usize> {
    layout
        .procs_of(ProcKind::Etcd)
        .find(|&p| layout.nodes[layout.procs[p].node].ordinal == ordinal)
}

/// Maps a target to the other topology by role: an etcd member (`cp-N/etcd` or the node `etcd-N`) is
/// the member with the same number there; `cp-N` stays the control-plane node (taking its etcd member
/// with it only where etcd is stacked); other nodes, processes, zones and selectors keep their names.
/// `network` asks for a node (partition groups and link ends take nodes, not processes).
fn map_target(t: Target, from: &Layout, to: &Layout, network: bool) -> Option<Target> {
    let member_ordinal = match t {
        Target::Proc(p) if from.procs[p].kind == ProcKind::Etcd => {
            Some(from.nodes[from.procs[p].node].ordinal)
        }
        Target::Node(n) if from.nodes[n].kind == NodeKind::Etcd => Some(from.nodes[n].ordinal),
        Target::Proc(_) | Target::Node(_) | Target::Zone(_) | Target::Selector(_) => None,
    };
    if let Some(ord) = member_ordinal {
        let p = etcd_member(to, ord)?;
        return Some(if network {
            Target::Node(to.procs[p].node)
        } else {
            Target::Proc(p)
        });
    }
    Some(match t {
        Target::Node(n) => Target::Node(to.node_index(&from.nodes[n].name)?),
        Target::Proc(p) => Target::Proc(to.proc_index(&from.procs[p].name)?),
        Target::Zone(z) => Target::Zone(to.zone_index(&from.zones[z])?),
        Target::Selector(s) => Target::Selector(s),
    })
}

/// The fault as the file would write it on the other topology.
fn map_fault(f: &FaultPlan, from: &Layout, to: &Layout) -> Fault {
    let name = |t: Target, network: bool| -> String {
        map_target(t, from, to, network).map_or_else(|| t.name(from), |m| m.name(to))
    };
    let mut spec = f.spec.clone();
    f.action.write_targets(&mut spec, name);
    spec
}

/// The plan on the other topology (or the same one, unchanged), validated as a file would be.
pub fn on_topology(plan: &Plan, to: EtcdTopology, label: &str) -> Result<Plan, ScenarioError> {
    if plan.topology.etcd == to {
        return Ok(plan.clone());
    }
    let mut s = plan.to_scenario();
    s.topology.etcd = to;
    s.topology.etcd_nodes = match to {
        EtcdTopology::Stacked => 0,
        EtcdTopology::External => s.topology.control_plane_nodes.max(1),
    };
    // The other topology's layout, to map the faults into (validated with the faults below).
    let shape = plan_scenario(
        &Scenario {
            faults: Vec::new(),
            expect: Vec::new(),
            exercises: Vec::new(),
            ..s.clone()
        },
        label,
    )?;
    s.faults = plan
        .faults
        .iter()
        .map(|f| map_fault(f, &plan.layout, &shape.layout))
        .collect();
    s.name = format!("{}-{}", plan.name, topology_word(to));
    plan_scenario(&s, label)
}

/// The word for a topology in names, labels and headings.
fn topology_word(to: EtcdTopology) -> &'static str {
    match to {
        EtcdTopology::Stacked => "stacked",
        EtcdTopology::External => "external",
    }
}

/// Runs the comparison.
pub fn cmd_compare(file: &Path, seed: Option<u64>, out: Option<&Path>) -> i32 {
    let base = match load_scenario(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seed = seed.unwrap_or(base.seed);
    let (a, b) = match run_both(file, &base, seed) {
        Ok(pair) => pair,
        Err(code) => return code,
    };
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-compare", base.name)));
    out!("{}", table(&a, &b));
    if let Err(code) = write_outputs(&dir, &a, &b) {
        return code;
    }
    outln!(
        "pictures: {} and compare.png; reports: stacked.json, external.json",
        dir.join("compare.svg").display()
    );
    outln!(
        "replay: kube-ha-sim compare {} --seed {seed}",
        file.display()
    );
    // The file's expectations were written for its own topology; the other run is for comparison.
    let own = if base.topology.etcd == EtcdTopology::Stacked {
        &a
    } else {
        &b
    };
    if own.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// The plan run on stacked and on external etcd with one seed, so that the two differ only in the
/// topology; an input error ends the command with its exit code.
fn run_both(file: &Path, base: &Plan, seed: u64) -> Result<(Outcome, Outcome), i32> {
    let stacked = run_on(file, base, EtcdTopology::Stacked, seed)?;
    let external = run_on(file, base, EtcdTopology::External, seed)?;
    Ok((stacked, external))
}

/// One side of the comparison: the plan mapped to `to` and run.
fn run_on(file: &Path, base: &Plan, to: EtcdTopology, seed: u64) -> Result<Outcome, i32> {
    let label = format!("{} (on {} etcd)", file.display(), topology_word(to));
    let s = match on_topology(base, to, &label) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot map the scenario to {to:?} etcd: {e}");
            return Err(EXIT_BAD_INPUT);
        }
    };
    run::run(&s, seed).map_err(|e| {
        eprintln!("error: {}: {e}", file.display());
        EXIT_BAD_INPUT
    })
}

/// The pictures and both reports in `dir`; a file that cannot be written ends the command with its
/// exit code.
fn write_outputs(dir: &Path, a: &Outcome, b: &Outcome) -> Result<(), i32> {
    let svg = report::svg::render_compare_svg(a, b, "stacked etcd", "external etcd");
    let writes = [
        ("compare.svg", svg.into_bytes()),
        (
            "stacked.json",
            serde_json::to_vec_pretty(&report::json::report(a)).unwrap_or_default(),
        ),
        (
            "external.json",
            serde_json::to_vec_pretty(&report::json::report(b)).unwrap_or_default(),
        ),
    ];
    for (name, bytes) in writes {
        if let Err(e) = report::write_atomic(&dir.join(name), &bytes) {
            eprintln!("error: cannot write {}: {e}", dir.join(name).display());
            return Err(EXIT_BAD_INPUT);
        }
    }
    if let Err(e) = report::png::render_compare_png(
        a,
        b,
        "stacked etcd",
        "external etcd",
        &dir.join("compare.png"),
    ) {
        eprintln!(
            "error: cannot write {}: {e}",
            dir.join("compare.png").display()
        );
        return Err(EXIT_BAD_INPUT);
    }
    Ok(())
}

/// The metrics side by side, differences marked.
pub fn table(a: &Outcome, b: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: stacked vs external etcd (seed {})",
        a.scenario.name, a.seed
    );
    let _ = writeln!(s, "  {:<36} {:>12} {:>12}", "metric", "stacked", "external");
    let mut names: Vec<&String> = a.metrics.keys().chain(b.metrics.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let (x, y) = (a.metrics.get(n), b.metrics.get(n));
        let fmt = |v: Option<&f64>| {
            v.map(|v| report::text::fmt_num(*v))
                .unwrap_or_else(|| "-".into())
        };
        let differs = match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() > 1e-6 * x.abs().max(y.abs()).max(1.0),
            _ => true,
        };
        let _ = writeln!(
            s,
            "{} {:<36} {:>12} {:>12}",
            if differs { "*" } else { " " },
            n,
            fmt(x),
            fmt(y)
        );
    }
    let _ = writeln!(s, "  (* differs)");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;

    fn plan(etcd: &str, faults: &str) -> Plan {
        let nodes = if etcd == "external" {
            ", \"etcd_nodes\": 3"
        } else {
            ""
        };
        let text = format!(
            r#"{{"name": "t", "duration": "10m",
                "topology": {{"etcd": "{etcd}", "control_plane_nodes": 3{nodes}, "zones": ["a", "b", "c"]}},
                "faults": [{faults}]}}"#
        );
        parse_scenario(&text, "t.json").unwrap()
    }

    fn targets(p: &Plan) -> Vec<String> {
        p.faults
            .iter()
            .map(|f| serde_json::to_string(&f.spec).unwrap())
            .collect()
    }

    #[test]
    fn maps_etcd_targets_between_topologies_by_role() {
        let stacked = plan(
            "stacked",
            r#"{"at": "1m", "kind": "crash", "target": "cp-2/etcd"},
               {"at": "1m", "kind": "crash", "target": "cp-1"},
               {"at": "1m", "kind": "crash", "target": "leader:etcd"},
               {"at": "1m", "kind": "partition", "groups": [["cp-3"], ["zone:a", "zone:b"]]}"#,
        );
        let ext = on_topology(&stacked, EtcdTopology::External, "t").unwrap();
        let t = targets(&ext);
        assert!(t[0].contains(r#""target":"etcd-2/etcd""#), "{t:?}");
        assert!(t[1].contains(r#""target":"cp-1""#), "{t:?}");
        assert!(t[2].contains(r#""target":"leader:etcd""#), "{t:?}");
        assert!(t[3].contains(r#"[["cp-3"],["zone:a","zone:b"]]"#), "{t:?}");
        let external = plan(
            "external",
            r#"{"at": "1m", "kind": "crash", "target": "etcd-3"},
               {"at": "1m", "kind": "isolate", "target": "etcd-3/etcd"},
               {"at": "1m", "kind": "degrade-link", "between": ["etcd-1", "zone:b"], "latency": "1ms"}"#,
        );
        let st = on_topology(&external, EtcdTopology::Stacked, "t").unwrap();
        let t = targets(&st);
        assert!(t[0].contains(r#""target":"cp-3/etcd""#), "{t:?}");
        assert!(t[1].contains(r#""target":"cp-3/etcd""#), "{t:?}");
        assert!(t[2].contains(r#"["cp-1","zone:b"]"#), "{t:?}");
    }

    /// kubeadm's static-pod load balancers (`load_balancer_placement` "control-plane") stay on the
    /// control-plane nodes on the other topology, and faults aimed at them keep their names.
    #[test]
    fn load_balancers_on_the_control_plane_stay_there_on_the_other_topology() {
        let text = r#"{"name": "t", "duration": "10m",
            "topology": {"etcd": "stacked", "control_plane_nodes": 3, "zones": ["a", "b", "c"],
                         "load_balancer_placement": "control-plane"},
            "faults": [{"at": "1m", "kind": "crash", "target": "vip-holder"},
                       {"at": "2m", "kind": "crash", "target": "cp-2/haproxy"},
                       {"at": "3m", "kind": "stop", "target": "cp-3/keepalived"}]}"#;
        let stacked = parse_scenario(text, "t.json").unwrap();
        let ext = on_topology(&stacked, EtcdTopology::External, "t").unwrap();
        assert_eq!(
            ext.topology.load_balancer_placement,
            crate::topology::LoadBalancerPlacement::ControlPlane
        );
        assert_eq!(ext.topology.load_balancers, 3);
        assert!(ext.layout.node_index("lb-1").is_none());
        assert!(ext.layout.proc_index("cp-1/keepalived").is_some());
        let t = targets(&ext);
        assert!(t[0].contains(r#""target":"vip-holder""#), "{t:?}");
        assert!(t[1].contains(r#""target":"cp-2/haproxy""#), "{t:?}");
        assert!(t[2].contains(r#""target":"cp-3/keepalived""#), "{t:?}");
    }

    #[test]
    fn mapping_keeps_exact_fault_times() {
        // A fault at 60.4 s and a 1.25 s `for` once became 60 s and 1.3 s through a rounding re-serialise.
        let stacked = plan(
            "stacked",
            r#"{"at": "60400ms", "kind": "crash", "target": "cp-1", "for": "1250ms"}"#,
        );
        let ext = on_topology(&stacked, EtcdTopology::External, "t").unwrap();
        assert_eq!(ext.faults[0].at_ns, 60_400_000_000);
        assert_eq!(ext.faults[0].for_ns, Some(1_250_000_000));
    }
}

//! `kube-ha-sim compare FILE [FILE...]`: designs side by side. With one file, the same fault script on
//! stacked and on external etcd; with several, each file as written (its own topology, settings and
//! faults), each judged by its own expectations. Faults are mapped by role (one file): `cp-N/etcd` on stacked is `etcd-N/etcd` (node `etcd-N`) on external and the
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

/// Runs the comparison: one file against itself on the other etcd topology, or several designs.
pub fn cmd_compare(files: &[PathBuf], seed: Option<u64>, out: Option<&Path>) -> i32 {
    let mut plans = Vec::new();
    for f in files {
        match load_scenario(f) {
            Ok(s) => plans.push(s),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    // The output folder is prepared before the runs, so that one that cannot be written fails at once.
    let staged = match report::OutputDir::begin(&output_dir(&plans, out)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let designs = match plans.as_slice() {
        [one] => {
            let seed = seed.unwrap_or(one.seed);
            match run_both(&files[0], one, seed) {
                Ok((a, b)) => vec![
                    Design::new(
                        a,
                        "stacked etcd",
                        "stacked",
                        one.topology.etcd == EtcdTopology::Stacked,
                    ),
                    Design::new(
                        b,
                        "external etcd",
                        "external",
                        one.topology.etcd == EtcdTopology::External,
                    ),
                ],
                Err(code) => return code,
            }
        }
        many => match run_designs(files, many, seed) {
            Ok(d) => d,
            Err(code) => return code,
        },
    };
    let dir = staged.dir().to_path_buf();
    out!("{}", table(&designs));
    if let Err(code) = write_outputs(staged, &designs) {
        return code;
    }
    let reports: Vec<String> = designs.iter().map(|d| format!("{}.json", d.file)).collect();
    outln!(
        "pictures: {} and compare.png; reports: {}",
        dir.join("compare.svg").display(),
        reports.join(", ")
    );
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let seed_arg = seed.map(|s| format!(" --seed {s}")).unwrap_or_default();
    outln!("replay: kube-ha-sim compare {}{seed_arg}", shown.join(" "));
    // A design is judged by its own expectations; the other topology of a single file is for
    // comparison only.
    if designs
        .iter()
        .filter(|d| d.judged)
        .all(|d| d.outcome.passed())
    {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// One design of a comparison: its run, its label, its report's file name, and whether its verdict
/// counts (a file's own design does; the other topology of a single file does not).
struct Design {
    outcome: Outcome,
    label: String,
    file: String,
    judged: bool,
}

impl Design {
    fn new(outcome: Outcome, label: &str, file: &str, judged: bool) -> Design {
        Design {
            outcome,
            label: label.into(),
            file: file.into(),
            judged,
        }
    }
}

/// Several files, each run as written (with `seed` if given, else its own), labelled by name (and
/// by position when two share a name).
fn run_designs(files: &[PathBuf], plans: &[Plan], seed: Option<u64>) -> Result<Vec<Design>, i32> {
    let mut designs: Vec<Design> = Vec::new();
    for (i, (f, p)) in files.iter().zip(plans).enumerate() {
        let outcome = run::run(p, seed.unwrap_or(p.seed)).map_err(|e| {
            eprintln!("error: {}: {e}", f.display());
            EXIT_BAD_INPUT
        })?;
        let taken = designs.iter().any(|d| d.file == p.name)
            || plans.iter().filter(|q| q.name == p.name).count() > 1;
        let file = if taken {
            format!("{}-{}", p.name, i + 1)
        } else {
            p.name.clone()
        };
        designs.push(Design::new(outcome, &file, &file, true));
    }
    Ok(designs)
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

/// `--out`, or `out/NAME-compare` (one file) or `out/A-vs-B...` (several designs).
fn output_dir(plans: &[Plan], out: Option<&Path>) -> PathBuf {
    let default_dir = match plans {
        [one] => format!("{}-compare", one.name),
        many => many
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("-vs-"),
    };
    out.map(Path::to_path_buf).unwrap_or_else(|| {
        // A long list of names would make a folder name past the file system's limit.
        let name: String = default_dir.chars().take(120).collect();
        PathBuf::from("out").join(name)
    })
}

/// The pictures and every design's report, staged, flushed and put in place as one unit; a file that
/// cannot be written ends the command with its exit code.
fn write_outputs(staged: report::OutputDir, designs: &[Design]) -> Result<(), i32> {
    let dir = staged.dir().to_path_buf();
    let runs: Vec<(&Outcome, &str)> = designs
        .iter()
        .map(|d| (&d.outcome, d.label.as_str()))
        .collect();
    let mut writes = vec![(
        "compare.svg".to_string(),
        report::svg::render_compare_svg(&runs).into_bytes(),
    )];
    for d in designs {
        writes.push((
            format!("{}.json", d.file),
            serde_json::to_vec_pretty(&report::json::report(&d.outcome)).unwrap_or_default(),
        ));
    }
    for (name, bytes) in writes {
        if let Err(e) = staged.write(&name, &bytes) {
            eprintln!("error: {e}");
            return Err(EXIT_BAD_INPUT);
        }
    }
    if let Err(e) = report::png::render_compare_png(&runs, &staged.staged("compare.png")) {
        eprintln!(
            "error: cannot write {}: {e}",
            dir.join("compare.png").display()
        );
        return Err(EXIT_BAD_INPUT);
    }
    staged.commit().map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })
}

/// The metrics side by side, a column per design, differences marked.
fn table(designs: &[Design]) -> String {
    let runs: Vec<(&Outcome, &str)> = designs
        .iter()
        .map(|d| (&d.outcome, d.label.as_str()))
        .collect();
    metrics_table(&runs)
}

/// The metrics of runs side by side, a column per run (labelled), rows that differ marked `*`.
pub fn metrics_table(runs: &[(&Outcome, &str)]) -> String {
    let mut s = String::new();
    let labels: Vec<&str> = runs.iter().map(|(_, l)| *l).collect();
    let seeds: Vec<String> = runs.iter().map(|(o, _)| o.seed.to_string()).collect();
    let _ = writeln!(
        s,
        "{}: {} (seed {})",
        runs.first().map_or("", |(o, _)| o.scenario.name.as_str()),
        labels.join(" vs "),
        seeds.join(", ")
    );
    let _ = write!(s, "  {:<36}", "metric");
    for l in &labels {
        let _ = write!(s, " {:>16}", truncate(l, 16));
    }
    let _ = writeln!(s);
    let verdicts: Vec<&str> = runs
        .iter()
        .map(|(o, _)| {
            if o.verdicts.is_empty() {
                "-"
            } else if o.passed() {
                "PASS"
            } else {
                "FAIL"
            }
        })
        .collect();
    let _ = write!(
        s,
        "{} {:<36}",
        if verdicts.windows(2).any(|w| w[0] != w[1]) {
            "*"
        } else {
            " "
        },
        "result"
    );
    for v in &verdicts {
        let _ = write!(s, " {v:>16}");
    }
    let _ = writeln!(s);
    let names: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|(o, _)| o.metrics.keys()).collect();
    for n in names {
        let vals: Vec<Option<f64>> = runs
            .iter()
            .map(|(o, _)| o.metrics.get(n).copied())
            .collect();
        let differs = vals.windows(2).any(|w| match (w[0], w[1]) {
            (Some(x), Some(y)) => (x - y).abs() > 1e-6 * x.abs().max(y.abs()).max(1.0),
            (None, None) => false,
            _ => true,
        });
        let _ = write!(s, "{} {n:<36}", if differs { "*" } else { " " });
        for v in vals {
            let shown = v.map(report::text::fmt_num).unwrap_or_else(|| "-".into());
            let _ = write!(s, " {shown:>16}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "  (* differs)");
    s
}

/// At most `n` characters.
fn truncate(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
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

    #[test]
    fn mapping_keeps_a_narrow_expectation_window_valid() {
        // A 50 ms window once rounded to an empty one and was refused with a message about "(mapped)".
        let text = r#"{"name": "t", "duration": "10m",
            "topology": {"etcd": "stacked", "control_plane_nodes": 3},
            "expect": [{"metric": "api.availability", "at_least": 0.5, "window": ["60.25s", "60.3s"]}]}"#;
        let stacked = parse_scenario(text, "t.json").unwrap();
        let ext = on_topology(
            &stacked,
            EtcdTopology::External,
            "t.json (on external etcd)",
        )
        .unwrap();
        assert_eq!(
            ext.expect[0].window_ns,
            Some((60_250_000_000, 60_300_000_000))
        );
    }
}

//! `kube-ha-sim compare FILE`: the same fault script on stacked and on external etcd, side by side.
//! Faults are mapped by role: `cp-N/etcd` on stacked is `etcd-N/etcd` (node `etcd-N`) on external and the
//! other way round; `cp-N` stays the control-plane node, so a node fault takes its etcd member with it
//! only where etcd is stacked.

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::report;
use crate::run::{self, Outcome};
use crate::scenario::model::{EtcdTopology, Scenario};
use crate::scenario::{load_scenario, parse_scenario};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Maps one target name to the other topology.
fn map_target(t: &str, to: EtcdTopology) -> String {
    match to {
        EtcdTopology::External => {
            if let Some(n) = t.strip_prefix("cp-").and_then(|r| r.strip_suffix("/etcd")) {
                return format!("etcd-{n}/etcd");
            }
        }
        EtcdTopology::Stacked => {
            if let Some(rest) = t.strip_prefix("etcd-") {
                let n = rest.strip_suffix("/etcd").unwrap_or(rest);
                return format!("cp-{n}/etcd");
            }
        }
    }
    t.to_string()
}

/// The scenario on the other topology (or the same one, unchanged).
pub fn on_topology(s: &Scenario, to: EtcdTopology) -> Scenario {
    let mut out = s.clone();
    if s.topology.etcd == to {
        return out;
    }
    out.topology.etcd = to;
    out.topology.etcd_nodes = match to {
        EtcdTopology::Stacked => 0,
        EtcdTopology::External => s.topology.control_plane_nodes.max(1),
    };
    for f in &mut out.faults {
        if let Some(t) = &f.target {
            f.target = Some(map_target(t, to));
        }
        if let Some(groups) = &mut f.groups {
            for g in groups.iter_mut() {
                for n in g.iter_mut() {
                    *n = map_target(n, to);
                }
            }
        }
        if let Some(b) = &mut f.between {
            for n in b.iter_mut() {
                *n = map_target(n, to);
            }
        }
    }
    out.name = format!(
        "{}-{}",
        s.name,
        if to == EtcdTopology::Stacked {
            "stacked"
        } else {
            "external"
        }
    );
    out
}

fn revalidate(s: &Scenario, file: &Path) -> Result<Scenario, String> {
    // The mapped scenario goes through the same validation as a file would.
    let text = serde_json::to_string(s).map_err(|e| e.to_string())?;
    parse_scenario(&text, &format!("{} (mapped)", file.display())).map_err(|e| e.to_string())
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
    let mut outcomes: Vec<Outcome> = Vec::new();
    for to in [EtcdTopology::Stacked, EtcdTopology::External] {
        let s = match revalidate(&on_topology(&base, to), file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot map the scenario to {to:?} etcd: {e}");
                return EXIT_BAD_INPUT;
            }
        };
        match run::run(&s, seed) {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                eprintln!("error: {}: {e}", file.display());
                return EXIT_BAD_INPUT;
            }
        }
    }
    let (a, b) = (&outcomes[0], &outcomes[1]);
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("out").join(format!("{}-compare", base.name)));
    out!("{}", table(a, b));
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
            return EXIT_BAD_INPUT;
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
        return EXIT_BAD_INPUT;
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
        a
    } else {
        b
    };
    if own.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
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

    #[test]
    fn maps_etcd_targets_between_topologies() {
        assert_eq!(
            map_target("cp-2/etcd", EtcdTopology::External),
            "etcd-2/etcd"
        );
        assert_eq!(map_target("etcd-3", EtcdTopology::Stacked), "cp-3/etcd");
        assert_eq!(
            map_target("etcd-3/etcd", EtcdTopology::Stacked),
            "cp-3/etcd"
        );
        assert_eq!(map_target("cp-1", EtcdTopology::External), "cp-1");
        assert_eq!(
            map_target("leader:etcd", EtcdTopology::External),
            "leader:etcd"
        );
    }
}

//! Helpers shared by the test modules.
#![allow(dead_code)]

use kube_ha_sim::observe::{ProcState, TraceKind};
use kube_ha_sim::run::{run, Outcome};
use kube_ha_sim::scenario::parse_scenario;

/// Parses and runs a scenario given as JSON text.
pub fn run_json(text: &str, seed: u64) -> Outcome {
    let s = parse_scenario(text, "test.json").unwrap_or_else(|e| panic!("bad test scenario: {e}"));
    run(&s, seed).unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// A metric that must exist.
pub fn metric(o: &Outcome, name: &str) -> f64 {
    *o.metrics.get(name).unwrap_or_else(|| {
        panic!(
            "metric {name} missing; have {:?}",
            o.metrics.keys().collect::<Vec<_>>()
        )
    })
}

/// A 3-member stacked cluster with the load going straight to etcd, with the given extra settings and
/// faults (JSON fragments).
pub fn etcd_scenario(duration: &str, etcd_settings: &str, faults: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "settings":{{"etcd":{{{etcd_settings}}}}},
            "load":{{"target":"etcd","requests_per_second":20}},
            "faults":[{faults}]}}"#
    )
}

/// Runs the built binary with `args` (in `cwd` when given): (exit code, stdout, stderr).
pub fn run_bin(cwd: Option<&std::path::Path>, args: &[&str]) -> (i32, String, String) {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"));
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let o = c.output().expect("the binary runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The id of the process named `name` (`cp-1/kube-apiserver`).
pub fn proc_id(o: &Outcome, name: &str) -> u16 {
    o.layout
        .procs
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no process {name}")) as u16
}

/// Times (s) at which `proc` entered `state`.
pub fn state_times(o: &Outcome, proc: u16, state: ProcState) -> Vec<f64> {
    o.trace
        .events
        .iter()
        .filter(
            |e| matches!(e.kind, TraceKind::Proc { proc: p, state: s } if p == proc && s == state),
        )
        .map(|e| e.time_ns as f64 / 1e9)
        .collect()
}

/// Times (s) of log lines of `proc` containing `needle`.
pub fn log_times(o: &Outcome, proc: u16, needle: &str) -> Vec<f64> {
    o.trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Log { proc: p, text } if *p == proc && text.contains(needle)))
        .map(|e| e.time_ns as f64 / 1e9)
        .collect()
}

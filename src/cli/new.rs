//! `kube-ha-sim new FILE [--topology stacked|external]`: writes a commented starting scenario (YAML for a
//! `.yaml`/`.yml` name, where the comments explain each field; JSON otherwise, where they cannot), so
//! that a first scenario is edited rather than written from the reference. It never overwrites a file.

use super::{EXIT_BAD_INPUT, EXIT_OK};
use std::path::{Path, PathBuf};

/// The etcd layout of the starting scenario.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// An etcd member on each control-plane node (kubeadm's default).
    #[default]
    Stacked,
    /// Three dedicated etcd nodes.
    External,
}

/// The options of `kube-ha-sim new`.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The file to write (`.yaml`/`.yml` gets comments; anything else is JSON). Must not exist.
    pub file: PathBuf,
    /// The etcd layout.
    #[arg(long, value_enum, default_value_t = Layout::Stacked)]
    pub topology: Layout,
}

/// Writes the starting scenario; 0, or 2 when the file exists or cannot be written.
pub fn cmd_new(args: &NewArgs) -> i32 {
    if args.file.exists() {
        eprintln!(
            "error: {}: the file exists; `new` does not overwrite (choose another name or remove it)",
            args.file.display()
        );
        return EXIT_BAD_INPUT;
    }
    let yaml = crate::scenario::yaml::is_yaml(&args.file.to_string_lossy());
    let name = scenario_name(&args.file);
    let text = template(&name, args.topology, yaml);
    if let Err(e) = crate::report::write_atomic(&args.file, text.as_bytes()) {
        eprintln!("error: {}: cannot write it: {e}", args.file.display());
        return EXIT_BAD_INPUT;
    }
    eprintln!(
        "wrote {}; run it with: kube-ha-sim run {}",
        args.file.display(),
        crate::check::shell_quote(&args.file.display().to_string())
    );
    EXIT_OK
}

/// The scenario's name from the file's: its stem, with anything an output folder cannot hold replaced.
fn scenario_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    let name = name.trim_start_matches(['.', '-']).to_string();
    if name.is_empty() {
        "my-scenario".into()
    } else {
        name
    }
}

/// The starting scenario: three control-plane nodes over three zones behind one HAProxy, 10 requests/s,
/// the etcd leader crashing for three minutes, and expectations a healthy design meets.
fn template(name: &str, layout: Layout, yaml: bool) -> String {
    let (etcd, etcd_nodes, story) = match layout {
        Layout::Stacked => (
            "stacked",
            0,
            "The etcd leader's member dies (stacked: on a control-plane node); the other two elect a new leader.",
        ),
        Layout::External => (
            "external",
            3,
            "The etcd leader dies (external etcd: its own node); the other two elect a new leader.",
        ),
    };
    if !yaml {
        let v = serde_json::json!({
            "name": name,
            "description": story,
            "seed": 1,
            "duration": "10m",
            "topology": {
                "etcd": etcd, "control_plane_nodes": 3, "etcd_nodes": etcd_nodes,
                "zones": ["a", "b", "c"], "load_balancers": 1, "endpoint": "load-balancer"
            },
            "load": {"requests_per_second": 10, "write_ratio": 0.1},
            "faults": [{"at": "2m", "kind": "crash", "target": "leader:etcd", "for": "3m"}],
            "expect": [
                {"metric": "etcd_quorum.longest_outage_s", "at_most": 6},
                {"metric": "api.availability", "at_least": 0.99},
                {"metric": "invariants.violations", "equals": 0}
            ]
        });
        return serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
    }
    let etcd_nodes_line = if etcd_nodes > 0 {
        format!("  etcd_nodes: {etcd_nodes}            # dedicated etcd nodes etcd-1..; 3 or 5 for a quorum that survives 1 or 2\n")
    } else {
        String::new()
    };
    format!(
        r#"# A kube-ha-sim scenario: a cluster, a client load, scripted faults and what must hold.
# Every field is documented in `kube-ha-sim help scenario`; defaults are the real components'.
# Check it with `kube-ha-sim validate FILE`, run it with `kube-ha-sim run FILE [--narrate]`,
# and sweep it over seeds in CI with `kube-ha-sim check FILE --seeds 1..50`.
name: {name}                    # also the output folder: out/{name}/
description: >-
  {story}
seed: 1                         # same seed, same run; `run --seed N` overrides it
duration: 10m                   # simulated time; units ns, us, ms, s, m, h

topology:
  etcd: {etcd}                  # stacked (a member on each control-plane node) or external
  control_plane_nodes: 3        # cp-1..cp-3: kube-apiserver, controller manager, scheduler (+ etcd if stacked)
{etcd_nodes_line}  zones: [a, b, c]              # nodes are placed over the zones in order
  load_balancers: 1             # lb-1 runs HAProxy; 2 or more add a keepalived VIP
  endpoint: load-balancer       # how clients reach the API: load-balancer or a node (kubeconfig)
  # workers: 3                  # worker-1..: kubelets that run the workloads below

load:
  requests_per_second: 10       # 0 turns client load off (the API is then judged from cluster state)
  write_ratio: 0.1              # the share of writes
  # connection: long-lived      # per-request (default) or one HTTP/2 connection, like client-go

# workloads:                    # Deployments with a Service (needs workers)
#   - name: web
#     replicas: 6

faults:                         # crash, stop, restart, partition, isolate, degrade-link, slow-disk,
                                # wipe-data, restore
  - at: 2m
    kind: crash
    target: leader:etcd         # a node (cp-1), a process (cp-1/etcd), a zone (zone:a) or a role
    for: 3m                     # undone after this long; without `for` it stays down

expect:                         # `check` fails (exit 1) when one does not hold
  - metric: etcd_quorum.longest_outage_s
    at_most: 6
  - metric: api.availability    # a fraction: 0.99, not 99
    at_least: 0.99
  - metric: invariants.violations
    equals: 0
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_file_and_stay_one_folder() {
        assert_eq!(scenario_name(Path::new("dir/my design.yaml")), "my-design");
        assert_eq!(scenario_name(Path::new(".hidden.json")), "hidden");
        assert_eq!(scenario_name(Path::new("...")), "my-scenario");
    }
}

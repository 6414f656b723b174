//! The imported scenario as YAML: each setting under a comment line naming the file, line and key it
//! came from (or why it is assumed), then the values that were not imported and why. The layout
//! follows `kube-ha-sim new`'s commented YAML.

use super::{flags::FLAGS, Imported, Setting};

/// The sections the settings go under, in the file's order.
const GROUPS: &[&str] = &[
    "topology",
    "settings.etcd",
    "settings.kube_apiserver",
    "settings.leader_election",
    "settings.load_balancer",
    "settings.kubelet",
    "settings.node_lifecycle",
];

/// Settings that come from no flag, in the order they are written (flags follow [`FLAGS`]).
const OTHER_ORDER: &[&str] = &[
    "topology.etcd",
    "topology.control_plane_nodes",
    "topology.etcd_nodes",
    "topology.zones",
    "topology.load_balancer_placement",
    "topology.load_balancers",
    "topology.endpoint",
    "settings.load_balancer.check_path",
    "settings.load_balancer.check_interval",
    "settings.load_balancer.fall",
    "settings.load_balancer.rise",
    "settings.load_balancer.check_timeout",
    "settings.load_balancer.connect_timeout",
    "settings.load_balancer.retries",
    "settings.load_balancer.redispatch",
    "settings.load_balancer.vrrp_advert_interval",
    "settings.load_balancer.vrrp_priorities",
    "settings.load_balancer.vrrp_script_interval",
    "settings.load_balancer.vrrp_script_fall",
    "settings.load_balancer.vrrp_script_rise",
    "settings.load_balancer.vrrp_script_weight",
    "settings.kubelet.node_lease_duration",
];

fn rank(path: &str) -> usize {
    OTHER_ORDER
        .iter()
        .copied()
        .chain(FLAGS.iter().map(|f| f.path))
        .position(|p| p == path)
        .unwrap_or(usize::MAX)
}

/// The scenario text.
pub fn yaml(imp: &Imported) -> String {
    let rel = |s: &str| s.replace(&format!("{}/", imp.dir), "");
    let mut out = String::new();
    out += &format!(
        "# Imported by `kube-ha-sim import {}` from the files of a kubeadm cluster:\n",
        imp.dir
    );
    for f in &imp.files {
        out += &format!("#   {}\n", rel(f));
    }
    out += "# Each setting says where it came from; the values the model cannot represent are listed at the\n\
            # end as \"not imported\". Every other setting is the real component's default\n\
            # (`kube-ha-sim help scenario`). Add faults and expectations, then `kube-ha-sim run` it.\n";
    out += &format!("name: {}\n", imp.name);
    out += "description: >-\n  The cluster described by its kubeadm, HAProxy and keepalived files, healthy; add the faults to try.\n";
    out += "seed: 1                         # same seed, same run; `run --seed N` overrides it\n";
    out += "duration: 10m                   # simulated time\n";
    let mut current_top = "";
    for group in GROUPS {
        let prefix = format!("{group}.");
        let mut entries: Vec<(&String, &Setting)> = imp
            .settings
            .iter()
            .filter(|(p, _)| p.strip_prefix(&prefix).is_some_and(|k| !k.contains('.')))
            .collect();
        if entries.is_empty() {
            continue;
        }
        entries.sort_by_key(|(p, _)| (rank(p), (*p).clone()));
        let (top, sub) = group.split_once('.').unwrap_or((group, ""));
        if top != current_top {
            out += &format!("\n{top}:\n");
            current_top = top;
        }
        let indent = if sub.is_empty() { "  " } else { "    " };
        if !sub.is_empty() {
            out += &format!("  {sub}:\n");
        }
        for (path, s) in entries {
            let key = &path[prefix.len()..];
            let comment = if s.from.file.is_empty() {
                format!("not in the files: {}", rel(&s.from.key))
            } else {
                format!("from {}", rel(&s.from.describe()))
            };
            out += &format!("{indent}# {comment}\n{indent}{key}: {}\n", s.value);
        }
    }
    out += "\nload:\n  # not in the files: the model's default client load, 10 requests a second through the endpoint\n  requests_per_second: 10\n";
    out += "\n# faults: none yet; add what to break, for example:\n# faults:\n#   - at: 2m\n#     kind: crash\n#     target: leader:etcd\n#     for: 3m\n";
    if !imp.notes.is_empty() {
        out += "\n# Not imported:\n";
        for n in &imp.notes {
            out += &format!("# - {}\n", rel(n).replace('\n', " "));
        }
    }
    out
}

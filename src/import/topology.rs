//! The cluster's shape from what the files say: the etcd layout (etcd.local or a static etcd pod:
//! stacked; etcd.external or remote `--etcd-servers`: external), the control-plane nodes (HAProxy's
//! servers, else etcd's `--initial-cluster`), the endpoint (`controlPlaneEndpoint` or HAProxy: the load
//! balancer; neither: the first node directly) and the load balancers (one per keepalived.conf; at
//! least two with keepalived, one without; on the control-plane nodes when HAProxy or keepalived run
//! as static pods).

use super::{Authority, Imported, Source};
use serde_json::Value;

/// A value the files do not give: its comment says why it is what it is.
fn assumed(why: &str) -> Source {
    Source::new("", None, why)
}

fn put(imp: &mut Imported, path: &str, value: Value, from: Source) {
    imp.set(path, value, from, Authority::Config);
}

/// Adds the topology settings to `imp`.
pub fn derive(imp: &mut Imported) {
    let external = etcd(imp);
    control_plane(imp, external);
    load_balancers(imp);
}

/// Whether etcd is external; sets `topology.etcd` and `topology.etcd_nodes`.
fn etcd(imp: &mut Imported) -> bool {
    let f = imp.facts.clone();
    if let Some((n, src)) = &f.etcd_external {
        put(imp, "topology.etcd", "external".into(), src.clone());
        put(imp, "topology.etcd_nodes", (*n).into(), src.clone());
        if let Some((m, _, s)) = &f.etcd_servers {
            if m != n {
                imp.not_imported(
                    s,
                    &format!(
                        "{m} etcd servers, but {} lists {n}; the model has one member list",
                        src.describe()
                    ),
                );
            }
        }
        return true;
    }
    let stacked = f.etcd_local.clone().or(f.etcd_manifest.clone());
    match (&f.etcd_servers, stacked) {
        (Some((n, false, src)), None) => {
            put(imp, "topology.etcd", "external".into(), src.clone());
            put(imp, "topology.etcd_nodes", (*n).into(), src.clone());
            true
        }
        (_, Some(src)) => {
            put(imp, "topology.etcd", "stacked".into(), src);
            false
        }
        (_, None) => {
            put(
                imp,
                "topology.etcd",
                "stacked".into(),
                assumed("no file says; kubeadm's default is a local (stacked) etcd"),
            );
            false
        }
    }
}

/// `topology.control_plane_nodes`, `topology.endpoint` and the zones.
fn control_plane(imp: &mut Imported, external: bool) {
    let f = imp.facts.clone();
    let count = match (&f.haproxy_servers, &f.initial_cluster) {
        (Some((n, src)), _) => (*n, src.clone()),
        (None, Some((n, src))) if !external => (*n, src.clone()),
        _ => (3, assumed("no file lists the control-plane nodes (no haproxy.cfg, no etcd --initial-cluster); 3, the smallest HA control plane")),
    };
    if let (Some((h, hs)), Some((e, es))) = (&f.haproxy_servers, &f.initial_cluster) {
        if h != e && !external {
            imp.not_imported(es, &format!("{e} members, but {} has {h}; stacked etcd has one member per control-plane node", hs.describe()));
        }
    }
    put(imp, "topology.control_plane_nodes", count.0.into(), count.1);
    let endpoint = match (&f.control_plane_endpoint, &f.haproxy_servers) {
        (Some(src), _) => ("load-balancer", src.clone()),
        (None, Some((_, src))) => ("load-balancer", src.clone()),
        (None, None) => ("direct:cp-1", assumed("no controlPlaneEndpoint and no haproxy.cfg: clients use the first control-plane node")),
    };
    put(imp, "topology.endpoint", endpoint.0.into(), endpoint.1);
    put(imp, "topology.zones", Value::from(vec!["a"]), assumed("kubeadm's files do not say where nodes run; one zone (list yours: nodes are placed over them in order)"));
}

/// `topology.load_balancers`, `topology.load_balancer_placement` and `vrrp_priorities`.
fn load_balancers(imp: &mut Imported) {
    let f = imp.facts.clone();
    if imp
        .settings
        .get("topology.endpoint")
        .is_some_and(|s| s.value != "load-balancer")
    {
        return;
    }
    if let Some(src) = &f.lb_static_pod {
        put(
            imp,
            "topology.load_balancer_placement",
            "control-plane".into(),
            src.clone(),
        );
    }
    let mut prios: Vec<(u32, bool, Source)> = f.keepalived.clone();
    // The MASTER first, then by priority: lb-1 (or cp-1) is the one that starts holding the VIP.
    prios.sort_by_key(|(p, master, _)| (!master, std::cmp::Reverse(*p)));
    match prios.as_slice() {
        [] => {
            if f.lb_static_pod.is_none() {
                let from = f.haproxy_servers.as_ref().map(|(_, s)| s.clone()).unwrap_or_else(|| assumed("no haproxy.cfg; one load balancer with the model's defaults (kubeadm's example)"));
                put(imp, "topology.load_balancers", 1.into(), from);
            }
        }
        [(p, master, src)] => {
            let other = if *master {
                p.saturating_sub(1).max(1)
            } else {
                (p + 1).min(254)
            };
            if f.lb_static_pod.is_none() {
                put(
                    imp,
                    "topology.load_balancers",
                    2.into(),
                    assumed(
                        "one keepalived.conf: its host and one peer, the fewest that move a VIP",
                    ),
                );
            }
            let why = format!("{}; the peer's priority is not in the files: {other}, as kubeadm's guide sets MASTER 101 and BACKUP 100", src.describe());
            put(
                imp,
                "settings.load_balancer.vrrp_priorities",
                Value::from(vec![(*p).max(other), (*p).min(other)]),
                assumed(&why),
            );
        }
        many => {
            if f.lb_static_pod.is_none() {
                put(
                    imp,
                    "topology.load_balancers",
                    many.len().into(),
                    assumed(&format!(
                        "{} keepalived.conf files, one per load balancer",
                        many.len()
                    )),
                );
            }
            let list: Vec<u32> = many.iter().map(|(p, _, _)| *p).collect();
            // The priorities are in the files: the first one's source, naming the others, so that
            // the comment says "from" and an error about the list points at a priority.
            let others: Vec<String> = many[1..].iter().map(|(_, _, s)| s.describe()).collect();
            let mut from = many[0].2.clone();
            from.key = format!("{} (with {})", from.key, others.join(", "));
            put(
                imp,
                "settings.load_balancer.vrrp_priorities",
                Value::from(list),
                from,
            );
        }
    }
}

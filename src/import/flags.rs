//! The component flags `import` understands: one row per flag, naming the process that takes it, the
//! scenario setting it becomes and how its text is read. The same table serves kubeadm's `extraArgs`
//! and the static pod manifests' command lines, so a flag means one thing wherever it is written.

use crate::engine::{fmt_duration_exact, parse_duration, MS, SEC};
use serde_json::Value;

/// The process a flag belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proc {
    Etcd,
    ApiServer,
    ControllerManager,
    Scheduler,
    Kubelet,
}

impl Proc {
    /// The binary's name, as a static pod's `command[0]` gives it.
    pub fn binary(self) -> &'static str {
        match self {
            Proc::Etcd => "etcd",
            Proc::ApiServer => "kube-apiserver",
            Proc::ControllerManager => "kube-controller-manager",
            Proc::Scheduler => "kube-scheduler",
            Proc::Kubelet => "kubelet",
        }
    }

    /// The process whose binary is `name` (a path's last part).
    pub fn from_binary(name: &str) -> Option<Proc> {
        let base = name.rsplit('/').next().unwrap_or(name);
        [
            Proc::Etcd,
            Proc::ApiServer,
            Proc::ControllerManager,
            Proc::Scheduler,
            Proc::Kubelet,
        ]
        .into_iter()
        .find(|p| p.binary() == base)
    }
}

/// How a flag's text is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number of milliseconds (etcd's `--heartbeat-interval=100`).
    Millis,
    /// A Go duration (`15s`, `1m0s`, `2.5s`).
    GoDuration,
    /// A whole number of seconds (`nodeLeaseDurationSeconds: 40`).
    Seconds,
    /// A whole number.
    Count,
    /// A number.
    Float,
    /// `true` or `false` (a flag given alone is `true`).
    Bool,
}

/// One flag and the setting it becomes.
pub struct Flag {
    pub proc: Proc,
    pub name: &'static str,
    /// The scenario setting's field path.
    pub path: &'static str,
    pub kind: Kind,
}

const fn flag(proc: Proc, name: &'static str, path: &'static str, kind: Kind) -> Flag {
    Flag {
        proc,
        name,
        path,
        kind,
    }
}

use Kind::{Bool, Count, Float, GoDuration, Millis};
use Proc::{ApiServer, ControllerManager, Etcd, Kubelet, Scheduler};

/// Every flag with a setting in the model (`scenario/model.rs` cites each flag's default).
pub const FLAGS: &[Flag] = &[
    flag(
        Etcd,
        "heartbeat-interval",
        "settings.etcd.heartbeat_interval",
        Millis,
    ),
    flag(
        Etcd,
        "election-timeout",
        "settings.etcd.election_timeout",
        Millis,
    ),
    flag(Etcd, "pre-vote", "settings.etcd.pre_vote", Bool),
    flag(
        Etcd,
        "initial-election-tick-advance",
        "settings.etcd.initial_election_tick_advance",
        Bool,
    ),
    flag(
        Etcd,
        "snapshot-count",
        "settings.etcd.snapshot_count",
        Count,
    ),
    flag(
        Etcd,
        "snapshot-catchup-entries",
        "settings.etcd.snapshot_catchup_entries",
        Count,
    ),
    flag(
        Etcd,
        "experimental-snapshot-catchup-entries",
        "settings.etcd.snapshot_catchup_entries",
        Count,
    ),
    flag(
        Etcd,
        "quota-backend-bytes",
        "settings.etcd.quota_backend_bytes",
        Count,
    ),
    flag(
        ApiServer,
        "request-timeout",
        "settings.kube_apiserver.request_timeout",
        GoDuration,
    ),
    flag(
        ApiServer,
        "shutdown-delay-duration",
        "settings.kube_apiserver.shutdown_delay_duration",
        GoDuration,
    ),
    flag(
        ApiServer,
        "etcd-healthcheck-timeout",
        "settings.kube_apiserver.etcd_healthcheck_timeout",
        GoDuration,
    ),
    flag(
        ApiServer,
        "etcd-readycheck-timeout",
        "settings.kube_apiserver.etcd_readycheck_timeout",
        GoDuration,
    ),
    flag(
        ApiServer,
        "goaway-chance",
        "settings.kube_apiserver.goaway_chance",
        Float,
    ),
    flag(
        ApiServer,
        "max-requests-inflight",
        "settings.kube_apiserver.max_requests_inflight",
        Count,
    ),
    flag(
        ApiServer,
        "max-mutating-requests-inflight",
        "settings.kube_apiserver.max_mutating_requests_inflight",
        Count,
    ),
    flag(
        ApiServer,
        "enable-priority-and-fairness",
        "settings.kube_apiserver.enable_priority_and_fairness",
        Bool,
    ),
    flag(
        ControllerManager,
        "leader-elect",
        "settings.leader_election.enabled",
        Bool,
    ),
    flag(
        ControllerManager,
        "leader-elect-lease-duration",
        "settings.leader_election.lease_duration",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "leader-elect-renew-deadline",
        "settings.leader_election.renew_deadline",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "leader-elect-retry-period",
        "settings.leader_election.retry_period",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "node-monitor-period",
        "settings.node_lifecycle.node_monitor_period",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "node-monitor-grace-period",
        "settings.node_lifecycle.node_monitor_grace_period",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "node-startup-grace-period",
        "settings.node_lifecycle.node_startup_grace_period",
        GoDuration,
    ),
    flag(
        ControllerManager,
        "node-eviction-rate",
        "settings.node_lifecycle.node_eviction_rate",
        Float,
    ),
    flag(
        ControllerManager,
        "secondary-node-eviction-rate",
        "settings.node_lifecycle.secondary_node_eviction_rate",
        Float,
    ),
    flag(
        ControllerManager,
        "unhealthy-zone-threshold",
        "settings.node_lifecycle.unhealthy_zone_threshold",
        Float,
    ),
    flag(
        ControllerManager,
        "large-cluster-size-threshold",
        "settings.node_lifecycle.large_cluster_size_threshold",
        Count,
    ),
    flag(
        Scheduler,
        "leader-elect",
        "settings.leader_election.enabled",
        Bool,
    ),
    flag(
        Scheduler,
        "leader-elect-lease-duration",
        "settings.leader_election.lease_duration",
        GoDuration,
    ),
    flag(
        Scheduler,
        "leader-elect-renew-deadline",
        "settings.leader_election.renew_deadline",
        GoDuration,
    ),
    flag(
        Scheduler,
        "leader-elect-retry-period",
        "settings.leader_election.retry_period",
        GoDuration,
    ),
    flag(
        Kubelet,
        "node-status-update-frequency",
        "settings.kubelet.node_status_update_frequency",
        GoDuration,
    ),
    flag(Kubelet, "max-pods", "settings.kubelet.max_pods", Count),
];

/// The row for `name` (without dashes) of `proc`.
pub fn find(proc: Proc, name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.proc == proc && f.name == name)
}

/// Why a flag with no row is not imported, from what kind of value it holds.
pub fn why_not(name: &str) -> &'static str {
    // Flags whose names would mislead the word match below.
    match name {
        "initial-cluster-state" => {
            return "how a member starts (new or existing); the model bootstraps its cluster, and \
                    `member-add` joins a member as existing"
        }
        "client-cert-auth" | "peer-client-cert-auth" => {
            return "a switch for client-certificate checks; the model checks certificates by role \
                    (expire-cert), always on as in kubeadm's clusters"
        }
        "initial-cluster-token" => {
            return "an identifier of the cluster; the model has one cluster"
        }
        _ => {}
    }
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&[
        "file",
        "dir",
        "path",
        "kubeconfig",
        "cert",
        "key",
        "ca",
        "tls",
        "pki",
    ]) {
        "a file or certificate path; the model has no files (certificates are modelled by role: expire-cert)"
    } else if has(&[
        "address",
        "port",
        "cidr",
        "url",
        "host",
        "bind",
        "advertise",
        "listen",
        "initial-cluster",
    ]) {
        "an address; the model names its nodes cp-N, etcd-N, lb-N and connects them itself"
    } else {
        "the model has no such setting (`kube-ha-sim help scenario` lists them)"
    }
}

/// The setting's value from a flag's text, or what is wrong with the text.
pub fn value(kind: Kind, text: &str) -> Result<Value, String> {
    let t = text.trim().trim_matches('"');
    let whole = || {
        t.parse::<u64>()
            .map_err(|_| format!("`{t}` is not a whole number"))
    };
    match kind {
        Kind::Millis => Ok(duration(whole()?.saturating_mul(MS))),
        Kind::Seconds => Ok(duration(whole()?.saturating_mul(SEC))),
        Kind::GoDuration => go_duration(t).map(duration),
        Kind::Count => whole().map(Value::from),
        Kind::Float => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from)
            .ok_or_else(|| format!("`{t}` is not a number")),
        Kind::Bool => match t {
            "true" | "True" | "TRUE" | "1" | "t" => Ok(Value::Bool(true)),
            "false" | "False" | "FALSE" | "0" | "f" => Ok(Value::Bool(false)),
            _ => Err(format!("`{t}` is not true or false")),
        },
    }
}

fn duration(ns: u64) -> Value {
    Value::String(fmt_duration_exact(ns))
}

/// A Go `time.Duration` string (`1m0s`, `500ms`, `0`).
fn go_duration(t: &str) -> Result<u64, String> {
    if t == "0" {
        return Ok(0);
    }
    parse_duration(t).map_err(|e| format!("not a Go duration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_become_settings() {
        assert_eq!(value(Kind::Millis, "250").unwrap(), "250ms");
        assert_eq!(value(Kind::GoDuration, "1m0s").unwrap(), "1m");
        assert_eq!(value(Kind::Bool, "false").unwrap(), false);
        assert!(value(Kind::Millis, "1s").is_err());
        assert!(find(Proc::Etcd, "heartbeat-interval").is_some());
        assert_eq!(Proc::from_binary("/usr/local/bin/etcd"), Some(Proc::Etcd));
    }
}

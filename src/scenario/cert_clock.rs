//! The file words and the validation of the certificate faults (`expire-cert`, `renew-cert`) and the
//! clock fault (`clock-skew`). The kinds themselves are rows of [`FaultKind`](super::faults::FaultKind);
//! what they do is in `world/tls.rs` and `world/clock.rs`.

use super::error::ScenarioError;
use super::faults::{Fault, FaultAction};
use super::validate::Validator;
use crate::engine::{parse_duration, Nanos};
use crate::topology::{Layout, ProcKind, Target};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A kubeadm certificate (as `kubeadm certs check-expiration` names them), or all of them.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum CertName {
    /// Every certificate below.
    #[serde(rename = "all")]
    All,
    /// kube-apiserver's serving certificate (`pki/apiserver.crt`).
    #[serde(rename = "apiserver")]
    Apiserver,
    /// kube-apiserver's client certificate towards etcd (`pki/apiserver-etcd-client.crt`).
    #[serde(rename = "apiserver-etcd-client")]
    ApiserverEtcdClient,
    /// etcd's serving certificate on the client port 2379 (`pki/etcd/server.crt`).
    #[serde(rename = "etcd-server")]
    EtcdServer,
    /// etcd's peer certificate on port 2380, server and client side (`pki/etcd/peer.crt`).
    #[serde(rename = "etcd-peer")]
    EtcdPeer,
    /// The kubelet's client certificate (`/var/lib/kubelet/pki/kubelet-client-current.pem`, named
    /// in `kubelet.conf`).
    #[serde(rename = "kubelet-client")]
    KubeletClient,
    /// kube-controller-manager's client certificate, embedded in `controller-manager.conf`.
    #[serde(rename = "controller-manager.conf")]
    ControllerManagerConf,
    /// kube-scheduler's client certificate, embedded in `scheduler.conf`.
    #[serde(rename = "scheduler.conf")]
    SchedulerConf,
}

impl CertName {
    /// Every certificate, in the order help lists them (`all` first).
    pub const ALL: [CertName; 8] = [
        CertName::All,
        CertName::Apiserver,
        CertName::ApiserverEtcdClient,
        CertName::EtcdServer,
        CertName::EtcdPeer,
        CertName::KubeletClient,
        CertName::ControllerManagerConf,
        CertName::SchedulerConf,
    ];

    /// The name in files.
    pub const fn name(self) -> &'static str {
        match self {
            CertName::All => "all",
            CertName::Apiserver => "apiserver",
            CertName::ApiserverEtcdClient => "apiserver-etcd-client",
            CertName::EtcdServer => "etcd-server",
            CertName::EtcdPeer => "etcd-peer",
            CertName::KubeletClient => "kubelet-client",
            CertName::ControllerManagerConf => "controller-manager.conf",
            CertName::SchedulerConf => "scheduler.conf",
        }
    }

    /// The process that holds (presents) the certificate; None for `all`.
    pub fn holder(self) -> Option<ProcKind> {
        match self {
            CertName::All => None,
            CertName::Apiserver | CertName::ApiserverEtcdClient => Some(ProcKind::ApiServer),
            CertName::EtcdServer | CertName::EtcdPeer => Some(ProcKind::Etcd),
            CertName::KubeletClient => Some(ProcKind::Kubelet),
            CertName::ControllerManagerConf => Some(ProcKind::ControllerManager),
            CertName::SchedulerConf => Some(ProcKind::Scheduler),
        }
    }

    /// The certificates it stands for.
    pub fn certs(self) -> CertSet {
        match self {
            CertName::All => CertSet(CertSet::EVERY),
            one => CertSet(1 << one as u8),
        }
    }
}

/// A set of certificates (a bit per [`CertName`] but `all`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CertSet(pub u8);

impl CertSet {
    const EVERY: u8 = 0b1111_1110;

    /// Whether `c` is in the set.
    pub fn has(self, c: CertName) -> bool {
        c != CertName::All && self.0 & (1 << c as u8) != 0
    }

    /// The certificates in the set, in table order.
    pub fn iter(self) -> impl Iterator<Item = CertName> {
        CertName::ALL.into_iter().filter(move |&c| self.has(c))
    }
}

/// kubeadm's certificates are valid for one year from `kubeadm init` (k/k cmd/kubeadm/app/constants
/// `CertificateValidityPeriod = 365 * 24 * time.Hour`); the model takes the run to start right after
/// init, so they expire 365 days into the run unless a fault says otherwise, and a renewal (kubeadm
/// certs renew) gives another year from its moment.
pub const CERT_VALIDITY_NS: Nanos = 365 * 24 * crate::engine::HOUR;

/// A signed duration (`"+5m"`, `"-30s"`, `"5m"`): a step of a wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SignedDur(pub i64);

impl SignedDur {
    fn parse(text: &str) -> Result<SignedDur, String> {
        let t = text.trim();
        let (sign, rest) = match t.strip_prefix('-') {
            Some(r) => (-1i64, r),
            None => (1, t.strip_prefix('+').unwrap_or(t)),
        };
        let ns = parse_duration(rest)?;
        let ns = i64::try_from(ns).map_err(|_| format!("\"{text}\" is too long an offset"))?;
        Ok(SignedDur(sign * ns))
    }

    fn text(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "+" };
        format!(
            "{sign}{}",
            crate::engine::fmt_duration_exact(self.0.unsigned_abs())
        )
    }
}

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SignedDur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a signed duration string, e.g. \"+5m\" or \"-30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SignedDur, E> {
                SignedDur::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for SignedDur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// The range of `rate` a file may give. Real oscillators err by tens of ppm and NTP slews by at most
/// 500 ppm (`rate` 0.9995..1.0005); the wide range stands for a broken virtual clock, and its ends
/// keep a run's cost bounded (a node's timers fire `rate` times as often).
pub const RATE_MIN: f64 = 0.05;
pub const RATE_MAX: f64 = 20.0;

impl Validator<'_> {
    /// `expire-cert` and `renew-cert`: the certificate (required for expire-cert; renew-cert renews
    /// all without one, as `kubeadm certs renew all`) and the nodes (every node without a target).
    pub(crate) fn cert_action(
        &self,
        layout: &Layout,
        p: &str,
        f: &Fault,
        renew: bool,
    ) -> Result<FaultAction, ScenarioError> {
        let cert = match (f.cert, renew) {
            (Some(c), _) => c,
            (None, true) => CertName::All,
            (None, false) => {
                let names: Vec<&str> = CertName::ALL.iter().map(|c| c.name()).collect();
                return Err(self.err(
                    &format!("{p}.cert"),
                    format!(
                        "an expire-cert fault needs `cert`: which certificate expires; allowed: {}",
                        names.join(", ")
                    ),
                ));
            }
        };
        let target = match f.target.as_deref() {
            None | Some("all") => None,
            Some(t) => {
                let tpath = format!("{p}.target");
                let r = self.resolve(layout, &tpath, t)?;
                self.not_client(layout, &tpath, t, r, f.kind.name())?;
                self.holds_cert(layout, &tpath, t, r, cert)?;
                Some(r)
            }
        };
        let certs = cert.certs();
        Ok(if renew {
            FaultAction::RenewCert { certs, target }
        } else {
            FaultAction::ExpireCert { certs, target }
        })
    }

    /// A node (or a process on it) named for a certificate must run the process holding it.
    fn holds_cert(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
        r: Target,
        cert: CertName,
    ) -> Result<(), ScenarioError> {
        let node = match r {
            Target::Node(n) => n,
            Target::Proc(pi) => layout.procs[pi].node,
            Target::Zone(_) | Target::Selector(_) => return Ok(()),
        };
        let runs = |k: ProcKind| layout.procs_of(k).any(|pi| layout.procs[pi].node == node);
        let ok = match cert.holder() {
            Some(k) => runs(k),
            None => CertName::ALL.iter().filter_map(|c| c.holder()).any(runs),
        };
        if ok {
            return Ok(());
        }
        let holder = cert
            .holder()
            .map_or("a control-plane process or a kubelet", |k| k.name());
        Err(self.err(
            path,
            format!(
                "`{name}` runs no {holder}, so it has no `{}` certificate; name a node that runs one, \
                 or leave `target` out for every node",
                cert.name()
            ),
        ))
    }

    /// `clock-skew`: a node (a process or selector stands for its node, a zone for its nodes) and at
    /// least one of `offset` (a wall-clock step) and `rate` (the clock's speed against true time).
    pub(crate) fn clock_action(
        &self,
        layout: &Layout,
        p: &str,
        f: &Fault,
    ) -> Result<FaultAction, ScenarioError> {
        let tpath = format!("{p}.target");
        let Some(t) = f.target.as_deref() else {
            return Err(self.err(
                &tpath,
                "a clock-skew fault needs `target`: the node whose clock is off, e.g. \"cp-1\" or \
                 \"leader:kube-controller-manager\"",
            ));
        };
        let target = self.resolve(layout, &tpath, t)?;
        self.not_client(layout, &tpath, t, target, f.kind.name())?;
        if f.offset.is_none() && f.rate.is_none() {
            return Err(self.err(
                p,
                "a clock-skew fault needs `offset` (a wall-clock step, e.g. \"+5m\"), `rate` (the \
                 clock's speed, e.g. 1.5 for 50% fast, 0.9995 for 500 ppm slow), or both",
            ));
        }
        let rate = f.rate.unwrap_or(1.0);
        if !(RATE_MIN..=RATE_MAX).contains(&rate) {
            return Err(self.err(
                &format!("{p}.rate"),
                format!(
                    "{rate} is out of range: a clock's rate is a factor of true time from {RATE_MIN} \
                     to {RATE_MAX} (1 is a perfect clock, 1.0001 is 100 ppm fast)"
                ),
            ));
        }
        // Validated to 0.05..20 first, so the product fits; ns_from_f64 saturates anyway.
        let rate_ppm = crate::engine::ns_from_f64((rate * 1e6).round());
        Ok(FaultAction::ClockSkew {
            target,
            offset_ns: f.offset.map_or(0, |o| o.0),
            rate_ppm,
        })
    }
}

/// Whether a leader may act past the lease a candidate counts: the settings allow it
/// ([`allows_lease_overrun`]), a clock runs at a wrong rate, or a process stalls. client-go trusts only local time, so
/// a leader on a slow clock (or a candidate on a fast one) overlaps: a hazard of the fault, counted
/// in `leader_election.past_lease_actions`, not a fault of the model.
///
/// [`allows_lease_overrun`]: super::model::LeaderElectionSettings::allows_lease_overrun
pub fn lease_overrun_possible(plan: &super::Plan) -> bool {
    let skewed_rate = plan.faults.iter().any(|f| {
        matches!(f.action, FaultAction::ClockSkew { rate_ppm, .. }
            if rate_ppm != crate::world::clock::PERFECT_PPM)
    });
    // A leader that stalls (`pause`) past its lease acts on it when it runs again, until its next
    // renew cycle fails: the hazard the fault shows, not a broken model.
    let stalled = plan
        .faults
        .iter()
        .any(|f| matches!(f.action, FaultAction::Pause { .. }));
    plan.settings.leader_election.allows_lease_overrun() || skewed_rate || stalled
}

/// The description of a clock fault for summaries (`+5m, rate 1.5`).
pub fn clock_text(offset_ns: i64, rate_ppm: u64) -> String {
    let mut parts = Vec::new();
    if offset_ns != 0 {
        parts.push(format!("offset {}", SignedDur(offset_ns).text()));
    }
    if rate_ppm != crate::world::clock::PERFECT_PPM {
        parts.push(format!("rate {}", rate_ppm as f64 / 1e6));
    }
    parts.join(", ")
}

//! Faults, declared once: the kind table (names, fields, help, whether a fault lasts or repairs),
//! the file's mirror of a fault, the typed action validation builds from it, and that build.
//!
//! Adding a fault kind is a variant here (the compiler then lists every match to answer, here and in
//! the world's handling in `world/faults.rs`) and its effect in the world.

use super::cert_clock::{CertName, CertSet, SignedDur};
use super::error::ScenarioError;
use super::model::Dur;
use super::validate::{Check, Validator};
use crate::engine::{fmt_duration, Nanos};
use crate::topology::{Layout, ProcKind, Target};
use serde::{Deserialize, Serialize};

/// Fault kinds (CONTRACT.md).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Crash,
    /// A graceful stop (SIGTERM): components shut down cleanly (a leader releases its lease) and stay
    /// down until restarted; with `for`, they start again after it.
    Stop,
    Restart,
    Partition,
    Isolate,
    DegradeLink,
    SlowDisk,
    WipeData,
    /// `etcdutl snapshot restore` on every member from the snapshot taken at `snapshot_at`: a new
    /// logical cluster with the data as of then; later writes are gone.
    Restore,
    /// The processes stop being scheduled (SIGSTOP, a VM freeze, a long GC or I/O stall): they keep
    /// their state and connections, the kernel still accepts what peers send, and nothing is handled
    /// until the pause ends, when everything that arrived and every timer that fell due is handled.
    Pause,
    /// `etcdctl defrag` on one member: its backend is locked while bbolt rewrites the database, for a
    /// time growing with its size; Raft goes on, client requests wait.
    Defrag,
    /// A kubeadm certificate expires (or every one, as a year after `kubeadm init`): TLS handshakes
    /// and client-certificate checks that rely on it fail.
    ExpireCert,
    /// `kubeadm certs renew` and the restart of what uses the renewed certificates.
    RenewCert,
    /// A node's clock is stepped (`offset`) and/or runs at a wrong rate (`rate`).
    ClockSkew,
    /// `etcdctl member remove`: the member leaves the cluster (refused if it would lose quorum).
    MemberRemove,
    /// `etcdctl member add --learner` with a fresh data directory on the target's node, the member
    /// started, then `etcdctl member promote` once it has caught up.
    MemberAdd,
    /// `etcdctl alarm disarm`: every raised alarm is deactivated through Raft, and writes go on if the
    /// database is below its quota again (after a compaction and a defrag).
    AlarmDisarm,
}

impl FaultKind {
    /// Every fault kind, in the order help lists them.
    pub const ALL: [FaultKind; 17] = [
        FaultKind::Crash,
        FaultKind::Stop,
        FaultKind::Restart,
        FaultKind::Partition,
        FaultKind::Isolate,
        FaultKind::DegradeLink,
        FaultKind::SlowDisk,
        FaultKind::WipeData,
        FaultKind::Restore,
        FaultKind::Pause,
        FaultKind::Defrag,
        FaultKind::ExpireCert,
        FaultKind::RenewCert,
        FaultKind::ClockSkew,
        FaultKind::MemberRemove,
        FaultKind::MemberAdd,
        FaultKind::AlarmDisarm,
    ];

    /// The names used in files, in the order of [`FaultKind::ALL`] (for "allowed: ..." lists).
    pub const NAMES: [&'static str; 17] = {
        let mut names = [""; 17];
        let mut i = 0;
        while i < names.len() {
            names[i] = Self::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The name used in files.
    pub const fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Stop => "stop",
            FaultKind::Restart => "restart",
            FaultKind::Partition => "partition",
            FaultKind::Isolate => "isolate",
            FaultKind::DegradeLink => "degrade-link",
            FaultKind::SlowDisk => "slow-disk",
            FaultKind::WipeData => "wipe-data",
            FaultKind::Restore => "restore",
            FaultKind::Pause => "pause",
            FaultKind::Defrag => "defrag",
            FaultKind::ExpireCert => "expire-cert",
            FaultKind::RenewCert => "renew-cert",
            FaultKind::ClockSkew => "clock-skew",
            FaultKind::MemberRemove => "member-remove",
            FaultKind::MemberAdd => "member-add",
            FaultKind::AlarmDisarm => "alarm-disarm",
        }
    }

    /// The optional fields of a fault (besides `at` and `kind`) that this kind takes. CONTRACT.md: every
    /// fault may have `for` (on restart and wipe-data there is nothing to undo).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FaultKind::Crash
            | FaultKind::Stop
            | FaultKind::Isolate
            | FaultKind::Restart
            | FaultKind::Pause
            | FaultKind::WipeData => &["target", "for"],
            FaultKind::Defrag | FaultKind::MemberRemove | FaultKind::MemberAdd => &["target"],
            FaultKind::Partition => &["groups", "for"],
            FaultKind::DegradeLink => &["between", "latency", "loss", "for"],
            FaultKind::SlowDisk => &["target", "fsync_latency", "for"],
            FaultKind::Restore => &["snapshot_at"],
            FaultKind::AlarmDisarm => &[],
            FaultKind::ExpireCert => &["cert", "target", "for"],
            FaultKind::RenewCert => &["cert", "target"],
            FaultKind::ClockSkew => &["target", "offset", "rate", "for"],
        }
    }

    /// Whether the fault holds a state until it is undone (by its `for`, or to the end of the run): a
    /// crash holds processes down, a partition holds links cut. A restart, a wipe or a restore is a
    /// moment with nothing to undo, drawn as a marker.
    pub fn lasts(self) -> bool {
        match self {
            FaultKind::Crash
            | FaultKind::Stop
            | FaultKind::Partition
            | FaultKind::Isolate
            | FaultKind::DegradeLink
            | FaultKind::SlowDisk
            | FaultKind::Pause
            | FaultKind::ExpireCert
            | FaultKind::ClockSkew => true,
            FaultKind::Restart
            | FaultKind::WipeData
            | FaultKind::Restore
            | FaultKind::Defrag
            | FaultKind::MemberRemove
            | FaultKind::MemberAdd
            | FaultKind::AlarmDisarm
            | FaultKind::RenewCert => false,
        }
    }

    /// A repair: it undoes earlier damage, so an outage going on when it starts is charged to it, not
    /// to the earlier fault. A wipe is a moment too but not a repair.
    pub fn is_repair(self) -> bool {
        match self {
            FaultKind::Restart
            | FaultKind::Restore
            | FaultKind::RenewCert
            | FaultKind::MemberAdd
            | FaultKind::AlarmDisarm => true,
            FaultKind::MemberRemove => false,
            FaultKind::ExpireCert | FaultKind::ClockSkew => false,
            FaultKind::Crash
            | FaultKind::Stop
            | FaultKind::Partition
            | FaultKind::Isolate
            | FaultKind::DegradeLink
            | FaultKind::SlowDisk
            | FaultKind::Pause
            | FaultKind::Defrag
            | FaultKind::WipeData => false,
        }
    }

    /// The fields column of `help scenario`'s fault table.
    pub fn fields_help(self) -> &'static str {
        match self {
            FaultKind::Crash => "target: node, process, zone or selector",
            FaultKind::Stop | FaultKind::Restart => "target: as crash",
            FaultKind::Partition => "groups: 2 or more lists of nodes or zone:NAME",
            FaultKind::Isolate => "target: a node (or a process or selector on one)",
            FaultKind::DegradeLink => {
                "between: [a, b], two nodes or zones; latency: duration; loss: 0 to 1, the \
                 chance each packet is lost"
            }
            FaultKind::SlowDisk => {
                "target: a node running etcd, NODE/etcd, leader:etcd or follower:etcd; \
                 fsync_latency: duration"
            }
            FaultKind::WipeData => "target: as slow-disk",
            FaultKind::Restore => "snapshot_at: duration (before `at`)",
            FaultKind::Pause => "target: as crash",
            FaultKind::Defrag | FaultKind::MemberRemove => "target: as slow-disk",
            FaultKind::MemberAdd => "target: a node whose etcd member was removed (or NODE/etcd)",
            FaultKind::AlarmDisarm => "none",
            FaultKind::ExpireCert => {
                "cert: apiserver, apiserver-etcd-client, etcd-server, etcd-peer, kubelet-client, \
                 controller-manager.conf, scheduler.conf or all; target: a node, process, zone or \
                 selector (left out or \"all\": every node)"
            }
            FaultKind::RenewCert => "cert: as expire-cert (left out: all); target: as expire-cert",
            FaultKind::ClockSkew => {
                "target: a node (or a process, selector or zone); offset: a signed duration \
                 (\"+5m\", \"-30s\"), a step of the wall clock; rate: the clock's speed against true \
                 time, from 0.05 to 20 (1.5 = 50% fast, 0.9995 = 500 ppm slow)"
            }
        }
    }

    /// The effect column of `help scenario`'s fault table.
    pub fn effect(self) -> &'static str {
        match self {
            FaultKind::Crash => {
                "the processes stop and lose volatile state; with `for`, they start again after it"
            }
            FaultKind::Stop => {
                "a graceful stop (SIGTERM): components shut down cleanly (a leader releases its \
                 lease or hands over; kube-apiserver fails /readyz for shutdown_delay_duration, then \
                 drains and exits) and stay down; with `for`, they start again after it"
            }
            FaultKind::Restart => "starts what was crashed or stopped",
            FaultKind::Partition => {
                "no traffic between nodes of different groups; a node may be in only one group. \
                 TCP resends what crosses it: it gets through at the first retransmission after \
                 the heal (unless the connection was closed meanwhile)"
            }
            FaultKind::Isolate => "no traffic to or from the node (TCP resends after the heal, as for a partition)",
            FaultKind::DegradeLink => {
                "slower or lossy links between a and b; needs at least one of latency and loss. \
                 Loss is per packet, as TCP sees it: a lost message is retransmitted after \
                 200 ms plus the round trip, each retry waiting twice as long (up to 120 s), and \
                 everything sent after it on the same connection waits for it; loss drops \
                 nothing unless etcd closes a peer connection stalled for 5 s (or TCP gives up \
                 after 15 retries). VRRP adverts are datagrams and are lost outright. With a = b \
                 (or overlapping), the links inside are degraded: between a zone's nodes, or a \
                 node's processes"
            }
            FaultKind::SlowDisk => "every etcd WAL fsync on that node takes that long",
            FaultKind::WipeData => {
                "the etcd member's data is lost; it cannot rejoin as the same member"
            }
            FaultKind::Restore => {
                "`etcdutl snapshot restore` on every etcd member from the snapshot taken at \
                 snapshot_at: a new logical cluster with the data of then; writes acknowledged \
                 later are lost and counted in data.acknowledged_writes_lost"
            }
            FaultKind::Pause => {
                "the processes stall (SIGSTOP, a VM freeze, a long GC or I/O stall) and keep their \
                 state: peers' messages wait in the kernel, timers fall due, nothing is handled or \
                 sent; at the end of `for` everything waiting is handled at once (a leader that \
                 stalled past its lease acts on it until it learns otherwise). Without `for` the \
                 stall lasts to the end"
            }
            FaultKind::Defrag => {
                "`etcdctl defrag` of that member: its backend is locked while bbolt rewrites the \
                 database, about 13 ms per MB of its size (2.1 GB took 27 s); Raft messages flow \
                 on, client requests (reads, writes, health checks) wait until it is done; the \
                 database shrinks to its live size"
            }
            FaultKind::MemberRemove => {
                "`etcdctl member remove` of that member, sent to the leader: the change commits \
                 through Raft and the member stops (\"the member has been permanently removed from \
                 the cluster\"); with --strict-reconfig-check (etcd's default) refused when the \
                 members left that are started and connected would be short of their quorum; one \
                 membership change at a time"
            }
            FaultKind::MemberAdd => {
                "replaces the member on that node: `etcdctl member add --learner` (a new member \
                 id), its data directory emptied and etcd started with \
                 --initial-cluster-state=existing; it catches up from the leader (a snapshot if \
                 the log it needs is compacted), and `etcdctl member promote` is retried every \
                 second until the learner is in sync (90 % of the leader's log)"
            }
            FaultKind::AlarmDisarm => {
                "`etcdctl alarm disarm`, sent to the leader: each raised alarm is deactivated \
                 through Raft (one request per alarm, as clientv3 lists them first); once no \
                 NOSPACE alarm is left, members apply writes again and a member judges the quota \
                 afresh, so a database still past it raises the alarm again at its next Put \
                 (defragment first: `defrag` shrinks it to its live size)"
            }
            FaultKind::ExpireCert => {
                "the certificate's notAfter is now: a TLS handshake that needs it fails (the client \
                 gets an error at once, not silence), judged on the verifying node's wall clock. \
                 Connections set up before (etcd peer streams, kube-apiserver's etcd client) stay \
                 up until either end restarts; client certificates towards kube-apiserver \
                 (kubelet-client, *.conf) are checked on every request (401). HAProxy's checks \
                 (`check verify none`) keep passing. With `for`, renewed then as renew-cert"
            }
            FaultKind::RenewCert => {
                "`kubeadm certs renew` (valid for a year from now) and, as kubeadm's docs require, \
                 the restart of the static pods (or the kubelet) using the renewed certificates"
            }
            FaultKind::ClockSkew => {
                "the node's clock runs at `rate` from now and its wall clock steps by `offset`. \
                 Timers and durations (Go's monotonic clock) follow the rate, not the step; \
                 certificate validity follows the wall clock. With `for`, the rate is 1 again and \
                 the step is undone (the monotonic lead gained stays)"
            }
        }
    }
}

/// One scripted fault.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub at: Dur,
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync_latency: Option<Dur>,
    /// `restore`: when the snapshot being restored was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<Dur>,
    /// `expire-cert`, `renew-cert`: which certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<CertName>,
    /// `clock-skew`: the wall-clock step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<SignedDur>,
    /// `clock-skew`: the clock's rate against true time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl Fault {
    /// Each optional field of the mirror with whether the file gave it (checked against the kind's
    /// [`FaultKind::fields`]).
    pub fn given_fields(&self) -> [(&'static str, bool); 11] {
        [
            ("target", self.target.is_some()),
            ("for", self.for_.is_some()),
            ("groups", self.groups.is_some()),
            ("between", self.between.is_some()),
            ("latency", self.latency.is_some()),
            ("loss", self.loss.is_some()),
            ("fsync_latency", self.fsync_latency.is_some()),
            ("snapshot_at", self.snapshot_at.is_some()),
            ("cert", self.cert.is_some()),
            ("offset", self.offset.is_some()),
            ("rate", self.rate.is_some()),
        ]
    }
}

/// What a fault does, with the fields its kind takes and nothing else.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Processes lose volatile state and stay down (for `for`, or until restarted).
    Crash { target: Target },
    /// A graceful stop (SIGTERM), then down as a crash.
    Stop { target: Target },
    /// Starts what was crashed or stopped.
    Restart { target: Target },
    /// No traffic between the groups (each a list of nodes or zones).
    Partition { groups: Vec<Vec<Target>> },
    /// No traffic to or from one node (a node, or the node of a process or selector).
    Isolate { target: Target },
    /// Slower or lossy links between two ends (nodes or zones). Loss delays TCP messages by
    /// retransmissions and holds up their connection (see `net`); it drops only datagrams.
    DegradeLink {
        between: [Target; 2],
        latency_ns: Nanos,
        loss: f64,
    },
    /// Every etcd WAL fsync on the target's node takes `fsync_latency_ns`.
    SlowDisk {
        target: Target,
        fsync_latency_ns: Nanos,
    },
    /// The etcd member's data directory on the target's node is lost.
    WipeData { target: Target },
    /// `etcdutl snapshot restore` on every member from the snapshot taken at `snapshot_at_ns`.
    Restore { snapshot_at_ns: Nanos },
    /// The target's processes stall and keep their state.
    Pause { target: Target },
    /// `etcdctl member remove` of the target's member.
    MemberRemove { target: Target },
    /// A new member replaces the one on the target's node (add as learner, start, promote).
    MemberAdd { target: Target },
    /// `etcdctl defrag` of the etcd member on the target's node.
    Defrag { target: Target },
    /// `etcdctl alarm disarm`.
    AlarmDisarm,
    /// The certificates expire on the target's nodes (None: every node).
    ExpireCert {
        certs: CertSet,
        target: Option<Target>,
    },
    /// The certificates are renewed on the target's nodes (None: every node) and their users
    /// restarted.
    RenewCert {
        certs: CertSet,
        target: Option<Target>,
    },
    /// The target's node clock runs at `rate_ppm` millionths of true time; its wall clock steps by
    /// `offset_ns`.
    ClockSkew {
        target: Target,
        offset_ns: i64,
        rate_ppm: u64,
    },
}

impl FaultAction {
    /// The kind of this action (its row in the fault-kind table).
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Crash { .. } => FaultKind::Crash,
            FaultAction::Stop { .. } => FaultKind::Stop,
            FaultAction::Restart { .. } => FaultKind::Restart,
            FaultAction::Partition { .. } => FaultKind::Partition,
            FaultAction::Isolate { .. } => FaultKind::Isolate,
            FaultAction::DegradeLink { .. } => FaultKind::DegradeLink,
            FaultAction::SlowDisk { .. } => FaultKind::SlowDisk,
            FaultAction::WipeData { .. } => FaultKind::WipeData,
            FaultAction::Restore { .. } => FaultKind::Restore,
            FaultAction::Pause { .. } => FaultKind::Pause,
            FaultAction::MemberRemove { .. } => FaultKind::MemberRemove,
            FaultAction::MemberAdd { .. } => FaultKind::MemberAdd,
            FaultAction::Defrag { .. } => FaultKind::Defrag,
            FaultAction::AlarmDisarm => FaultKind::AlarmDisarm,
            FaultAction::ExpireCert { .. } => FaultKind::ExpireCert,
            FaultAction::RenewCert { .. } => FaultKind::RenewCert,
            FaultAction::ClockSkew { .. } => FaultKind::ClockSkew,
        }
    }

    /// The single target of a targeted fault.
    pub fn target(&self) -> Option<Target> {
        match self {
            FaultAction::Crash { target }
            | FaultAction::Stop { target }
            | FaultAction::Restart { target }
            | FaultAction::Isolate { target }
            | FaultAction::SlowDisk { target, .. }
            | FaultAction::Pause { target }
            | FaultAction::Defrag { target }
            | FaultAction::MemberRemove { target }
            | FaultAction::MemberAdd { target }
            | FaultAction::WipeData { target }
            | FaultAction::ClockSkew { target, .. } => Some(*target),
            FaultAction::ExpireCert { target, .. } | FaultAction::RenewCert { target, .. } => {
                *target
            }
            FaultAction::AlarmDisarm => None,
            FaultAction::Partition { .. }
            | FaultAction::DegradeLink { .. }
            | FaultAction::Restore { .. } => None,
        }
    }

    /// The same action with every target passed through `f` (used to carry a fault script over to
    /// another topology).
    pub fn map_targets(&self, mut f: impl FnMut(Target) -> Target) -> FaultAction {
        match self {
            FaultAction::Crash { target } => FaultAction::Crash { target: f(*target) },
            FaultAction::Stop { target } => FaultAction::Stop { target: f(*target) },
            FaultAction::Restart { target } => FaultAction::Restart { target: f(*target) },
            FaultAction::Partition { groups } => FaultAction::Partition {
                groups: groups
                    .iter()
                    .map(|g| g.iter().map(|t| f(*t)).collect())
                    .collect(),
            },
            FaultAction::Isolate { target } => FaultAction::Isolate { target: f(*target) },
            FaultAction::DegradeLink {
                between,
                latency_ns,
                loss,
            } => FaultAction::DegradeLink {
                between: [f(between[0]), f(between[1])],
                latency_ns: *latency_ns,
                loss: *loss,
            },
            FaultAction::SlowDisk {
                target,
                fsync_latency_ns,
            } => FaultAction::SlowDisk {
                target: f(*target),
                fsync_latency_ns: *fsync_latency_ns,
            },
            FaultAction::WipeData { target } => FaultAction::WipeData { target: f(*target) },
            FaultAction::Restore { snapshot_at_ns } => FaultAction::Restore {
                snapshot_at_ns: *snapshot_at_ns,
            },
            FaultAction::Pause { target } => FaultAction::Pause { target: f(*target) },
            FaultAction::Defrag { target } => FaultAction::Defrag { target: f(*target) },
            FaultAction::AlarmDisarm => FaultAction::AlarmDisarm,
            FaultAction::MemberRemove { target } => {
                FaultAction::MemberRemove { target: f(*target) }
            }
            FaultAction::MemberAdd { target } => FaultAction::MemberAdd { target: f(*target) },
            FaultAction::ExpireCert { certs, target } => FaultAction::ExpireCert {
                certs: *certs,
                target: target.map(&mut f),
            },
            FaultAction::RenewCert { certs, target } => FaultAction::RenewCert {
                certs: *certs,
                target: target.map(&mut f),
            },
            FaultAction::ClockSkew {
                target,
                offset_ns,
                rate_ppm,
            } => FaultAction::ClockSkew {
                target: f(*target),
                offset_ns: *offset_ns,
                rate_ppm: *rate_ppm,
            },
        }
    }
}

impl FaultAction {
    /// Writes the action's targets back into the file's words (`compare` carries a script to another
    /// topology this way). `name(target, network)` names a target; `network` is true where a node is
    /// needed (partition groups and link ends).
    pub fn write_targets(&self, spec: &mut Fault, mut name: impl FnMut(Target, bool) -> String) {
        match self {
            FaultAction::Partition { groups } => {
                spec.groups = Some(
                    groups
                        .iter()
                        .map(|g| g.iter().map(|t| name(*t, true)).collect())
                        .collect(),
                );
            }
            FaultAction::DegradeLink { between, .. } => {
                spec.between = Some(between.iter().map(|t| name(*t, true)).collect());
            }
            FaultAction::Crash { target }
            | FaultAction::Stop { target }
            | FaultAction::Restart { target }
            | FaultAction::Isolate { target }
            | FaultAction::SlowDisk { target, .. }
            | FaultAction::Pause { target }
            | FaultAction::Defrag { target }
            | FaultAction::MemberRemove { target }
            | FaultAction::MemberAdd { target }
            | FaultAction::WipeData { target }
            | FaultAction::ClockSkew { target, .. } => spec.target = Some(name(*target, false)),
            FaultAction::ExpireCert { target, .. } | FaultAction::RenewCert { target, .. } => {
                spec.target = target.map(|t| name(t, false))
            }
            FaultAction::Restore { .. } | FaultAction::AlarmDisarm => {}
        }
    }
}

/// One scripted fault of the plan.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// When it fires, from the start of the run.
    pub at_ns: Nanos,
    /// How long until it is undone (None: to the end of the run, or until a later fault undoes it).
    pub for_ns: Option<Nanos>,
    /// What it does.
    pub action: FaultAction,
    /// The fault as the file wrote it, for reports.
    pub spec: Fault,
}

impl FaultPlan {
    /// The kind of fault.
    pub fn kind(&self) -> FaultKind {
        self.action.kind()
    }

    /// When the fault is over, for recovery measurements: its `for` end, or its moment for a fault
    /// that does not last (a repair, or a wipe, whose damage only a later repair undoes); None while it
    /// lasts to the end of the run.
    pub fn end_ns(&self) -> Option<Nanos> {
        match self.for_ns {
            Some(d) => Some(self.at_ns.saturating_add(d)),
            None => (!self.kind().lasts()).then_some(self.at_ns),
        }
    }
}

impl Validator<'_> {
    /// The fault's time and fields: within the run, and only the fields its kind takes.
    pub(crate) fn fault_fields(&self, i: usize, f: &Fault) -> Check {
        let p = format!("faults[{i}]");
        let kind = f.kind.name();
        if f.at > self.s.duration {
            return Err(self.err(
                &format!("{p}.at"),
                format!(
                    "{} is after the end of the run (duration {}); a fault must start within the run",
                    fmt_duration(f.at.ns()),
                    fmt_duration(self.s.duration.ns())
                ),
            ));
        }
        if let Some(d) = f.for_ {
            if d.ns() == 0 {
                return Err(self.err(
                    &format!("{p}.for"),
                    "must be more than 0; leave `for` out for a fault that lasts to the end of the run",
                ));
            }
        }
        let takes = f.kind.fields();
        let present = f.given_fields();
        let takes_list = ["at", "kind"]
            .iter()
            .chain(takes)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        for (field, given) in present {
            if given && !takes.contains(&field) {
                return Err(self.err(
                    &format!("{p}.{field}"),
                    format!(
                        "`{field}` does not belong to a fault of kind {kind}; {kind} takes: {takes_list}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What the fault does, with its targets resolved.
    pub(crate) fn fault_action(
        &self,
        layout: &Layout,
        i: usize,
        f: &Fault,
    ) -> Result<FaultAction, ScenarioError> {
        let p = format!("faults[{i}]");
        Ok(match f.kind {
            FaultKind::Restore => self.restore_action(layout, &p, f)?,
            FaultKind::ExpireCert => self.cert_action(layout, &p, f, false)?,
            FaultKind::RenewCert => self.cert_action(layout, &p, f, true)?,
            FaultKind::ClockSkew => self.clock_action(layout, &p, f)?,
            FaultKind::Crash => FaultAction::Crash {
                target: self.any_target(layout, &p, f)?,
            },
            FaultKind::Stop => FaultAction::Stop {
                target: self.any_target(layout, &p, f)?,
            },
            FaultKind::Restart => FaultAction::Restart {
                target: self.any_target(layout, &p, f)?,
            },
            FaultKind::Isolate => self.isolate_action(layout, &p, f)?,
            FaultKind::WipeData => FaultAction::WipeData {
                target: self.etcd_target(layout, &p, f)?,
            },
            FaultKind::Pause => FaultAction::Pause {
                target: self.any_target(layout, &p, f)?,
            },
            FaultKind::Defrag => FaultAction::Defrag {
                target: self.etcd_target(layout, &p, f)?,
            },
            FaultKind::AlarmDisarm => FaultAction::AlarmDisarm,
            FaultKind::MemberRemove => FaultAction::MemberRemove {
                target: self.etcd_target(layout, &p, f)?,
            },
            FaultKind::MemberAdd => FaultAction::MemberAdd {
                target: self.etcd_target(layout, &p, f)?,
            },
            FaultKind::SlowDisk => {
                let target = self.etcd_target(layout, &p, f)?;
                let Some(fsync) = f.fsync_latency else {
                    return Err(self.need(
                        &p,
                        f,
                        "fsync_latency",
                        "how long each etcd WAL fsync takes on that disk, e.g. \"500ms\"",
                    ));
                };
                FaultAction::SlowDisk {
                    target,
                    fsync_latency_ns: fsync.ns(),
                }
            }
            FaultKind::Partition => {
                let groups = f.groups.as_ref().ok_or_else(|| {
                    self.need(
                        &p,
                        f,
                        "groups",
                        "two or more lists of nodes or zones, e.g. [[\"zone:a\"], [\"zone:b\", \"zone:c\"]]",
                    )
                })?;
                FaultAction::Partition {
                    groups: self.partition(layout, &p, groups)?,
                }
            }
            FaultKind::DegradeLink => {
                let between = f.between.as_ref().ok_or_else(|| {
                    self.need(
                        &p,
                        f,
                        "between",
                        "two nodes or zones, e.g. [\"zone:a\", \"zone:b\"]",
                    )
                })?;
                FaultAction::DegradeLink {
                    between: self.degrade(layout, &p, f, between)?,
                    latency_ns: f.latency.map_or(0, Dur::ns),
                    loss: f.loss.unwrap_or(0.0),
                }
            }
        })
    }

    /// The one wording for a field the fault's kind needs and the file left out: it says what to give.
    fn need(&self, p: &str, f: &Fault, field: &str, what: &str) -> ScenarioError {
        self.err(
            &format!("{p}.{field}"),
            format!("a {} fault needs `{field}`: {what}", f.kind.name()),
        )
    }

    /// The fault's `target`, resolved; `what` is what its kind takes there, for when it is missing.
    fn fault_target<'f>(
        &self,
        layout: &Layout,
        p: &str,
        f: &'f Fault,
        what: &str,
    ) -> Result<(Target, String, &'f str), ScenarioError> {
        let tpath = format!("{p}.target");
        let t = f
            .target
            .as_deref()
            .ok_or_else(|| self.need(p, f, "target", what))?;
        let r = self.resolve(layout, &tpath, t)?;
        Ok((r, tpath, t))
    }

    /// A target for the kinds that act on anything in the cluster (crash, stop, restart): any node,
    /// process, zone or selector but the load generator, which stands outside the cluster.
    fn any_target(&self, layout: &Layout, p: &str, f: &Fault) -> Result<Target, ScenarioError> {
        let (r, tpath, t) = self.fault_target(
            layout,
            p,
            f,
            "a node (cp-1), a process (cp-1/etcd), a zone (zone:a) or a selector (leader:etcd)",
        )?;
        self.not_client(layout, &tpath, t, r, f.kind.name())?;
        Ok(r)
    }

    /// A target for the kinds that act on an etcd member's data or disk: it must host one.
    fn etcd_target(&self, layout: &Layout, p: &str, f: &Fault) -> Result<Target, ScenarioError> {
        let (r, tpath, t) = self.fault_target(
            layout,
            p,
            f,
            "a node running an etcd member, `NODE/etcd`, `leader:etcd` or `follower:etcd`",
        )?;
        self.etcd_host(layout, &tpath, t, r, f.kind.name())?;
        Ok(r)
    }

    /// Isolate cuts one node off; a zone is refused with the partition that does that for a zone.
    fn isolate_action(
        &self,
        layout: &Layout,
        p: &str,
        f: &Fault,
    ) -> Result<FaultAction, ScenarioError> {
        let (target, tpath, t) = self.fault_target(
            layout,
            p,
            f,
            "a node (cp-1), or a process or selector on one node",
        )?;
        if let Target::Zone(_) = target {
            return Err(self.err(
                &tpath,
                format!(
                    "isolate takes one node, not a zone; to cut `{t}` off use a partition fault, e.g. \
                     \"groups\": [[\"{t}\"], [...the other zones...]]"
                ),
            ));
        }
        Ok(FaultAction::Isolate { target })
    }

    /// A restore needs a snapshot taken before it, and etcd members to restore it on.
    fn restore_action(
        &self,
        layout: &Layout,
        p: &str,
        f: &Fault,
    ) -> Result<FaultAction, ScenarioError> {
        let Some(snap) = f.snapshot_at else {
            return Err(self.need(
                p,
                f,
                "snapshot_at",
                "when the snapshot was taken (a duration from the start, before `at`)",
            ));
        };
        if snap.ns() > f.at.ns() {
            return Err(self.err(
                &format!("{p}.snapshot_at"),
                format!(
                    "the snapshot must be taken before it is restored: snapshot_at {} is after at {}",
                    fmt_duration(snap.ns()),
                    fmt_duration(f.at.ns())
                ),
            ));
        }
        if layout.procs_of(ProcKind::Etcd).next().is_none() {
            return Err(self.err(
                p,
                "a restore fault needs etcd members; this topology has none".to_string(),
            ));
        }
        Ok(FaultAction::Restore {
            snapshot_at_ns: snap.ns(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_table_agrees_with_the_file_format() {
        for (i, k) in FaultKind::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i, "ALL is in declaration order");
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
            assert!(!k.fields_help().is_empty() && !k.effect().is_empty());
            // A moment names what it acts on, but for the one operator command on the whole
            // cluster (`etcdctl alarm disarm` goes to whichever member leads).
            assert!(k.lasts() || !k.fields().is_empty() || k == FaultKind::AlarmDisarm);
        }
    }
}

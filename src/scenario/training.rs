//! The training vocabulary of scenario files: the views (`inspect`, `lab`, an exercise's `views`) and
//! the questions an exercise may ask, each declared once; and the file's `exercises` with their
//! typed plan.

use crate::engine::Nanos;
use serde::{Deserialize, Serialize};

use super::model::Dur;

/// The views, one declaration each: name, the command line it stands for (CONTRACT.md "Training
/// views"). How each is printed is `crate::inspect::print`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    Nodes,
    Pods,
    Leases,
    /// `kubectl describe lease kube-scheduler -n kube-system`.
    DescribeSchedulerLease,
    /// `kubectl describe lease kube-controller-manager -n kube-system`.
    DescribeControllerManagerLease,
    Endpoints,
    EndpointSlices,
    Members,
    EndpointStatus,
    EndpointHealth,
    /// `etcdctl alarm list`.
    Alarms,
    Haproxy,
}

impl View {
    /// Every view, in the order `inspect` prints them.
    pub const ALL: [View; 12] = [
        View::Nodes,
        View::Pods,
        View::Leases,
        View::DescribeSchedulerLease,
        View::DescribeControllerManagerLease,
        View::Endpoints,
        View::EndpointSlices,
        View::Members,
        View::EndpointStatus,
        View::EndpointHealth,
        View::Alarms,
        View::Haproxy,
    ];

    /// The name `--view` and an exercise's `views` take.
    pub fn name(self) -> &'static str {
        match self {
            View::Nodes => "nodes",
            View::Pods => "pods",
            View::Leases => "leases",
            View::DescribeSchedulerLease => "describe-lease-kube-scheduler",
            View::DescribeControllerManagerLease => "describe-lease-kube-controller-manager",
            View::Endpoints => "endpoints",
            View::EndpointSlices => "endpointslices",
            View::Members => "members",
            View::EndpointStatus => "endpoint-status",
            View::EndpointHealth => "endpoint-health",
            View::Alarms => "alarms",
            View::Haproxy => "haproxy",
        }
    }

    /// The command line the view shows.
    pub fn command(self) -> &'static str {
        match self {
            View::Nodes => "kubectl get nodes -o wide",
            View::Pods => "kubectl get pods -n kube-system -o wide",
            View::Leases => "kubectl get leases -n kube-system",
            View::DescribeSchedulerLease => "kubectl describe lease kube-scheduler -n kube-system",
            View::DescribeControllerManagerLease => {
                "kubectl describe lease kube-controller-manager -n kube-system"
            }
            View::Endpoints => "kubectl get endpoints",
            View::EndpointSlices => "kubectl get endpointslices",
            View::Members => "etcdctl member list -w table",
            View::EndpointStatus => "etcdctl endpoint status --cluster -w table",
            View::EndpointHealth => "etcdctl endpoint health --cluster",
            View::Alarms => "etcdctl alarm list",
            View::Haproxy => "echo \"show stat\" | socat stdio /run/haproxy/admin.sock",
        }
    }

    /// The view named `name`.
    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The view whose command line this is (spaces normalised), as typed in `lab`; `show stat`
    /// alone too.
    pub fn from_command(line: &str) -> Option<View> {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        // `default` is the namespace kubectl uses when none is given, so `-n default` names the
        // same command (`kubectl get endpointslices -n default`).
        if let Some(i) = words
            .windows(2)
            .position(|w| matches!(w[0], "-n" | "--namespace") && w[1] == "default")
        {
            words.drain(i..i + 2);
        }
        words.retain(|w| *w != "--namespace=default");
        View::ALL
            .into_iter()
            .find(|v| v.command().split_whitespace().collect::<Vec<_>>() == words)
            .or_else(|| (words.as_slice() == ["show", "stat"]).then_some(View::Haproxy))
    }

    /// The names, for "allowed: ..." lists.
    pub fn names() -> String {
        View::ALL.map(View::name).join(", ")
    }
}

/// What kind of answer a question takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// A node or process name, or `none`.
    Name,
    /// A time of the run (`2m5s`), or `never`.
    Time,
    /// `yes` or `no`.
    YesNo,
}

/// The questions an exercise may ask (`ask`), one declaration each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question {
    /// Which node holds the VIP at that moment.
    VipHolder,
    /// Which etcd member leads (with a quorum) at that moment.
    EtcdLeader,
    /// When etcd has quorum again (from that moment on).
    QuorumRegained,
    /// Which process restores scheduling (the kube-scheduler that next leads).
    SchedulingRestoredBy,
    /// Which process restores reconciliation (the kube-controller-manager that next leads).
    ReconciliationRestoredBy,
    /// Whether `kubectl get nodes` from the admin's machine answers at that moment.
    ApiAnswers,
}

impl Question {
    /// Every question, for "allowed: ..." lists and help.
    pub const ALL: [Question; 6] = [
        Question::VipHolder,
        Question::EtcdLeader,
        Question::QuorumRegained,
        Question::SchedulingRestoredBy,
        Question::ReconciliationRestoredBy,
        Question::ApiAnswers,
    ];

    /// The name `ask` takes.
    pub fn name(self) -> &'static str {
        match self {
            Question::VipHolder => "vip-holder",
            Question::EtcdLeader => "etcd-leader",
            Question::QuorumRegained => "quorum-regained",
            Question::SchedulingRestoredBy => "scheduling-restored-by",
            Question::ReconciliationRestoredBy => "reconciliation-restored-by",
            Question::ApiAnswers => "api-answers",
        }
    }

    /// The question as the trainee reads it, with the form of the answer.
    pub fn prompt(self) -> &'static str {
        match self {
            Question::VipHolder => "Which node holds the VIP now? (a node name, or none)",
            Question::EtcdLeader => {
                "Which etcd member is the leader now? (a node name, or none)"
            }
            Question::QuorumRegained => {
                "When does etcd have quorum again? (a time of the run such as 2m5s, now, or never)"
            }
            Question::SchedulingRestoredBy => {
                "Which process restores scheduling? (NODE/PROCESS, e.g. cp-2/kube-scheduler, or none)"
            }
            Question::ReconciliationRestoredBy => {
                "Which process restores reconciliation? (NODE/PROCESS, e.g. cp-2/kube-controller-manager, or none)"
            }
            Question::ApiAnswers => "Does `kubectl get nodes` answer now? (yes or no)",
        }
    }

    /// The form of its answer.
    pub fn answer_kind(self) -> AnswerKind {
        match self {
            Question::VipHolder
            | Question::EtcdLeader
            | Question::SchedulingRestoredBy
            | Question::ReconciliationRestoredBy => AnswerKind::Name,
            Question::QuorumRegained => AnswerKind::Time,
            Question::ApiAnswers => AnswerKind::YesNo,
        }
    }

    /// The question named `name`.
    pub fn from_name(name: &str) -> Option<Question> {
        Question::ALL.into_iter().find(|q| q.name() == name)
    }

    /// The names, for "allowed: ..." lists.
    pub fn names() -> String {
        Question::ALL.map(Question::name).join(", ")
    }
}

/// An exercise as the file has it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// When the question is asked (a time of the run).
    pub at: Dur,
    /// What is asked: one of [`Question::names`].
    pub ask: String,
    /// What the trainee is told before the question (the situation, a hint).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Views shown at that moment before the question (names as `inspect --view`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
    /// For a time answer: how far from the simulated time it may be and still count (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Dur>,
}

/// The default tolerance of a time answer.
pub const DEFAULT_TOLERANCE_NS: Nanos = 5 * crate::engine::SEC;

/// An exercise, checked and typed.
#[derive(Clone, Debug)]
pub struct ExercisePlan {
    pub at_ns: Nanos,
    pub question: Question,
    pub text: String,
    pub views: Vec<View>,
    pub tolerance_ns: Nanos,
    /// The file's form, for writing the scenario back.
    pub spec: Exercise,
}

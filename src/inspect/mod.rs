//! Training views: what `kubectl`, `etcdctl` and HAProxy's `show stat` would print at a moment of a
//! run, in their own formats, from the cluster's state as a client on the admin's machine would see it
//! (CONTRACT.md "Training views").
//!
//! A [`Moment`] is the world run up to a time and stopped there ([`World::run_until`]: the same
//! events as the full run up to then); each view is a pure function of it. The tools run on the
//! admin's machine (the scenario's `client` node, 10.0.9.1): `kubectl` through the cluster endpoint
//! (the VIP, the only load balancer, or the node of a `direct:` endpoint), `etcdctl` with
//! `ETCDCTL_ENDPOINTS` listing every member, and `show stat` on each HAProxy's stats socket.
//! Addresses and identifiers the model does not have are fixed functions of the layout and seed
//! ([`names`]).

pub mod etcdctl;
pub mod exercise;
pub mod format;
pub mod haproxy;
pub mod kubectl;
pub mod lab;
pub mod names;
pub mod scrub;

use crate::engine::{fmt_duration, Nanos};
use crate::scenario::Plan;
use crate::world::{RunError, World};

pub use crate::scenario::training::View;

/// Where a line of a tool's output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// The simulator's own remark (how long the tool waited), not the tool's output.
    Note,
}

/// What one command printed, in order, and how it ended.
#[derive(Clone, Debug, Default)]
pub struct Printed {
    pub lines: Vec<(Stream, String)>,
    /// The tool's exit status.
    pub exit_code: i32,
    /// How long the tool took to answer (0: at once).
    pub waited_ns: Nanos,
}

impl Printed {
    fn out(&mut self, text: &str) {
        for l in text.lines() {
            self.lines.push((Stream::Stdout, l.to_string()));
        }
    }

    fn err(&mut self, text: impl Into<String>) {
        self.lines.push((Stream::Stderr, text.into()));
    }

    /// The tool waited `ns` before printing what follows, for `why`.
    fn wait(&mut self, ns: Nanos, why: &str) {
        self.waited_ns += ns;
        self.lines
            .push((Stream::Note, format!("(after {}: {why})", fmt_duration(ns))));
    }
}

/// The world at a moment of a run: every event at or before it has happened, none after.
pub struct Moment {
    pub(crate) world: World,
    pub seed: u64,
}

impl Moment {
    /// Runs `plan` with `seed` up to `at_ns` (at most the end of the run).
    pub fn at(plan: &Plan, seed: u64, at_ns: Nanos) -> Result<Moment, RunError> {
        let mut world = World::build(plan, seed);
        world.run_until(at_ns)?;
        Ok(Moment { world, seed })
    }

    /// The moment's time.
    pub fn now(&self) -> Nanos {
        self.world.now
    }

    /// The world as it stands.
    pub fn world(&self) -> &World {
        &self.world
    }
}

/// What a view prints at a moment.
pub fn print(view: View, m: &Moment) -> Printed {
    match view {
        View::Nodes => kubectl::nodes(m),
        View::Pods => kubectl::pods(m),
        View::Leases => kubectl::leases(m),
        View::DescribeSchedulerLease => kubectl::describe_lease(m, 0),
        View::DescribeControllerManagerLease => kubectl::describe_lease(m, 1),
        View::Endpoints => kubectl::endpoints(m),
        View::EndpointSlices => kubectl::endpoint_slices(m),
        View::Members => etcdctl::member_list(m),
        View::EndpointStatus => etcdctl::endpoint_status(m),
        View::EndpointHealth => etcdctl::endpoint_health(m),
        View::Alarms => etcdctl::alarm_list(m),
        View::Haproxy => haproxy::show_stat(m),
    }
}

/// The views as a terminal shows them: each under `$ <command>`, stdout and stderr interleaved as
/// they were written, the simulator's remarks in parentheses, a blank line between views.
pub fn transcript(views: &[View], m: &Moment) -> String {
    let mut s = String::new();
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(&format!("$ {}\n", v.command()));
        for (_, line) in print(*v, m).lines {
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

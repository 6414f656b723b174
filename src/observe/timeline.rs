//! Capability timelines: intervals of up and down, derived from the trace alone.

use super::catalog::Capability;
use super::trace::{RequestRecord, Trace, TraceKind};
use crate::engine::Nanos;
use serde::Serialize;

/// One stretch of a capability's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Interval {
    pub start_ns: Nanos,
    pub end_ns: Nanos,
    pub up: bool,
}

/// A capability's whole timeline, from 0 to the end of the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub capability: Capability,
    pub intervals: Vec<Interval>,
}

impl Timeline {
    /// Builds a timeline from state changes `(time, up)` in time order; before the first change the
    /// capability is down (the cluster is booting).
    pub fn from_changes(
        capability: Capability,
        changes: &[(Nanos, bool)],
        end_ns: Nanos,
    ) -> Timeline {
        let mut intervals: Vec<Interval> = Vec::new();
        let mut cur_start = 0;
        let mut cur_up = false;
        for &(t, up) in changes {
            let t = t.min(end_ns);
            if up == cur_up {
                continue;
            }
            if t > cur_start {
                intervals.push(Interval {
                    start_ns: cur_start,
                    end_ns: t,
                    up: cur_up,
                });
            }
            cur_start = t;
            cur_up = up;
        }
        if end_ns > cur_start || intervals.is_empty() {
            intervals.push(Interval {
                start_ns: cur_start,
                end_ns,
                up: cur_up,
            });
        }
        // Merge neighbours with the same state (zero-length flips removed above).
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for iv in intervals {
            match merged.last_mut() {
                Some(last) if last.up == iv.up => last.end_ns = iv.end_ns,
                _ => merged.push(iv),
            }
        }
        Timeline {
            capability,
            intervals: merged,
        }
    }

    /// The first time the capability is up.
    pub fn first_up(&self) -> Option<Nanos> {
        self.intervals.iter().find(|i| i.up).map(|i| i.start_ns)
    }

    /// When the capability first came up to stay: the start of its first up interval that lasts
    /// `settle_ns` or runs on to `until_ns` (the first fault, or the end), so that a flicker while
    /// the cluster boots (a server answering before its post-start hooks let the load balancers
    /// mark it up) does not count as steady. Without such an interval, the first time it is up.
    pub fn first_steady_up(&self, settle_ns: Nanos, until_ns: Nanos) -> Option<Nanos> {
        self.intervals
            .iter()
            .find(|i| i.up && (i.end_ns - i.start_ns >= settle_ns || i.end_ns >= until_ns))
            .map(|i| i.start_ns)
            .or_else(|| self.first_up())
    }

    /// Whether it is up at `t`.
    pub fn up_at(&self, t: Nanos) -> bool {
        self.intervals
            .iter()
            .find(|i| i.start_ns <= t && t < i.end_ns)
            .map(|i| i.up)
            .unwrap_or_else(|| self.intervals.last().map(|i| i.up).unwrap_or(false))
    }

    /// The down intervals clipped to `[from, to)`.
    pub fn outages(&self, from: Nanos, to: Nanos) -> Vec<(Nanos, Nanos)> {
        self.intervals
            .iter()
            .filter(|i| !i.up)
            .filter_map(|i| {
                let s = i.start_ns.max(from);
                let e = i.end_ns.min(to);
                (e > s).then_some((s, e))
            })
            .collect()
    }
}

/// The `api` timeline from client requests: the capability flips at each request's send time to that
/// request's outcome. A request's outcome is known only later, but it describes the moment it was sent.
pub fn api_timeline(requests: &[RequestRecord], end_ns: Nanos) -> Timeline {
    let mut by_send: Vec<(Nanos, bool)> = requests.iter().map(|r| (r.sent_ns, r.ok)).collect();
    by_send.sort_by_key(|(t, _)| *t);
    Timeline::from_changes(Capability::Api, &by_send, end_ns)
}

/// How the `api` capability was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiMeasure {
    /// By the load's requests: up at a moment if the request sent then succeeded.
    Requests,
    /// From the cluster's state, without load: up while a request through the endpoint would reach
    /// an API server that serves and can write (the observer's judgement).
    ClusterState,
}

impl ApiMeasure {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ApiMeasure::Requests => "requests",
            ApiMeasure::ClusterState => "cluster_state",
        }
    }
}

/// How `api` was measured in this trace: by requests if any were made, else from the cluster's state
/// if the observer judged it (no load), else not at all.
pub fn api_measured_by(trace: &Trace) -> Option<ApiMeasure> {
    if !trace.requests.is_empty() {
        return Some(ApiMeasure::Requests);
    }
    trace
        .events
        .iter()
        .any(|e| {
            matches!(
                e.kind,
                TraceKind::Cap {
                    cap: Capability::Api,
                    ..
                }
            )
        })
        .then_some(ApiMeasure::ClusterState)
}

/// Every modelled capability's timeline. `api` comes from the requests when there were any, else from
/// the observer's judgement of the cluster's state (no load); it is left out when neither exists. A
/// capability the observers never reported on (no workloads declared, no control plane) is left out
/// too.
pub fn timelines(trace: &Trace, end_ns: Nanos) -> Vec<Timeline> {
    let mut out = Vec::new();
    for &cap in Capability::ALL {
        if cap == Capability::Api && !trace.requests.is_empty() {
            out.push(api_timeline(&trace.requests, end_ns));
            continue;
        }
        let changes: Vec<(Nanos, bool)> = trace
            .events
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::Cap { cap: c, up } if c == cap => Some((e.time_ns, up)),
                _ => None,
            })
            .collect();
        if !changes.is_empty() {
            out.push(Timeline::from_changes(cap, &changes, end_ns));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_intervals_and_merges() {
        let t = Timeline::from_changes(
            Capability::EtcdQuorum,
            &[(5, true), (7, true), (10, false), (12, true)],
            20,
        );
        assert_eq!(
            t.intervals,
            vec![
                Interval {
                    start_ns: 0,
                    end_ns: 5,
                    up: false
                },
                Interval {
                    start_ns: 5,
                    end_ns: 10,
                    up: true
                },
                Interval {
                    start_ns: 10,
                    end_ns: 12,
                    up: false
                },
                Interval {
                    start_ns: 12,
                    end_ns: 20,
                    up: true
                },
            ]
        );
        assert_eq!(t.first_up(), Some(5));
        assert_eq!(t.outages(5, 20), vec![(10, 12)]);
        assert!(!t.up_at(11));
    }

    #[test]
    fn api_timeline_follows_request_outcomes_by_send_time() {
        let r = |sent_ns, ok| RequestRecord {
            sent_ns,
            latency_ns: 1,
            ok,
            write: false,
        };
        // Recorded in completion order, not send order.
        let t = api_timeline(&[r(1, true), r(3, true), r(2, false)], 10);
        assert_eq!(t.outages(0, 10), vec![(0, 1), (2, 3)]);
    }
}

//! The report's time scrubber: the training views ([`View::ALL`]) captured at a bounded set of
//! moments of a run, for `report.html` to show the one at or before any time a reader picks.
//!
//! The moments are every change a reader would look for (a fault starting or ending, a capability
//! going down or up, an etcd leader elected, a lease taken, the VIP moving, a node going down or
//! NotReady) plus a regular grid, at most [`MAX_MOMENTS`] in all. They are captured in one pass:
//! the run is continued from moment to moment ([`World::run_until`] may be called again with a
//! later time; the events are those of the full run), the views are printed at each stop, and the
//! run is finished and its trace hash checked against the report's, so the page can only show the
//! run it reports. Texts repeat from moment to moment (`etcdctl member list` rarely changes), so
//! each distinct one is stored once; the whole is JSON, deflated (zlib) and base64-encoded into the
//! page, where the browser's own `DecompressionStream` unpacks it (no script from elsewhere).

use super::{print, Moment, Stream, View};
use crate::engine::{fmt_duration, Nanos, MS, SEC};
use crate::observe::trace::Role;
use crate::observe::TraceKind;
use crate::run::Outcome;
use crate::world::{RunError, World};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

/// At most this many moments go into a page: with the grid below, a 10-minute run keeps every
/// change point; what a longer or busier run loses is thinned evenly (see [`stops`]).
pub const MAX_MOMENTS: usize = 240;
/// At most this many grid moments, whatever the run's length.
const MAX_GRID: usize = 120;
/// The grid's finest step: a reader moving the slider second by second sees AGE columns advance in
/// 5 s steps between changes, which is as much as the tools' own second-resolution ages tell.
const MIN_GRID_STEP_NS: Nanos = 5 * SEC;

/// One captured view: what the tool printed, how it ended and how long it took.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shown {
    /// Each line with its stream: `1` stdout, `2` stderr, `#` the simulator's remark (the wait).
    pub lines: String,
    pub exit_code: i32,
    /// How long the tool waited before printing (0: at once), in milliseconds.
    pub waited_ms: u64,
}

/// The views at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrubMoment {
    pub at_ns: Nanos,
    /// Why this moment was captured ("fault #0 started; api down"); empty for a grid moment.
    pub why: String,
    /// Per view of [`View::ALL`], the index of its text in [`Scrub::texts`].
    pub shown: Vec<usize>,
}

/// The views of a run at its chosen moments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scrub {
    pub end_ns: Nanos,
    pub moments: Vec<ScrubMoment>,
    /// Every distinct text, in order of first appearance.
    pub texts: Vec<Shown>,
}

impl Scrub {
    /// The text of `view` at the last captured moment at or before `at_ns` (the first moment if
    /// `at_ns` precedes them all), as a terminal shows it: stdout, stderr and remarks in order.
    pub fn text_at(&self, view: View, at_ns: Nanos) -> Option<&Shown> {
        let i = self.moments.partition_point(|m| m.at_ns <= at_ns);
        let m = &self.moments[i.saturating_sub(1).min(self.moments.len().checked_sub(1)?)];
        let v = View::ALL.iter().position(|&x| x == view)?;
        self.texts.get(m.shown[v])
    }

    /// The data as the page embeds it, before compression (see the module documentation for the
    /// layout; times in milliseconds).
    pub fn to_json(&self) -> serde_json::Value {
        let (x0, cols, width) = crate::report::svg::time_axis();
        serde_json::json!({
            "version": 1,
            "end_ms": self.end_ns / MS,
            "axis": { "x0": x0, "cols": cols, "width": width },
            "views": View::ALL.iter().map(|v| [v.name(), v.command()]).collect::<Vec<_>>(),
            "texts": self.texts.iter().map(|t| serde_json::json!([t.exit_code, t.waited_ms, t.lines])).collect::<Vec<_>>(),
            "moments": self.moments.iter().map(|m| serde_json::json!([m.at_ns / MS, fmt_duration(m.at_ns), m.why, m.shown])).collect::<Vec<_>>(),
        })
    }

    /// The JSON, zlib-deflated and base64-encoded: what the page carries. Deterministic (zlib
    /// has no timestamp; the compression level is fixed).
    pub fn encode(&self) -> String {
        let json = self.to_json().to_string();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(json.as_bytes())
            .expect("writing to a Vec cannot fail");
        base64(&z.finish().expect("writing to a Vec cannot fail"))
    }
}

/// Decodes what [`Scrub::encode`] produced back into the JSON text (for tests and tools that read
/// a page's embedded views).
pub fn decode(encoded: &str) -> Result<String, String> {
    use std::io::Read as _;
    let bytes = unbase64(encoded.trim())?;
    let mut s = String::new();
    flate2::read::ZlibDecoder::new(&bytes[..])
        .read_to_string(&mut s)
        .map_err(|e| format!("not zlib: {e}"))?;
    Ok(s)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648), what the browser's `atob` reads.
fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut n, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = B64
            .iter()
            .position(|&b| b == c)
            .ok_or_else(|| format!("not base64: {:?}", c as char))?;
        n = n << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
        }
    }
    Ok(out)
}

/// The largest run (in events processed) whose report page carries the captured views: about
/// 2-5 s of re-running on one core. Every library scenario is far below it.
pub const SCRUB_MAX_EVENTS: u64 = 10_000_000;

/// What a change in the trace is called on the scrubber, if it is one a reader would look for.
fn change(o: &Outcome, kind: &TraceKind) -> Option<String> {
    let proc = |p: u16| o.layout.procs[p as usize].name.as_str();
    let node = |n: u16| o.layout.nodes[n as usize].name.as_str();
    Some(match kind {
        TraceKind::Fault { index, start } => {
            format!(
                "fault #{index} {}",
                if *start { "started" } else { "ended" }
            )
        }
        TraceKind::Cap { cap, up } => format!("{} {}", cap.name(), if *up { "up" } else { "down" }),
        TraceKind::EtcdRole {
            proc: p,
            role: Role::Leader,
            term,
        } => format!("{} leads etcd (term {term})", proc(*p)),
        TraceKind::LeaseHolder {
            lease,
            holder: Some(p),
        } => format!(
            "{} holds the {} lease",
            proc(*p),
            if *lease == 0 {
                "kube-scheduler"
            } else {
                "kube-controller-manager"
            }
        ),
        TraceKind::Vip { node: Some(n) } => format!("VIP on {}", node(*n)),
        TraceKind::Vip { node: None } => "nobody holds the VIP".into(),
        TraceKind::Node { node: n, up } => {
            format!("{} {}", node(*n), if *up { "up" } else { "down" })
        }
        TraceKind::NodeReady { node: n, ready } => {
            format!("{} {}", node(*n), if *ready { "Ready" } else { "NotReady" })
        }
        TraceKind::NodeTaint { node: n, tainted } => format!(
            "{} {}",
            node(*n),
            if *tainted {
                "tainted unreachable"
            } else {
                "untainted"
            }
        ),
        TraceKind::EtcdRole { .. }
        | TraceKind::LeaseHolder { holder: None, .. }
        | TraceKind::Proc { .. }
        | TraceKind::Campaign { .. }
        | TraceKind::Acting { .. }
        | TraceKind::LbBackend { .. }
        | TraceKind::Pods { .. }
        | TraceKind::ProxyEndpoints { .. }
        | TraceKind::WorkloadReady { .. }
        | TraceKind::Log { .. }
        | TraceKind::Violation { .. }
        | TraceKind::Scrape { .. }
        | TraceKind::EtcdHealth { .. }
        | TraceKind::PastLease { .. } => return None,
    })
}

/// The moments to capture, in time order, each with why: the change points of the trace and a
/// grid (a round step of at least 5 s, at most [`MAX_GRID`] points, from 0 to the end). Fault
/// edges and capability changes are always kept; if the rest would pass [`MAX_MOMENTS`], the
/// other change points are thinned evenly.
pub fn stops(o: &Outcome) -> Vec<(Nanos, String)> {
    let mut why: BTreeMap<Nanos, Vec<String>> = BTreeMap::new();
    let step = grid_step(o.end_ns);
    let mut t = 0;
    while t <= o.end_ns {
        why.entry(t).or_default();
        t += step;
    }
    why.entry(o.end_ns).or_default();
    let mut optional: Vec<(Nanos, String)> = Vec::new();
    for e in &o.trace.events {
        let Some(text) = change(o, &e.kind) else {
            continue;
        };
        if matches!(e.kind, TraceKind::Fault { .. } | TraceKind::Cap { .. }) {
            why.entry(e.time_ns).or_default().push(text);
        } else if let Some(w) = why.get_mut(&e.time_ns) {
            w.push(text);
        } else {
            optional.push((e.time_ns, text));
        }
    }
    // The optional change points that fit, spread evenly over the run's list of them.
    let room = MAX_MOMENTS.saturating_sub(why.len());
    let mut times: Vec<Nanos> = optional.iter().map(|(t, _)| *t).collect();
    times.dedup();
    let keep: std::collections::BTreeSet<Nanos> = if times.len() <= room {
        times.into_iter().collect()
    } else {
        (0..room).map(|i| times[i * times.len() / room]).collect()
    };
    for (t, text) in optional {
        if keep.contains(&t) {
            why.entry(t).or_default().push(text);
        }
    }
    // The page names a moment by its millisecond: changes within one are one moment, at the
    // latest of them (what a reader picking that millisecond would see).
    let mut merged: BTreeMap<Nanos, (Nanos, Vec<String>)> = BTreeMap::new();
    for (t, w) in why {
        let e = merged.entry(t / MS).or_insert((t, Vec::new()));
        e.0 = t;
        e.1.extend(w);
    }
    merged
        .into_values()
        .map(|(t, mut w)| {
            w.dedup();
            let more = w.len().saturating_sub(3);
            w.truncate(3);
            let mut s = w.join("; ");
            if more > 0 {
                s.push_str(&format!("; {more} more"));
            }
            (t, s)
        })
        .collect()
}

/// A round grid step (5 s, 10 s, 15 s, 30 s, 1 m, 2 m, 5 m, 10 m...) giving at most [`MAX_GRID`]
/// points over `end_ns`.
fn grid_step(end_ns: Nanos) -> Nanos {
    const STEPS_S: [u64; 9] = [5, 10, 15, 30, 60, 120, 300, 600, 1800];
    STEPS_S
        .iter()
        .map(|s| s * SEC)
        .find(|&s| s >= MIN_GRID_STEP_NS && end_ns / s < MAX_GRID as u64)
        .unwrap_or_else(|| end_ns / MAX_GRID as u64 + 1)
}

/// How a view's output is kept: lines tagged with their stream.
fn shown(view: View, m: &Moment) -> Shown {
    let p = print(view, m);
    let mut lines = String::new();
    for (stream, line) in &p.lines {
        lines.push(match stream {
            Stream::Stdout => '1',
            Stream::Stderr => '2',
            Stream::Note => '#',
        });
        lines.push_str(line);
        lines.push('\n');
    }
    Shown {
        lines,
        exit_code: p.exit_code,
        waited_ms: p.waited_ns / MS,
    }
}

/// Captures the views of the run `o` reports at its [`stops`], continuing one run of the same
/// scenario and seed from stop to stop, then finishing it and checking that it is the same run
/// (its trace hash). An error says why there are no views: the run failed, or it is not the one
/// `o` reports (an outcome assembled by hand, as some tests make; or, were the simulation not
/// deterministic, a bug to report with `kube-ha-sim run FILE --seed N` run twice).
pub fn capture(o: &Outcome) -> Result<Scrub, String> {
    // Capturing re-runs the whole scenario, so a long or large run would cost its report page as
    // much again (a simulated year: half an hour more); above the bound the page says so instead.
    if o.events > SCRUB_MAX_EVENTS {
        return Err(format!(
            "the run processed {} events, more than the {} the page re-runs to capture them; \
             `kube-ha-sim inspect FILE --at T --seed {}` prints any moment",
            o.events, SCRUB_MAX_EVENTS, o.seed
        ));
    }
    let mut m = Moment {
        world: World::build(&o.scenario, o.seed),
        seed: o.seed,
    };
    let mut scrub = Scrub {
        end_ns: o.end_ns,
        ..Scrub::default()
    };
    let mut index: HashMap<Shown, usize> = HashMap::new();
    let failed = |e: RunError| e.to_string();
    for (at_ns, why) in stops(o) {
        m.world.run_until(at_ns).map_err(failed)?;
        let shown = View::ALL
            .iter()
            .map(|&v| {
                let s = shown(v, &m);
                let next = scrub.texts.len();
                *index.entry(s.clone()).or_insert_with(|| {
                    scrub.texts.push(s);
                    next
                })
            })
            .collect();
        scrub.moments.push(ScrubMoment { at_ns, why, shown });
    }
    m.world.run().map_err(failed)?;
    let (again, reported) = (m.world.trace.hash(), o.trace.hash());
    if again != reported || m.world.end_ns != o.end_ns {
        return Err(format!(
            "running {} with seed {} again gives trace {again:016x}, not the reported {reported:016x}",
            o.scenario.name, o.seed
        ));
    }
    Ok(scrub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_rfc4648() {
        // RFC 4648 section 10 test vectors.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
            assert_eq!(unbase64(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn grid_steps_are_round_and_bounded() {
        assert_eq!(grid_step(5 * 60 * SEC), 5 * SEC);
        assert_eq!(grid_step(10 * 60 * SEC), 10 * SEC);
        assert_eq!(grid_step(3600 * SEC), 60 * SEC);
        assert!(3600 * 24 * SEC / grid_step(3600 * 24 * SEC) < MAX_GRID as u64);
    }
}

//! `capacity.svg`: the API servers' latency and throttling against time (issue 14), a pure function of
//! the trace's served and throttle records: per second, the server-side p99 of the requests that
//! arrived in it (log scale) and the 429s answered in it, with the fault periods shaded.

use crate::engine::{Nanos, SEC};
use crate::run::Outcome;

const W: f64 = 900.0;
const H: f64 = 460.0;
const L: f64 = 70.0;
const R: f64 = 20.0;
/// Top panel (latency) and bottom panel (429s): (top, bottom) in pixels.
const LAT: (f64, f64) = (40.0, 230.0);
const THR: (f64, f64) = (270.0, 420.0);

/// Per second of the run: the p99 latency in ms (None: nothing served) and the 429s.
fn per_second(o: &Outcome) -> (Vec<Option<f64>>, Vec<u64>) {
    let secs = (o.end_ns / SEC + 1) as usize;
    let mut lat: Vec<Vec<Nanos>> = vec![Vec::new(); secs];
    for r in &o.trace.served {
        if let Some(b) = lat.get_mut((r.at_ns / SEC) as usize) {
            b.push(r.latency_ns);
        }
    }
    let mut thr = vec![0u64; secs];
    for t in &o.trace.throttled {
        if let Some(b) = thr.get_mut((t.at_ns / SEC) as usize) {
            *b += t.counts.iter().map(|c| *c as u64).sum::<u64>();
        }
    }
    let p99 = lat
        .into_iter()
        .map(|mut v| {
            if v.is_empty() {
                return None;
            }
            v.sort_unstable();
            let rank = ((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len());
            Some(v[rank - 1] as f64 / 1e6)
        })
        .collect();
    (p99, thr)
}

/// The picture, or None when no request reached an API server.
pub fn render_capacity_svg(o: &Outcome) -> Option<String> {
    if o.trace.served.is_empty() && o.trace.throttled.is_empty() {
        return None;
    }
    let (p99, thr) = per_second(o);
    let end_s = (o.end_ns as f64 / 1e9).max(1.0);
    let px = |s: f64| L + s / end_s * (W - L - R);
    let ly = |ms: f64| {
        let v = ms.clamp(0.1, 100_000.0).log10();
        LAT.1 - (v + 1.0) / 6.0 * (LAT.1 - LAT.0)
    };
    let max_thr = thr.iter().copied().max().unwrap_or(0).max(1) as f64;
    let ty = |n: f64| THR.1 - n / max_thr * (THR.1 - THR.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{L}\" y=\"24\" font-size=\"14\">{}: API server p99 latency and 429s per second</text>\n",
        escape(&o.scenario.name)
    );
    for f in &o.scenario.faults {
        let (a, b) = (
            f.at_ns as f64 / 1e9,
            f.end_ns().unwrap_or(o.end_ns) as f64 / 1e9,
        );
        s += &format!(
            "<rect x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#f4c7c3\" opacity=\"0.5\"/>\n",
            px(a),
            LAT.0,
            (px(b) - px(a)).max(1.0),
            THR.1 - LAT.0
        );
    }
    for ms in [0.1, 1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0] {
        s += &format!(
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{ms} ms</text>\n",
            W - R,
            L - 6.0,
            ly(ms) + 4.0,
            y = ly(ms)
        );
    }
    let line: Vec<String> = p99
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|ms| format!("{:.1},{:.1}", px(i as f64 + 0.5), ly(ms))))
        .collect();
    s += &format!(
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"{}\"/>\n",
        line.join(" ")
    );
    s += &format!(
        "<text x=\"{}\" y=\"{}\">p99 latency (server side: queue, etcd, CPU)</text>\n",
        L + 6.0,
        LAT.0 + 14.0
    );
    for (i, n) in thr.iter().enumerate().filter(|(_, n)| **n > 0) {
        s += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d62728\"/>\n",
            px(i as f64),
            ty(*n as f64),
            (px(1.0) - px(0.0)).max(1.0),
            THR.1 - ty(*n as f64)
        );
    }
    s += &format!(
        "<line x1=\"{L}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#999\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{max_thr}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n\
         <text x=\"{}\" y=\"{}\">429 Too Many Requests per second</text>\n",
        W - R,
        L - 6.0,
        THR.0 + 4.0,
        L - 6.0,
        THR.1 + 4.0,
        L + 6.0,
        THR.0 - 4.0,
        b = THR.1
    );
    let step = (end_s / 10.0).max(1.0).ceil();
    let mut t = 0.0;
    while t <= end_s {
        s += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            px(t),
            THR.1 + 18.0,
            crate::engine::fmt_duration((t * 1e9) as Nanos)
        );
        t += step;
    }
    Some(s + "</svg>\n")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

//! The API charts under the bands: per time bucket, the share of requests that succeeded (as stacked
//! bars) and the p50 and p99 latency of the successful ones (on a log scale).

use super::frame::{nice_step, Frame};
use super::scene::{Anchor, Prim, Rgb, Scene};
use super::style::{COLS, C_DOWN, C_P50, C_P99, C_UP, LAT_H, RATIO_H, X0};
use crate::engine::{fmt_duration, Nanos};
use crate::report::text::fmt_num;
use crate::run::Outcome;

/// Request statistics of one time bucket.
struct ApiBucket {
    requests: u64,
    ok: u64,
    /// p50 of the successful requests' latency, in ms.
    p50_ms: Option<f64>,
    /// p99 of the successful requests' latency, in ms.
    p99_ms: Option<f64>,
}

/// Per-bucket API request statistics.
struct ApiBuckets {
    width: Nanos,
    rows: Vec<ApiBucket>,
}

impl ApiBuckets {
    /// The x span of bucket `b`.
    fn xs(&self, frame: &Frame, b: usize) -> (f64, f64) {
        (
            frame.x(b as Nanos * self.width),
            frame.x((b as Nanos + 1) * self.width),
        )
    }
}

/// Buckets the run's requests by send time: about 300 round-width buckets over the run, so each is a
/// few pixels wide.
fn api_buckets(o: &Outcome, t_end: Nanos) -> ApiBuckets {
    let width = nice_step(t_end, 300).max(1);
    let n = t_end.div_ceil(width).max(1) as usize;
    let mut count = vec![0u64; n];
    let mut ok = vec![0u64; n];
    let mut lat: Vec<Vec<Nanos>> = vec![Vec::new(); n];
    for r in &o.trace.requests {
        let b = ((r.sent_ns / width) as usize).min(n - 1);
        count[b] += 1;
        if r.ok {
            ok[b] += 1;
            lat[b].push(r.latency_ns);
        }
    }
    let rows = (0..n)
        .map(|b| ApiBucket {
            requests: count[b],
            ok: ok[b],
            p50_ms: percentile_ms(&mut lat[b], 50.0),
            p99_ms: percentile_ms(&mut lat[b], 99.0),
        })
        .collect();
    ApiBuckets { width, rows }
}

/// The `p`th percentile of latencies in ms, by the same rank rule as the metrics (nearest rank), so
/// the chart agrees with `api.latency_p99_ms`.
fn percentile_ms(v: &mut [Nanos], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    let k = rank.clamp(1, v.len()) - 1;
    Some(*v.select_nth_unstable(k).1 as f64 / 1e6)
}

/// A latency axis label: `250us`, `12ms`, `1.5s`.
fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{}s", fmt_num(ms / 1000.0))
    } else if ms >= 1.0 {
        format!("{}ms", fmt_num(ms))
    } else {
        format!("{}us", fmt_num(ms * 1000.0))
    }
}

/// The API chart: success ratio bars and latency percentiles per time bucket, from `y`; returns the y
/// below it. Only for runs with requests.
pub(super) fn draw_api(scene: &mut Scene, o: &Outcome, frame: &Frame, mut y: f64) -> f64 {
    let api = api_buckets(o, frame.t_end);
    y += 8.0;
    draw_success_chart(scene, frame, &api, y);
    y += RATIO_H + 10.0;
    draw_latency_chart(scene, frame, &api, y);
    y += LAT_H + 4.0;
    y
}

/// The success chart at `top`: per bucket a bar, green for the share of requests that succeeded and
/// red for the rest, over a 0% and a 100% grid line.
fn draw_success_chart(scene: &mut Scene, frame: &Frame, api: &ApiBuckets, top: f64) {
    let per = fmt_duration(api.width);
    scene.bold(10.0, top + 12.0, "API success", 11.0);
    scene.muted(10.0, top + 24.0, format!("per {per}"), 9.0, Anchor::Start);
    scene.main.push(Prim::Open(
        "class=\"chart\" data-chart=\"success\" shape-rendering=\"crispEdges\"".into(),
    ));
    for (b, bucket) in api.rows.iter().enumerate() {
        if bucket.requests > 0 {
            draw_success_bar(scene, frame, api, b, top);
        }
    }
    scene.main.push(Prim::Close);
    for (v, label) in [(0.0, "0%"), (1.0, "100%")] {
        let yy = top + RATIO_H * (1.0 - v);
        scene.grid_line(X0, yy, X0 + COLS as f64, yy);
        scene.muted(X0 - 4.0, yy + 3.5, label, 9.0, Anchor::End);
    }
}

/// One bucket's bar (of a bucket with requests). Any failure shows: at least two pixels of red.
fn draw_success_bar(scene: &mut Scene, frame: &Frame, api: &ApiBuckets, b: usize, top: f64) {
    let (n, ok) = (api.rows[b].requests, api.rows[b].ok);
    let (x1, x2) = api.xs(frame, b);
    let (x1, x2) = (x1.round(), x2.round());
    let frac = ok as f64 / n as f64;
    let h_ok = if ok < n {
        (RATIO_H * frac).min(RATIO_H - 2.0)
    } else {
        RATIO_H
    };
    let title = Some(format!(
        "{} \u{2013} {}: {ok} of {n} requests ok ({}%)",
        fmt_duration(b as Nanos * api.width),
        fmt_duration((b as Nanos + 1) * api.width),
        fmt_num((frac * 1000.0).round() / 10.0)
    ));
    let w = (x2 - x1).max(1.0);
    if ok < n {
        scene.fill(x1, top, w, RATIO_H - h_ok, C_DOWN, title.clone());
    }
    if ok > 0 {
        scene.fill(x1, top + RATIO_H - h_ok, w, h_ok, C_UP, title);
    }
}

/// The latency chart's log scale at `top`: whole decades from the lowest to the highest latency.
struct LogScale {
    top: f64,
    d_lo: f64,
    d_hi: f64,
}

impl LogScale {
    /// The scale for the buckets' p50 and p99 values; None when no request succeeded.
    fn fit(api: &ApiBuckets, top: f64) -> Option<LogScale> {
        let vals: Vec<f64> = api
            .rows
            .iter()
            .flat_map(|r| [r.p50_ms, r.p99_ms])
            .flatten()
            .filter(|v| *v > 0.0)
            .collect();
        if vals.is_empty() {
            return None;
        }
        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().cloned().fold(0.0, f64::max);
        let d_lo = lo.log10().floor();
        let mut d_hi = hi.log10().ceil();
        if d_hi <= d_lo {
            d_hi = d_lo + 1.0;
        }
        Some(LogScale { top, d_lo, d_hi })
    }

    /// The y of a latency in ms.
    fn y(&self, ms: f64) -> f64 {
        self.top + LAT_H * (1.0 - (ms.log10() - self.d_lo) / (self.d_hi - self.d_lo))
    }
}

/// The latency chart at `y`: p50 and p99 of successful requests on a log scale, with a grid line and
/// a label per decade.
fn draw_latency_chart(scene: &mut Scene, frame: &Frame, api: &ApiBuckets, y: f64) {
    scene.bold(10.0, y + 12.0, "API latency", 11.0);
    scene.muted(
        10.0,
        y + 24.0,
        "p50 and p99 of ok requests",
        9.0,
        Anchor::Start,
    );
    let Some(scale) = LogScale::fit(api, y) else {
        return;
    };
    let mut d = scale.d_lo;
    while d <= scale.d_hi + 1e-9 {
        let yy = scale.y(10f64.powf(d));
        scene.grid_line(X0, yy, X0 + COLS as f64, yy);
        scene.muted(X0 - 4.0, yy + 3.5, fmt_ms(10f64.powf(d)), 9.0, Anchor::End);
        d += 1.0;
    }
    let p50 = |r: &ApiBucket| r.p50_ms;
    let p99 = |r: &ApiBucket| r.p99_ms;
    draw_latency_line(scene, frame, api, &scale, (&p50, C_P50, "p50"));
    draw_latency_line(scene, frame, api, &scale, (&p99, C_P99, "p99"));
}

/// Which percentile to draw: how to read it from a bucket, its colour and its name.
type Percentile<'a> = (&'a dyn Fn(&ApiBucket) -> Option<f64>, Rgb, &'a str);

/// One percentile as a step line, broken where a bucket has no successful request, in a group named
/// after it (`data-chart="latency-p50"`).
fn draw_latency_line(
    scene: &mut Scene,
    frame: &Frame,
    api: &ApiBuckets,
    scale: &LogScale,
    (pick, color, name): Percentile,
) {
    scene.main.push(Prim::Open(format!(
        "class=\"chart\" data-chart=\"latency-{name}\""
    )));
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for (b, r) in api.rows.iter().enumerate() {
        match pick(r) {
            Some(ms) if ms > 0.0 => {
                let yy = scale.y(ms);
                let (x1, x2) = api.xs(frame, b);
                pts.push((x1, yy));
                pts.push((x2, yy));
            }
            _ => flush_line(scene, &mut pts, color),
        }
    }
    flush_line(scene, &mut pts, color);
    scene.main.push(Prim::Close);
}

/// Draws the points gathered so far as one polyline (if they make a line) and starts over.
fn flush_line(scene: &mut Scene, pts: &mut Vec<(f64, f64)>, color: Rgb) {
    if pts.len() >= 2 {
        scene.main.push(Prim::Path {
            points: std::mem::take(pts),
            color,
            width: 1.5,
        });
    }
    pts.clear();
}

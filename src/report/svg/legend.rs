//! The legend under the picture: a swatch per lane state (tainted nodes when some node was), fault
//! shading, the election marker, the alert bands' colours and the API chart's colours, then a note on
//! how to read node lanes and pixel columns.

use super::columns::Shade;
use super::frame::Frame;
use super::scene::{Anchor, Prim, Scene};
use super::style::{
    text_width, COLS, C_DOWN, C_FAULT, C_LEADER, C_MARK, C_P50, C_P99, C_PENDING, C_UP,
};
use crate::engine::{fmt_duration, Nanos};

/// The legend's row of items, filled left to right.
struct LegendRow {
    /// Where the next item starts.
    x: f64,
    /// The top of the row.
    y: f64,
}

impl LegendRow {
    /// One item: a 14-pixel swatch drawn by `swatch(scene, x, y)`, then its label.
    fn item(&mut self, scene: &mut Scene, swatch: impl FnOnce(&mut Scene, f64, f64), label: &str) {
        swatch(scene, self.x, self.y);
        scene.text(self.x + 18.0, self.y + 10.0, label, 10.0, Anchor::Start);
        self.x += 18.0 + text_width(label, 10.0) + 14.0;
    }
}

/// Which optional items the legend shows: only what the picture has, so that a picture without
/// alerts or tainted nodes does not explain colours it never uses.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct LegendItems {
    /// The API chart's colours (some run has requests).
    pub api: bool,
    /// The paused colour (some process stalled).
    pub pause: bool,
    /// The tainted-node colour (some node was tainted).
    pub tainted: bool,
    /// The alert band colours (some alert went pending or fired).
    pub alerts: bool,
}

impl LegendItems {
    /// What the run `o` needs explained.
    pub(super) fn of(o: &crate::run::Outcome) -> LegendItems {
        use crate::observe::{ProcState, TraceKind};
        let any = |f: &dyn Fn(&TraceKind) -> bool| o.trace.events.iter().any(|e| f(&e.kind));
        LegendItems {
            api: !o.trace.requests.is_empty(),
            pause: any(&|k| {
                matches!(
                    k,
                    TraceKind::Proc {
                        state: ProcState::Paused,
                        ..
                    }
                )
            }),
            tainted: any(&|k| matches!(k, TraceKind::NodeTaint { tainted: true, .. })),
            alerts: o.alerts.iter().any(|a| !a.spans.is_empty()),
        }
    }

    /// What any of several runs needs explained.
    pub(super) fn or(self, other: LegendItems) -> LegendItems {
        LegendItems {
            api: self.api || other.api,
            pause: self.pause || other.pause,
            tainted: self.tainted || other.tainted,
            alerts: self.alerts || other.alerts,
        }
    }
}

/// The legend under the picture, from `y0`; returns the y below it, with the optional `items`.
pub(super) fn draw_legend(scene: &mut Scene, frame: &Frame, y0: f64, items: LegendItems) -> f64 {
    let mut row = LegendRow {
        x: 10.0,
        y: y0 + 4.0,
    };
    scene.main.push(Prim::Open("class=\"legend\"".into()));
    let paused = items.pause.then_some(Shade::Paused);
    let tainted = items.tainted.then_some(Shade::Tainted);
    for s in [
        Some(Shade::Up),
        Some(Shade::Leader),
        Some(Shade::Standby),
        Some(Shade::Unready),
        tainted,
        paused,
        Some(Shade::Down),
    ]
    .into_iter()
    .flatten()
    {
        row.item(
            scene,
            |sc, x, y| sc.fill(x, y + 1.0, 14.0, 10.0, s.color(), None),
            s.name(),
        );
    }
    row.item(scene, fault_swatch, "fault");
    row.item(scene, election_swatch, "etcd leader elected (tN: term)");
    if items.alerts {
        for (c, l) in [(C_PENDING, "alert pending"), (C_DOWN, "alert firing")] {
            row.item(
                scene,
                |sc, x, y| sc.fill(x, y + 1.0, 14.0, 10.0, c, None),
                l,
            );
        }
    }
    if items.api {
        api_items(scene, &mut row);
    }
    draw_note(scene, frame, row.y);
    scene.main.push(Prim::Close);
    row.y + 48.0
}

/// A patch of the fault shading (a little stronger than over the lanes, to read on white).
fn fault_swatch(scene: &mut Scene, x: f64, y: f64) {
    scene.main.push(Prim::Rect {
        x,
        y: y + 1.0,
        w: 14.0,
        h: 10.0,
        fill: Some(C_FAULT),
        opacity: 0.3,
        stroke: None,
        title: None,
    })
}

/// A leader lane with the election marker on it.
fn election_swatch(scene: &mut Scene, x: f64, y: f64) {
    scene.fill(x, y + 1.0, 14.0, 10.0, C_LEADER, None);
    scene.main.push(Prim::Polygon {
        points: vec![(x + 3.5, y + 1.0), (x + 10.5, y + 1.0), (x + 7.0, y + 6.0)],
        fill: C_MARK,
        title: None,
    });
}

/// The API chart's items: the success bar's colours and the latency lines.
fn api_items(scene: &mut Scene, row: &mut LegendRow) {
    row.item(
        scene,
        |sc, x, y| {
            sc.fill(x, y + 1.0, 14.0, 5.0, C_DOWN, None);
            sc.fill(x, y + 6.0, 14.0, 5.0, C_UP, None);
        },
        "requests ok / failed",
    );
    for (c, l) in [(C_P50, "p50"), (C_P99, "p99")] {
        row.item(
            scene,
            |sc, x, y| {
                sc.main.push(Prim::Line {
                    x1: x,
                    y1: y + 6.0,
                    x2: x + 14.0,
                    y2: y + 6.0,
                    color: c,
                    width: 2.0,
                    opacity: 1.0,
                })
            },
            l,
        );
    }
}

/// How to read the lanes: where they start, what the node bars and node lanes mean, and that a pixel
/// column shows the worst state within it (with how long one pixel is in this picture). Two lines, as
/// one would run past the picture's width.
fn draw_note(scene: &mut Scene, frame: &Frame, y: f64) {
    let px = frame.t_end as f64 / COLS as f64;
    let lanes = "Lanes start down until the process first starts. Node bars: grey up, red down. Node lanes: \
         the Node as the API stores it (up: Ready, unready: NotReady/Unknown, tainted: \
         unreachable:NoExecute), with the kubelet's ready pods.";
    let pixels = format!(
        "One pixel is {}; a pixel column shows the worst state within it (down > paused > tainted > \
         unready > standby > up > leader).",
        fmt_duration(px.round().max(1.0) as Nanos)
    );
    scene.muted(10.0, y + 26.0, lanes, 10.0, Anchor::Start);
    scene.muted(10.0, y + 40.0, pixels, 10.0, Anchor::Start);
}

//! The alerts band group: one band per alert that went pending or fired, light while pending, red while
//! firing (`observe::alerts`), under the capability bands.

use super::columns::Shade;
use super::frame::Frame;
use super::scene::{Anchor, Prim, Scene};
use super::style::{C_PENDING, LANE_GAP, LANE_H, NODE_H};
use crate::engine::{fmt_duration, Nanos};
use crate::observe::alerts::AlertState;
use crate::run::Outcome;

/// Draws the alerts that were pending or firing; returns the y below them.
pub(super) fn draw_alerts(scene: &mut Scene, o: &Outcome, frame: &Frame, mut y: f64) -> f64 {
    let active: Vec<_> = o.alerts.iter().filter(|a| !a.spans.is_empty()).collect();
    if active.is_empty() {
        return y;
    }
    y += 4.0;
    scene.bold(10.0, y + 12.0, "alerts (light: pending, red: firing)", 11.0);
    y += NODE_H;
    for a in active {
        let d = a.alert.def();
        scene.text(22.0, y + LANE_H - 2.5, d.name, 10.0, Anchor::Start);
        scene.main.push(Prim::Open(format!(
            "class=\"band alert\" data-alert=\"{}\" shape-rendering=\"crispEdges\"",
            d.name
        )));
        scene.main.push(Prim::Title(format!(
            "alert {} ({}, for {}): {}",
            d.name,
            d.severity,
            fmt_duration(d.for_ns),
            d.expr
        )));
        let mut changes: Vec<(Nanos, Shade)> = Vec::new();
        for s in &a.spans {
            let shade = match s.state {
                AlertState::Firing => Shade::Down,
                AlertState::Pending => Shade::Unready,
                AlertState::Inactive => Shade::Empty,
            };
            changes.push((s.start_ns, shade));
            changes.push((s.end_ns, Shade::Empty));
        }
        // An end and the next start at one instant: the start wins (it comes later in the list).
        changes.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        let cols = frame.columns(Shade::Empty, &changes, o.end_ns);
        frame.draw_columns_named(scene, &cols, y, LANE_H, |s| match s {
            Shade::Unready => (C_PENDING, "pending"),
            Shade::Down => (s.color(), "firing"),
            Shade::Empty
            | Shade::Leader
            | Shade::Up
            | Shade::Standby
            | Shade::Tainted
            | Shade::Paused => (s.color(), s.name()),
        });
        scene.main.push(Prim::Close);
        y += LANE_H + LANE_GAP;
    }
    y
}

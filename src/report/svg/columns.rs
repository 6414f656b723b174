//! Pixel columns: intervals shorter than a pixel are aggregated, each pixel column of a lane or band
//! showing the worst state that occurred within it, so a 6-hour run draws as fast and as legibly as a
//! 10-minute one, and a one-nanosecond outage still shows.

use super::frame::Frame;
use super::scene::{Rgb, Scene};
use super::style::{COLS, C_DOWN, C_LEADER, C_PAUSED, C_STANDBY, C_TAINTED, C_UNREADY, C_UP, X0};
use crate::engine::{fmt_duration, Nanos};
use crate::observe::ProcState;

/// What a pixel column of a lane or band shows. Ordered from best to worst: a column shows the worst
/// state that occurred within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Shade {
    Empty,
    Leader,
    Up,
    Standby,
    Unready,
    /// A node carrying the unreachable NoExecute taint: its pods are evicted once their toleration
    /// runs out (node lanes only).
    Tainted,
    Paused,
    Down,
}

impl Shade {
    /// The shade of a process state (leader and standby come from Acting events, see `lanes`).
    pub(super) fn of(s: ProcState) -> Shade {
        match s {
            ProcState::Up => Shade::Up,
            ProcState::Down => Shade::Down,
            ProcState::Unready => Shade::Unready,
            ProcState::Leader => Shade::Leader,
            ProcState::Standby => Shade::Standby,
            ProcState::Paused => Shade::Paused,
        }
    }

    /// The name in tooltips and the legend.
    pub(super) fn name(self) -> &'static str {
        match self {
            Shade::Empty => "",
            Shade::Leader => "leader",
            Shade::Up => "up",
            Shade::Standby => "standby",
            Shade::Unready => "unready",
            Shade::Tainted => "tainted",
            Shade::Paused => "paused",
            Shade::Down => "down",
        }
    }

    /// The fill of a lane or band column.
    pub(super) fn color(self) -> Rgb {
        match self {
            Shade::Empty => (255, 255, 255),
            Shade::Leader => C_LEADER,
            Shade::Up => C_UP,
            Shade::Standby => C_STANDBY,
            Shade::Unready => C_UNREADY,
            Shade::Tainted => C_TAINTED,
            Shade::Paused => C_PAUSED,
            Shade::Down => C_DOWN,
        }
    }
}

impl Frame {
    /// Paints `[a, b)` into per-column worst shades.
    fn paint(&self, cols: &mut [Shade], a: Nanos, b: Nanos, s: Shade) {
        let b = b.min(self.t_end);
        if b <= a {
            return;
        }
        let n = COLS as u128;
        let end = self.t_end as u128;
        let ca = (a as u128 * n / end) as usize;
        let cb = ((b as u128 * n).div_ceil(end) as usize).clamp(ca + 1, COLS);
        for c in &mut cols[ca.min(COLS)..cb] {
            if s > *c {
                *c = s;
            }
        }
    }

    /// Per-column worst shades of a step function: `initial` from 0, then each `(time, shade)` change,
    /// until `until` (the run's end); columns after `until` stay empty.
    pub(super) fn columns(
        &self,
        initial: Shade,
        changes: &[(Nanos, Shade)],
        until: Nanos,
    ) -> Vec<Shade> {
        let mut cols = vec![Shade::Empty; COLS];
        let (mut t0, mut s0) = (0, initial);
        for &(t, s) in changes {
            let t = t.min(until);
            self.paint(&mut cols, t0, t, s0);
            t0 = t;
            s0 = s;
        }
        self.paint(&mut cols, t0, until, s0);
        cols
    }

    /// Emits one rectangle per run of equal columns (with a tooltip naming the state and its span), so
    /// the SVG stays small however long the run.
    pub(super) fn draw_columns(
        &self,
        scene: &mut Scene,
        cols: &[Shade],
        y: f64,
        h: f64,
        color: impl Fn(Shade) -> Rgb,
    ) {
        self.draw_columns_named(scene, cols, y, h, |s| (color(s), s.name()));
    }

    /// [`Frame::draw_columns`] with the tooltip's word for each shade given too (an alert band says
    /// pending and firing, not unready and down).
    pub(super) fn draw_columns_named(
        &self,
        scene: &mut Scene,
        cols: &[Shade],
        y: f64,
        h: f64,
        look: impl Fn(Shade) -> (Rgb, &'static str),
    ) {
        let mut c = 0;
        while c < cols.len() {
            let s = cols[c];
            let mut e = c + 1;
            while e < cols.len() && cols[e] == s {
                e += 1;
            }
            if s != Shade::Empty {
                let (color, name) = look(s);
                let title = format!(
                    "{} {} \u{2013} {}",
                    name,
                    fmt_duration(self.t_of_col(c)),
                    fmt_duration(self.t_of_col(e))
                );
                scene.fill(X0 + c as f64, y, (e - c) as f64, h, color, Some(title));
            }
            c = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_show_the_worst_state_within_a_pixel() {
        let f = Frame::new(COLS as Nanos * 10);
        // Down for 1 ns inside column 5, which is otherwise up.
        let cols = f.columns(
            Shade::Down,
            &[(0, Shade::Up), (55, Shade::Down), (56, Shade::Up)],
            f.t_end,
        );
        assert_eq!(cols[4], Shade::Up);
        assert_eq!(cols[5], Shade::Down);
        assert_eq!(cols[6], Shade::Up);
        assert_eq!(cols[COLS - 1], Shade::Up);
    }
}

//! The time axis shared by everything drawn for one picture: where a time falls on the x axis, round
//! tick steps, the tick labels and the grid lines behind the plot.

use super::scene::{Anchor, Scene};
use super::style::{text_width, COLS, WIDTH, X0};
use crate::engine::{fmt_duration, Nanos, HOUR, MIN, MS, SEC};

/// The time axis shared by everything drawn for one picture.
#[derive(Clone, Copy, Debug)]
pub(super) struct Frame {
    /// The time at the right edge (at least 1).
    pub(super) t_end: Nanos,
}

impl Frame {
    /// A frame from time 0 to `t_end`; a zero-length run still gets a one-nanosecond axis so that
    /// nothing divides by zero.
    pub(super) fn new(t_end: Nanos) -> Frame {
        Frame {
            t_end: t_end.max(1),
        }
    }

    /// The x coordinate of time `t` (times past the end are drawn at the right edge).
    pub(super) fn x(&self, t: Nanos) -> f64 {
        X0 + (t.min(self.t_end) as f64 / self.t_end as f64) * COLS as f64
    }

    /// The time at the left edge of pixel column `c`.
    pub(super) fn t_of_col(&self, c: usize) -> Nanos {
        (c as u128 * self.t_end as u128 / COLS as u128) as Nanos
    }

    /// Time labels on a line at `y`, one per `step`; a label that would run off the picture is left
    /// out. Drawn above the lanes and again under the charts so that the time is readable at both ends.
    pub(super) fn axis_labels(&self, scene: &mut Scene, y: f64, step: Nanos) {
        let mut t = 0;
        while t <= self.t_end {
            let x = self.x(t);
            let anchor = if t == 0 {
                Anchor::Start
            } else {
                Anchor::Middle
            };
            if x + text_width(&fmt_duration(t), 10.0) / 2.0 <= WIDTH {
                scene.muted(x, y, fmt_duration(t), 10.0, anchor);
            }
            t += step;
        }
    }

    /// Vertical grid lines at the axis ticks from `top` to `bottom`, behind everything, so that a
    /// moment can be followed down through every lane, band and chart.
    pub(super) fn grid_lines(&self, scene: &mut Scene, top: f64, bottom: f64, step: Nanos) {
        let mut t = 0;
        while t <= self.t_end {
            let x = self.x(t);
            scene.grid_line(x, top, x, bottom);
            t += step;
        }
    }
}

/// Chooses a round step so that `span` has at most `max_steps` of them.
pub(super) fn nice_step(span: Nanos, max_steps: u64) -> Nanos {
    const STEPS: [Nanos; 22] = [
        MS,
        2 * MS,
        5 * MS,
        10 * MS,
        20 * MS,
        50 * MS,
        100 * MS,
        200 * MS,
        500 * MS,
        SEC,
        2 * SEC,
        5 * SEC,
        10 * SEC,
        15 * SEC,
        30 * SEC,
        MIN,
        2 * MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
    ];
    for s in STEPS {
        if span / s <= max_steps {
            return s;
        }
    }
    let mut s = HOUR;
    while span / s > max_steps {
        s *= 2;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(2 * MIN, 12), 10 * SEC);
        assert_eq!(nice_step(6 * HOUR, 12), 30 * MIN);
        assert_eq!(nice_step(10 * MIN, 12), MIN);
    }
}

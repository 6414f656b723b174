//! The picture as plain shapes: laid out once, then written as SVG (`write`) or drawn into a PNG
//! (`report::png`), so that both show the same thing.

use super::style::{GRID, INK, MUTED};

/// An RGB colour.
pub(crate) type Rgb = (u8, u8, u8);

/// How a text is anchored horizontally at its `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawing primitive. Coordinates are pixels from the top left; text `y` is the baseline.
#[derive(Clone, Debug)]
pub(crate) enum Prim {
    /// Opens a group (`<g ATTRS>`); the PNG ignores groups.
    Open(String),
    /// Closes the last group.
    Close,
    /// A tooltip for the enclosing group (SVG only).
    Title(String),
    /// A rectangle, filled or (with `stroke`) outlined.
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Option<Rgb>,
        opacity: f64,
        stroke: Option<Rgb>,
        title: Option<String>,
    },
    /// A straight line.
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        color: Rgb,
        width: f64,
        opacity: f64,
    },
    /// An open polyline.
    Path {
        points: Vec<(f64, f64)>,
        color: Rgb,
        width: f64,
    },
    /// A filled polygon (markers).
    Polygon {
        points: Vec<(f64, f64)>,
        fill: Rgb,
        title: Option<String>,
    },
    /// A line of text.
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        color: Rgb,
        anchor: Anchor,
        bold: bool,
    },
}

/// A laid-out picture: primitives in three layers (grid behind, shapes, overlays on top).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scene {
    pub width: f64,
    pub height: f64,
    pub back: Vec<Prim>,
    pub main: Vec<Prim>,
    pub front: Vec<Prim>,
}

impl Scene {
    /// Every primitive in drawing order.
    pub fn prims(&self) -> impl Iterator<Item = &Prim> {
        self.back.iter().chain(&self.main).chain(&self.front)
    }

    /// Plain text in ink.
    pub(super) fn text(
        &mut self,
        x: f64,
        y: f64,
        text: impl Into<String>,
        size: f64,
        anchor: Anchor,
    ) {
        self.main.push(Prim::Text {
            x,
            y,
            text: text.into(),
            size,
            color: INK,
            anchor,
            bold: false,
        });
    }

    /// Secondary text (axis labels, notes) in the muted colour.
    pub(super) fn muted(
        &mut self,
        x: f64,
        y: f64,
        text: impl Into<String>,
        size: f64,
        anchor: Anchor,
    ) {
        self.main.push(Prim::Text {
            x,
            y,
            text: text.into(),
            size,
            color: MUTED,
            anchor,
            bold: false,
        });
    }

    /// A bold heading in ink, anchored at its start.
    pub(super) fn bold(&mut self, x: f64, y: f64, text: impl Into<String>, size: f64) {
        self.main.push(Prim::Text {
            x,
            y,
            text: text.into(),
            size,
            color: INK,
            anchor: Anchor::Start,
            bold: true,
        });
    }

    /// A filled rectangle with an optional tooltip.
    pub(super) fn fill(
        &mut self,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Rgb,
        title: Option<String>,
    ) {
        self.main.push(Prim::Rect {
            x,
            y,
            w,
            h,
            fill: Some(fill),
            opacity: 1.0,
            stroke: None,
            title,
        });
    }

    /// A one-pixel grid line behind everything else.
    pub(super) fn grid_line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64) {
        self.back.push(Prim::Line {
            x1,
            y1,
            x2,
            y2,
            color: GRID,
            width: 1.0,
            opacity: 1.0,
        });
    }
}

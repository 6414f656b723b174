//! The picture's geometry and palette, in one place so that the timeline, the legend and the comparison
//! agree on them.

use super::scene::Rgb;

/// The picture's width in pixels.
pub(super) const WIDTH: f64 = 1400.0;
/// Where the plot starts (left of it: labels).
pub(super) const X0: f64 = 210.0;
/// The plot's width in pixel columns.
pub(super) const COLS: usize = 1170;
/// Height of one process lane or capability band.
pub(super) const LANE_H: f64 = 13.0;
/// Space under each lane or band.
pub(super) const LANE_GAP: f64 = 3.0;
/// Height of a node header (and of the "capabilities" heading).
pub(super) const NODE_H: f64 = 16.0;
/// Height of one row of fault labels above the lanes.
pub(super) const FAULT_ROW_H: f64 = 13.0;
/// At most this many rows of fault labels; a label that fits in none is left out (the tooltip remains).
pub(super) const MAX_FAULT_ROWS: usize = 3;
/// Height of the API success chart.
pub(super) const RATIO_H: f64 = 44.0;
/// Height of the API latency chart.
pub(super) const LAT_H: f64 = 64.0;

/// Text.
pub(super) const INK: Rgb = (34, 34, 34);
/// Secondary text: axis labels, notes.
pub(super) const MUTED: Rgb = (110, 110, 110);
/// Grid lines.
pub(super) const GRID: Rgb = (225, 225, 225);
pub(super) const C_LEADER: Rgb = (31, 82, 160);
pub(super) const C_UP: Rgb = (76, 175, 80);
pub(super) const C_STANDBY: Rgb = (143, 190, 230);
pub(super) const C_UNREADY: Rgb = (240, 190, 40);
/// A stalled process (`pause`): alive, holding its state, handling nothing.
pub(super) const C_PAUSED: Rgb = (150, 90, 190);
pub(super) const C_DOWN: Rgb = (214, 39, 40);
/// A node with the unreachable NoExecute taint: darker than NotReady's yellow, short of down's red,
/// because its pods still run until they are evicted.
pub(super) const C_TAINTED: Rgb = (196, 96, 20);
/// An alert that is pending (its condition holds, not yet for its `for:`): a light red.
pub(super) const C_PENDING: Rgb = (246, 190, 190);
pub(super) const C_NODE_UP: Rgb = (200, 200, 200);
pub(super) const C_FAULT: Rgb = (128, 64, 192);
pub(super) const C_P50: Rgb = (31, 119, 180);
pub(super) const C_P99: Rgb = (255, 127, 14);
/// Etcd leader election markers.
pub(super) const C_MARK: Rgb = (255, 215, 0);
/// Background of a metric row that differs between two compared runs.
pub(super) const C_DIFF: Rgb = (255, 243, 196);

/// A rough text width for layout (DejaVu Sans averages a little under 0.6 em).
pub(super) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

//! The timeline as a PNG: the same scene as the SVG (see `report::svg`), drawn with plotters' bitmap
//! backend. Text uses a subset of DejaVu Sans embedded in the binary (`src/report/font/`, with its
//! licence), so no system font is needed.

use super::svg::{self, Anchor, Prim, Rgb, Scene};
use crate::run::Outcome;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans, subset to Latin-1 and a few symbols (see `font/LICENSE`).
static FONT_REGULAR: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");
/// DejaVu Sans Bold, subset likewise.
static FONT_BOLD: &[u8] = include_bytes!("font/DejaVuSans-Bold-subset.ttf");
/// The family name the fonts are registered under.
const FAMILY: &str = "kube-ha-sim-dejavu-sans";
/// DejaVu's ascent minus descent in ems: plotters' ab_glyph sizes fonts by that height, SVG by the em.
const EM_TO_PX_SCALE: f64 = 2384.0 / 2048.0;

/// Registers the embedded fonts with plotters once; false when they could not be loaded (the PNG is
/// then drawn without text).
fn fonts_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_REGULAR).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT_BOLD).is_ok()
    })
}

/// Renders the timeline of a run as a PNG at `path`, written to a temporary file beside it and then
/// renamed, so that a reader never sees half a picture.
pub fn render_png(o: &Outcome, path: &Path) -> Result<(), String> {
    write_scene_png(&svg::scene(o), path)
}

/// Renders the comparison of runs (see `svg::render_compare_svg`) as a PNG at `path`.
pub fn render_compare_png(runs: &[(&Outcome, &str)], path: &Path) -> Result<(), String> {
    write_scene_png(&svg::compare_scene(runs), path)
}

/// Renders any scene (the capacity plan's charts) as a PNG at `path`, atomically as above.
pub(crate) fn render_scene_png(scene: &Scene, path: &Path) -> Result<(), String> {
    write_scene_png(scene, path)
}

fn write_scene_png(scene: &Scene, path: &Path) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("timeline.png");
    // The bitmap encoder picks the format from the extension, so the temporary name ends in .png.
    let tmp = dir.join(format!(".{name}.tmp{}.png", std::process::id()));
    let result = draw(scene, &tmp).and_then(|()| {
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn rgba(c: Rgb, a: f64) -> RGBAColor {
    RGBAColor(c.0, c.1, c.2, a)
}

fn pt(p: (f64, f64)) -> (i32, i32) {
    (p.0.round() as i32, p.1.round() as i32)
}

/// The error of a failed drawing call, for the caller to report.
fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the PNG: {e:?}")
}

/// Draws the scene on a white bitmap the scene's size and saves it to `file`.
fn draw(scene: &Scene, file: &Path) -> Result<(), String> {
    let size = (
        scene.width.ceil().max(1.0) as u32,
        scene.height.ceil().max(1.0) as u32,
    );
    let mut b = BitMapBackend::new(file, size);
    b.draw_rect((0, 0), (size.0 as i32, size.1 as i32), &WHITE, true)
        .map_err(err)?;
    let text_ok = fonts_ready();
    for p in scene.prims() {
        draw_prim(&mut b, p, text_ok)?;
    }
    b.present().map_err(err)?;
    Ok(())
}

/// Draws one primitive; groups and tooltips have no picture, and text is left out when the fonts
/// could not be loaded.
fn draw_prim(b: &mut BitMapBackend, p: &Prim, text_ok: bool) -> Result<(), String> {
    match p {
        Prim::Open(_) | Prim::Close | Prim::Title(_) => {}
        Prim::Rect {
            x,
            y,
            w,
            h,
            fill,
            opacity,
            stroke,
            ..
        } => {
            let (x0, y0) = pt((*x, *y));
            let (mut x1, mut y1) = pt((x + w, y + h));
            x1 = x1.max(x0 + 1);
            y1 = y1.max(y0 + 1);
            if let Some(c) = fill {
                b.draw_rect((x0, y0), (x1, y1), &rgba(*c, *opacity), true)
                    .map_err(err)?;
            }
            if let Some(c) = stroke {
                b.draw_rect((x0, y0), (x1 - 1, y1 - 1), &rgba(*c, 1.0), false)
                    .map_err(err)?;
            }
        }
        Prim::Line {
            x1,
            y1,
            x2,
            y2,
            color,
            width,
            opacity,
        } => {
            let style = stroke_style(*color, *opacity, *width);
            b.draw_line(pt((*x1, *y1)), pt((*x2, *y2)), &style)
                .map_err(err)?;
        }
        Prim::Path {
            points,
            color,
            width,
        } => {
            let style = stroke_style(*color, 1.0, *width);
            b.draw_path(points.iter().map(|p| pt(*p)), &style)
                .map_err(err)?;
        }
        Prim::Polygon { points, fill, .. } => {
            b.fill_polygon(points.iter().map(|p| pt(*p)), &rgba(*fill, 1.0))
                .map_err(err)?;
        }
        Prim::Text { text, .. } if !text_ok || text.trim().is_empty() => {}
        Prim::Text {
            x,
            y,
            text,
            size,
            color,
            anchor,
            bold,
        } => draw_text(b, (*x, *y), text, *size, (*color, *anchor, *bold)),
    }
    Ok(())
}

/// A line style: the width rounded to whole pixels, at least one.
fn stroke_style(color: Rgb, opacity: f64, width: f64) -> ShapeStyle {
    ShapeStyle {
        color: rgba(color, opacity),
        filled: false,
        stroke_width: width.round().max(1.0) as u32,
    }
}

/// A line of text with its baseline at `(x, y)`, as the SVG places it.
fn draw_text(
    b: &mut BitMapBackend,
    (x, y): (f64, f64),
    text: &str,
    size: f64,
    (color, anchor, bold): (Rgb, Anchor, bool),
) {
    let px = size * EM_TO_PX_SCALE;
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    let c = RGBColor(color.0, color.1, color.2);
    let h = match anchor {
        Anchor::Start => HPos::Left,
        Anchor::Middle => HPos::Center,
        Anchor::End => HPos::Right,
    };
    let ts = FontDesc::new(FontFamily::Name(FAMILY), px, style)
        .color(&c)
        .pos(Pos::new(h, VPos::Top));
    // plotters' ab_glyph backend puts the baseline half a size below the top anchor.
    let top = (y - px / 2.0).round() as i32;
    // A glyph the subset lacks is skipped, not an error worth losing the picture over.
    let _ = b.draw_text(text, &ts, (x.round() as i32, top));
}

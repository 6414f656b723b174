//! The timeline as a PNG: the same scene as the SVG (see `report::svg`), drawn with plotters' bitmap
//! backend. Text uses a subset of DejaVu Sans embedded in the binary (`src/report/font/`, with its
//! licence), so no system font is needed.

use super::svg::{self, Anchor, Prim, Rgb, Scene};
use crate::run::Outcome;
use ab_glyph::{FontRef, PxScale};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans, subset to Latin-1 and a few symbols (see `font/LICENSE`).
static FONT_REGULAR: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");
/// DejaVu Sans Bold, subset likewise.
static FONT_BOLD: &[u8] = include_bytes!("font/DejaVuSans-Bold-subset.ttf");
/// DejaVu's ascent minus descent in ems: ab_glyph's `PxScale` is that height, SVG sizes by the em.
const EM_TO_PX_SCALE: f32 = 2384.0 / 2048.0;

/// The embedded fonts, parsed once; None when they could not be (the PNG is then drawn without text).
fn fonts() -> Option<&'static (FontRef<'static>, FontRef<'static>)> {
    static FONTS: OnceLock<Option<(FontRef<'static>, FontRef<'static>)>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some((
                FontRef::try_from_slice(FONT_REGULAR).ok()?,
                FontRef::try_from_slice(FONT_BOLD).ok()?,
            ))
        })
        .as_ref()
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
    // Flushed before the rename, so that a crash never leaves a renamed but empty picture.
    let flushed = |()| {
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))
    };
    let result = draw(scene, &tmp).and_then(flushed).and_then(|()| {
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
    let text_ok = fonts().is_some();
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

/// A line of text with its baseline at `(x, y)`, as the SVG places it: laid out glyph by glyph with the
/// font's advances and kerning, each glyph placed by its own bearing and rasterised with coverage
/// blended onto the picture. (plotters' own text drawing placed each glyph by its bounding box:
/// full stops floated at mid-height and letters were unevenly spaced.)
fn draw_text(
    b: &mut BitMapBackend,
    (x, y): (f64, f64),
    text: &str,
    size: f64,
    (color, anchor, bold): (Rgb, Anchor, bool),
) {
    use ab_glyph::{Font as _, ScaleFont as _};
    let Some((regular, bold_font)) = fonts() else {
        return;
    };
    let font = if bold { bold_font } else { regular };
    let scaled = font.as_scaled(PxScale::from(size as f32 * EM_TO_PX_SCALE));
    // Lay out: each glyph's pen position, then the width for the anchor.
    let mut glyphs = Vec::with_capacity(text.len());
    let mut caret = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        glyphs.push((id, caret));
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    let x0 = x as f32
        - match anchor {
            Anchor::Start => 0.0,
            Anchor::Middle => caret / 2.0,
            Anchor::End => caret,
        };
    let rgb = (color.0, color.1, color.2);
    for (id, pen) in glyphs {
        let glyph = id.with_scale_and_position(scaled.scale(), ab_glyph::point(x0 + pen, y as f32));
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue; // a space, or a glyph the subset lacks
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            if coverage > 0.0 {
                let px = bounds.min.x as i32 + gx as i32;
                let py = bounds.min.y as i32 + gy as i32;
                let c =
                    RGBAColor(rgb.0, rgb.1, rgb.2, f64::from(coverage.min(1.0))).to_backend_color();
                let _ = b.draw_pixel((px, py), c);
            }
        });
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    /// The rows and columns where `text` left ink, drawn with its baseline at y = 30.
    fn ink(text: &str) -> Vec<(u32, u32)> {
        let (w, h) = (200u32, 40u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        {
            let mut b = BitMapBackend::with_buffer(&mut buf, (w, h));
            draw_text(
                &mut b,
                (10.0, 30.0),
                text,
                16.0,
                ((0, 0, 0), Anchor::Start, false),
            );
            b.present().unwrap();
        }
        let mut out = Vec::new();
        for y in 0..h {
            for x in 0..w {
                if buf[((y * w + x) * 3) as usize] < 128 {
                    out.push((x, y));
                }
            }
        }
        out
    }

    #[test]
    fn punctuation_sits_on_the_baseline_and_advances_are_the_fonts() {
        // A full stop's ink is within a few pixels above the baseline (plotters drew it at mid-height).
        let stop: Vec<u32> = ink(".").iter().map(|&(_, y)| y).collect();
        assert!(!stop.is_empty());
        assert!(stop.iter().all(|&y| (26..=30).contains(&y)), "{stop:?}");
        // An x-height letter's ink spans from about the x-height down to the baseline.
        let x_rows: Vec<u32> = ink("x").iter().map(|&(_, y)| y).collect();
        assert!(x_rows.iter().max().unwrap() <= &30 && x_rows.iter().min().unwrap() >= &16);
        // Spacing follows the font's advances: "i i" is wider than "ii" by about a space (5 px at 16 px).
        let right = |t: &str| ink(t).iter().map(|&(x, _)| x).max().unwrap();
        let gap = right("i i") as i32 - right("ii") as i32;
        assert!((4..=6).contains(&gap), "a space is {gap} px");
    }
}

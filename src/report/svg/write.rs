//! Writing a scene as SVG, by hand: one element per primitive, coordinates with at most two decimals,
//! and attributes left out where they hold the document's default (so the file stays small and diffs
//! between versions stay readable).

use super::scene::{Anchor, Prim, Rgb, Scene};
use super::style::INK;
use std::fmt::Write;

/// Escapes text for XML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        let s = format!("{r:.2}");
        s.trim_end_matches('0').to_string()
    }
}

/// A colour as `#rrggbb`.
fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Writes a scene as SVG.
pub(crate) fn to_svg(scene: &Scene) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"kube-ha-sim-timeline\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"11\" \
         fill=\"{ink}\">",
        w = num(scene.width),
        h = num(scene.height),
        ink = hex(INK)
    );
    let _ = writeln!(
        s,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        num(scene.width),
        num(scene.height)
    );
    for p in scene.prims() {
        write_prim(&mut s, p);
    }
    s.push_str("</svg>\n");
    s
}

/// Writes one primitive as an SVG element (a group opens with `<g>`, a tooltip is a `<title>`).
fn write_prim(s: &mut String, p: &Prim) {
    match p {
        Prim::Open(attrs) => {
            let _ = writeln!(s, "<g {attrs}>");
        }
        Prim::Close => s.push_str("</g>\n"),
        Prim::Title(t) => {
            let _ = writeln!(s, "<title>{}</title>", esc(t));
        }
        Prim::Rect {
            x,
            y,
            w,
            h,
            fill,
            opacity,
            stroke,
            title,
        } => write_rect(
            s,
            [*x, *y, *w, *h],
            (*fill, *opacity, *stroke),
            title.as_deref(),
        ),
        Prim::Line {
            x1,
            y1,
            x2,
            y2,
            color,
            width,
            opacity,
        } => write_line(s, [*x1, *y1, *x2, *y2], *color, *width, *opacity),
        Prim::Path {
            points,
            color,
            width,
        } => write_polyline(s, points, *color, *width),
        Prim::Polygon {
            points,
            fill,
            title,
        } => write_polygon(s, points, *fill, title.as_deref()),
        Prim::Text {
            x,
            y,
            text,
            size,
            color,
            anchor,
            bold,
        } => write_text(s, (*x, *y), text, *size, (*color, *anchor, *bold)),
    }
}

/// Ends an element: with its tooltip as a `<title>` child, or self-closed.
fn close_with_title(s: &mut String, tag: &str, title: Option<&str>) {
    match title {
        Some(t) => {
            let _ = writeln!(s, "><title>{}</title></{tag}>", esc(t));
        }
        None => s.push_str("/>\n"),
    }
}

/// A `<rect>` at `[x, y, w, h]` with `(fill, fill opacity, stroke)`.
fn write_rect(
    s: &mut String,
    [x, y, w, h]: [f64; 4],
    (fill, opacity, stroke): (Option<Rgb>, f64, Option<Rgb>),
    title: Option<&str>,
) {
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
        num(x),
        num(y),
        num(w),
        num(h)
    );
    match fill {
        Some(c) => {
            let _ = write!(s, " fill=\"{}\"", hex(c));
        }
        None => s.push_str(" fill=\"none\""),
    }
    if opacity < 1.0 {
        let _ = write!(s, " fill-opacity=\"{}\"", num(opacity));
    }
    if let Some(c) = stroke {
        let _ = write!(s, " stroke=\"{}\"", hex(c));
    }
    close_with_title(s, "rect", title);
}

/// A `<line>` from `(x1, y1)` to `(x2, y2)`.
fn write_line(s: &mut String, [x1, y1, x2, y2]: [f64; 4], color: Rgb, width: f64, opacity: f64) {
    let _ = write!(
        s,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"",
        num(x1),
        num(y1),
        num(x2),
        num(y2),
        hex(color),
        num(width)
    );
    if opacity < 1.0 {
        let _ = write!(s, " stroke-opacity=\"{}\"", num(opacity));
    }
    s.push_str("/>\n");
}

/// The value of a `points` attribute: `x,y x,y ...`.
fn write_points(s: &mut String, points: &[(f64, f64)]) {
    for (i, (x, y)) in points.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{},{}", num(*x), num(*y));
    }
}

/// An open `<polyline>` (latency lines).
fn write_polyline(s: &mut String, points: &[(f64, f64)], color: Rgb, width: f64) {
    s.push_str("<polyline fill=\"none\" points=\"");
    write_points(s, points);
    let _ = writeln!(
        s,
        "\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>",
        hex(color),
        num(width)
    );
}

/// A filled, outlined `<polygon class="marker">` (election and violation markers).
fn write_polygon(s: &mut String, points: &[(f64, f64)], fill: Rgb, title: Option<&str>) {
    s.push_str("<polygon class=\"marker\" points=\"");
    write_points(s, points);
    let _ = write!(
        s,
        "\" fill=\"{}\" stroke=\"#333333\" stroke-width=\"0.6\"",
        hex(fill)
    );
    close_with_title(s, "polygon", title);
}

/// A `<text>` at `(x, y)` (the baseline) with `(colour, anchor, bold)`; the size and colour are left
/// out when they are the document's defaults (11, ink).
fn write_text(
    s: &mut String,
    (x, y): (f64, f64),
    text: &str,
    size: f64,
    (color, anchor, bold): (Rgb, Anchor, bool),
) {
    let _ = write!(s, "<text x=\"{}\" y=\"{}\"", num(x), num(y));
    if size != 11.0 {
        let _ = write!(s, " font-size=\"{}\"", num(size));
    }
    if color != INK {
        let _ = write!(s, " fill=\"{}\"", hex(color));
    }
    match anchor {
        Anchor::Start => {}
        Anchor::Middle => s.push_str(" text-anchor=\"middle\""),
        Anchor::End => s.push_str(" text-anchor=\"end\""),
    }
    if bold {
        s.push_str(" font-weight=\"bold\"");
    }
    let _ = writeln!(s, ">{}</text>", esc(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}

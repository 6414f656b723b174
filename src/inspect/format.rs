//! The real tools' text layouts, reimplemented: Go's `text/tabwriter` as kubectl configures it,
//! apimachinery's `duration.HumanDuration`, `olekukonko/tablewriter` as etcdctl's `-w table` uses it,
//! and go-humanize's `Bytes`.

use crate::engine::{Nanos, SEC};

/// kubectl's column layout: `tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)` (k/k
/// staging/src/k8s.io/cli-runtime/pkg/printers/tabwriter.go: `tabwriterMinWidth = 6`,
/// `tabwriterPadding = 3`). Every cell but the last of a row is padded to its column's width, which is
/// the widest cell plus 3, at least 6 (text/tabwriter: `width := minwidth; if w := c.width + padding;
/// w > width { width = w }`); the last cell is not part of a column and is written as is.
pub fn tabwriter(rows: &[Vec<String>]) -> String {
    const MIN_WIDTH: usize = 6;
    const PADDING: usize = 3;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![MIN_WIDTH; columns.saturating_sub(1)];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[i] = widths[i].max(cell.chars().count() + PADDING);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// apimachinery `pkg/util/duration.HumanDuration`: the AGE column of kubectl (k/k
/// staging/src/k8s.io/apimachinery/pkg/util/duration/duration.go). Seconds below 2 minutes, then
/// minutes with seconds below 10 minutes, minutes below 3 hours, hours with minutes below 8 hours,
/// hours below 2 days, days with hours below 8 days, days below 2 years, then years.
pub fn human_duration(ns: Nanos) -> String {
    let seconds = ns / SEC;
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// etcdctl's `-w table` (etcdctl/ctlv3/command/printer_table.go): olekukonko/tablewriter v0.0.5 with
/// `SetAlignment(ALIGN_RIGHT)`. Borders `+---+`, one space of padding each side, headers centred
/// (`Pad`: the gap split with the smaller half on the left) and cells right-aligned. A cell wider than
/// tablewriter's `MAX_ROW_WIDTH` (30) wraps at spaces over several lines ([`wrap_cell`]), as
/// `endpoint status`'s ERRORS does with an alarm; the other cells of its row are blank on the lines
/// below.
pub fn ascii_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let cells: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|row| row.iter().map(|c| wrap_cell(c)).collect())
        .collect();
    for row in &cells {
        for (w, lines) in widths.iter_mut().zip(row) {
            for l in lines {
                *w = (*w).max(l.chars().count());
            }
        }
    }
    let line: String = widths.iter().fold("+".to_string(), |mut s, w| {
        s.push_str(&"-".repeat(w + 2));
        s.push('+');
        s
    });
    let mut out = String::new();
    out.push_str(&line);
    out.push('\n');
    out.push('|');
    for (h, w) in header.iter().zip(&widths) {
        let gap = w - h.chars().count();
        let left = gap / 2;
        out.push_str(&format!(
            " {}{h}{} |",
            " ".repeat(left),
            " ".repeat(gap - left)
        ));
    }
    out.push('\n');
    out.push_str(&line);
    out.push('\n');
    for row in &cells {
        let height = row.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..height {
            out.push('|');
            for (lines, w) in row.iter().zip(&widths) {
                let cell = lines.get(i).map_or("", String::as_str);
                out.push_str(&format!(" {cell:>w$} |"));
            }
            out.push('\n');
        }
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// tablewriter v0.0.5 width (`MAX_ROW_WIDTH`) past which a cell wraps.
const TABLE_MAX_WIDTH: usize = 30;

/// A cell's lines as tablewriter v0.0.5 lays them out (`parseDimension` with its defaults, auto-wrap
/// and reflow on): the cell's lines joined by spaces into one paragraph, wrapped to its widest line's
/// width or 30, whichever is smaller ([`wrap_string`]).
fn wrap_cell(s: &str) -> Vec<String> {
    let width = s.split('\n').map(|l| l.chars().count()).max().unwrap_or(0);
    let para = s.split('\n').collect::<Vec<_>>().join(" ");
    wrap_string(&para, width.min(TABLE_MAX_WIDTH))
}

/// tablewriter's `WrapString`: the words (split at every space, so a trailing space leaves an empty
/// last word) broken into lines of at most `lim` columns (or the longest word's width) with minimal
/// raggedness (`WrapWords`: the sum over lines of the squared gap to `lim`, a line too long penalised
/// by 100,000; dynamic programming from the last word back).
fn wrap_string(s: &str, lim: usize) -> Vec<String> {
    let words: Vec<&str> = s.split(' ').collect();
    let widths: Vec<i64> = words.iter().map(|w| w.chars().count() as i64).collect();
    let lim = widths.iter().copied().fold(lim as i64, i64::max);
    let n = words.len();
    // The width of words i..=j on one line, a space between each.
    let span = |i: usize, j: usize| widths[i..=j].iter().sum::<i64>() + (j - i) as i64;
    let mut cost = vec![i64::from(i32::MAX); n];
    let mut next = vec![n; n];
    for i in (0..n).rev() {
        if span(i, n - 1) <= lim {
            cost[i] = 0;
            next[i] = n;
            continue;
        }
        for j in i + 1..n {
            let d = lim - span(i, j - 1);
            let mut c = d * d + cost[j];
            if span(i, j - 1) > lim {
                c += 100_000;
            }
            if c < cost[i] {
                cost[i] = c;
                next[i] = j;
            }
        }
    }
    let mut lines = Vec::new();
    let mut i = 0;
    while i < n {
        lines.push(words[i..next[i]].join(" "));
        i = next[i];
    }
    lines
}

/// go-humanize `Bytes` (SI units, as etcdctl prints DB SIZE): `82 B`, `20 kB`, `5.2 MB`.
pub fn humanize_bytes(n: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1000f64.ln()).floor();
    let val = ((n as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    let suffix = SIZES[e as usize];
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

/// Go's `time.Duration.String()` for the `took = ...` of `endpoint health`: `3.345431ms`, `1.2s`.
pub fn go_duration(ns: Nanos) -> String {
    fn trim(whole: u64, frac: u64, digits: usize, unit: &str) -> String {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            format!("{whole}{unit}")
        } else {
            format!("{whole}.{f}{unit}")
        }
    }
    match ns {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => trim(n / 1_000, n % 1_000, 3, "µs"),
        n if n < SEC => trim(n / 1_000_000, n % 1_000_000, 6, "ms"),
        n => trim(n / SEC, n % SEC, 9, "s"),
    }
}

/// Go's `text/tabwriter` over tab-separated text, as `kubectl describe` sets it up
/// (`tabwriter.Writer.Init(buf, 0, 8, 2, ' ', 0)` in k/k staging/src/k8s.io/kubectl/pkg/describe
/// describe.go `tabbedString`): a cell is text ended by a tab; the cells of one column are aligned
/// over each run of consecutive lines that have a cell in that column (a line with fewer cells, such
/// as `Spec:`, ends the run), to the widest plus 2; the text after a line's last tab is written as
/// is.
pub fn go_tabwriter(text: &str) -> String {
    const PADDING: usize = 2;
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    // Cells ended by a tab: every part of the line but the last.
    let cells = |l: &Vec<&str>| l.len() - 1;
    let mut widths: Vec<Vec<usize>> = lines.iter().map(|l| vec![0; cells(l)]).collect();
    let columns = lines.iter().map(cells).max().unwrap_or(0);
    for c in 0..columns {
        let mut i = 0;
        while i < lines.len() {
            if cells(&lines[i]) <= c {
                i += 1;
                continue;
            }
            let start = i;
            while i < lines.len() && cells(&lines[i]) > c {
                i += 1;
            }
            let w = lines[start..i]
                .iter()
                .map(|l| l[c].chars().count() + PADDING)
                .max()
                .unwrap_or(0);
            for row in &mut widths[start..i] {
                row[c] = w;
            }
        }
    }
    let mut out = String::new();
    for (l, w) in lines.iter().zip(&widths) {
        for (cell, width) in l.iter().zip(w) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(l[l.len() - 1]);
        out.push('\n');
    }
    out
}

/// A Unix time in nanoseconds as RFC 3339 in UTC: `2026-01-01T00:02:05Z`, or with `micros`
/// Kubernetes' MicroTime layout `2006-01-02T15:04:05.000000Z07:00` (six digits always; k/k
/// staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go `RFC3339Micro`). Dates from
/// Howard Hinnant's `civil_from_days`.
pub fn rfc3339(unix_ns: u64, micros: bool) -> String {
    let secs = unix_ns / SEC;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let clock = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if micros {
        format!("{clock}.{:06}Z", unix_ns % SEC / 1_000)
    } else {
        format!("{clock}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ERRORS cell of etcd's maintenance guide (v3.5 op-guide/maintenance.md, "Space quota"):
    /// tablewriter wraps the 43-column alarm at 30 columns after the member ID, the alarm's trailing
    /// space kept, each line right-aligned, the row's other cells blank on the second line.
    #[test]
    fn a_cell_past_thirty_columns_wraps_as_tablewriter_does() {
        assert_eq!(
            wrap_cell("memberID:13803658152347727308 alarm:NOSPACE "),
            ["memberID:13803658152347727308", "alarm:NOSPACE "]
        );
        assert_eq!(
            wrap_cell("etcdserver: no leader"),
            ["etcdserver: no leader"]
        );
        assert_eq!(wrap_cell(""), [""]);
        let t = ascii_table(
            &["ID", "ERRORS"],
            &[vec![
                "bf9071f4639c75cc".into(),
                "memberID:13803658152347727308 alarm:NOSPACE ".into(),
            ]],
        );
        assert_eq!(
            t,
            "+------------------+-------------------------------+\n\
             |        ID        |            ERRORS             |\n\
             +------------------+-------------------------------+\n\
             | bf9071f4639c75cc | memberID:13803658152347727308 |\n\
             |                  |                alarm:NOSPACE  |\n\
             +------------------+-------------------------------+\n"
        );
        // Minimal raggedness, not greedy: a greedy fill of 6 columns gives `aaa bb`, `cc`, `ddddd`
        // (squared gaps 0 + 16); tablewriter's gives `aaa`, `bb cc`, `ddddd` (9 + 1; a last line
        // that fits costs nothing).
        assert_eq!(wrap_string("aaa bb cc ddddd", 6), ["aaa", "bb cc", "ddddd"]);
    }

    #[test]
    fn go_tabwriter_aligns_runs_of_lines_as_describe_prints_them() {
        // `Spec:` (no tab) ends a run; `Events:` continues the run above it, as in kubectl's
        // `Events:                    <none>` under a Spec block.
        let text = "Name:\tx\nAPI Version:\tv1\nSpec:\n  Lease Duration Seconds:\t15\n  UID:\tu\nEvents:\t<none>\n";
        assert_eq!(
            go_tabwriter(text),
            "Name:         x\nAPI Version:  v1\nSpec:\n  Lease Duration Seconds:  15\n  UID:                     u\nEvents:                    <none>\n"
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0, false), "1970-01-01T00:00:00Z");
        // 2026-01-01T00:00:00Z and a leap day.
        assert_eq!(rfc3339(1_767_225_600 * SEC, false), "2026-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(951_782_400 * SEC + 3_723_000_456_789, true),
            "2000-02-29T01:02:03.000456Z"
        );
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        // Cases from apimachinery's duration_test.go (TestHumanDuration).
        for (s, want) in [
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (60 * 10, "10m"),
            (60 * 47, "47m"),
            (60 * 60 * 3, "3h"),
            (60 * 60 * 4 + 60 * 30, "4h30m"),
            (60 * 60 * 8, "8h"),
            (60 * 60 * 47, "47h"),
            (60 * 60 * 48, "2d"),
            (60 * 60 * 49, "2d1h"),
            (60 * 60 * 24 * 8, "8d"),
            (60 * 60 * 24 * (365 * 2 + 1), "2y1d"),
            (60 * 60 * 24 * 365 * 8, "8y"),
        ] {
            assert_eq!(human_duration(s * SEC), want, "{s}s");
        }
    }

    #[test]
    fn tabwriter_pads_to_the_widest_cell_plus_three() {
        let rows = vec![
            vec!["NAME".into(), "STATUS".into(), "AGE".into()],
            vec!["cp-1".into(), "Ready".into(), "5m".into()],
        ];
        assert_eq!(
            tabwriter(&rows),
            "NAME   STATUS   AGE\ncp-1   Ready    5m\n"
        );
    }

    #[test]
    fn humanize_and_go_durations() {
        assert_eq!(humanize_bytes(82), "82 B");
        assert_eq!(humanize_bytes(20_480), "20 kB");
        assert_eq!(humanize_bytes(5_242_880), "5.2 MB");
        assert_eq!(go_duration(3_345_431), "3.345431ms");
        assert_eq!(go_duration(1_200_000_000), "1.2s");
        assert_eq!(go_duration(5 * SEC), "5s");
    }
}

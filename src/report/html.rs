//! `report.html`: one self-contained page per run (no network, no external scripts, styles or fonts):
//! the timeline SVG inline, a time scrubber showing what kubectl, etcdctl and HAProxy would print at
//! a chosen moment, the verdicts, the summary, the metrics, the faults, the narrated event log with a
//! text filter, and the command that reproduces the run.

use super::svg::{esc, render_svg};
use super::text::{fmt_num, narrate, summary};
use crate::engine::fmt_duration;
use crate::run::Outcome;
use std::fmt::Write;

/// At most this many event-log lines go into the page; the rest are counted and the reader is pointed
/// at `--narrate`.
pub const MAX_LOG_LINES: usize = 50_000;

const STYLE: &str = r##"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px 48px; font: 14px/1.45 "DejaVu Sans", Verdana, Arial, sans-serif;
  color: #222; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.desc { color: #555; margin: 0 0 6px; }
.meta { color: #444; margin: 0; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 10px; font-weight: bold; color: #fff;
  margin-right: 8px; }
.badge.pass { background: #2e7d32; } .badge.fail { background: #c62828; } .badge.none { background: #777; }
pre { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 8px 10px; overflow-x: auto;
  font: 12.5px/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; margin: 0; }
.svgwrap { background: #fff; border: 1px solid #ddd; border-radius: 4px; overflow-x: auto; }
.svgwrap svg { display: block; max-width: 100%; height: auto; }
.svgwrap .lane, .svgwrap .node-lane, .svgwrap .fault { cursor: pointer; }
.svgwrap .lane:hover rect, .svgwrap .node-lane:hover rect { opacity: 0.8; }
.hint { color: #666; font-size: 12px; margin: 4px 0 0; }
table { border-collapse: collapse; background: #fff; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f0f0f0; font-weight: bold; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.pass td.verdict { color: #2e7d32; font-weight: bold; }
tr.fail td.verdict { color: #c62828; font-weight: bold; }
#log-controls { margin: 0 0 8px; display: flex; gap: 12px; align-items: center; }
#filter { width: 360px; padding: 4px 8px; font: inherit; border: 1px solid #bbb; border-radius: 4px; }
#count { color: #666; font-size: 12px; }
#events { font: 12.5px/1.35 "DejaVu Sans Mono", Menlo, Consolas, monospace; width: 100%; }
#events td { border-bottom: 1px solid #f3f3f3; padding: 1px 8px; white-space: pre-wrap; }
#events td.t { text-align: right; color: #666; width: 7em; white-space: nowrap; }
#events tr.fault td { background: #f1e8fb; }
#events tr.leader td { background: #e7eef9; }
#events tr.violation td { background: #fde4e4; color: #b71c1c; font-weight: bold; }
#scrub-controls { display: flex; gap: 10px; align-items: center; margin: 0 0 6px; flex-wrap: wrap; }
#scrub-range { flex: 1 1 400px; }
#scrub-moment { color: #444; font-size: 12px; margin: 0 0 8px; }
#scrub-views .view { margin: 0 0 10px; }
#scrub-views .cmd { font: bold 12.5px/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; margin: 0 0 2px; }
#scrub-views .exit { color: #c62828; font-weight: normal; }
#scrub-views .err { color: #b71c1c; }
#scrub-views .note { color: #777; font-style: italic; }
.omitted { color: #666; font-style: italic; }
"##;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  var input = document.getElementById("filter");
  var count = document.getElementById("count");
  var table = document.getElementById("events");
  if (!input || !count || !table) { return; }
  var rows = Array.prototype.slice.call(table.getElementsByTagName("tr"));
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  function apply() {
    var q = input.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var show = q === "" || texts[i].indexOf(q) >= 0;
      rows[i].style.display = show ? "" : "none";
      if (show) { shown++; }
    }
    count.textContent = shown + " of " + rows.length + " lines";
  }
  function filterTo(text) {
    input.value = text;
    apply();
    var log = document.getElementById("log");
    if (log && log.scrollIntoView) { log.scrollIntoView(); }
  }
  input.addEventListener("input", apply);
  var lanes = document.querySelectorAll("#timeline .lane, #timeline .node-lane");
  Array.prototype.forEach.call(lanes, function (g) {
    g.addEventListener("click", function () { filterTo(g.getAttribute("data-proc") || g.getAttribute("data-node") || ""); });
  });
  var faults = document.querySelectorAll("#timeline .fault, #timeline .fault-label");
  Array.prototype.forEach.call(faults, function (g) {
    g.addEventListener("click", function () { filterTo("fault #" + g.getAttribute("data-fault") + " "); });
  });
  apply();
})();
"##;

/// The time scrubber: unpacks the embedded views (zlib, base64) with the browser's own
/// `DecompressionStream`, then shows the last captured moment at or before the slider's time, a
/// click on the timeline's time axis or bands, or the page's `#t=SECONDS` fragment, with a cursor
/// line on the timeline.
const SCRUB_SCRIPT: &str = r##"
(function () {
  "use strict";
  var data = document.getElementById("scrub-data");
  var status = document.getElementById("scrub-status");
  if (!data || !status) { return; }
  if (typeof DecompressionStream === "undefined" || typeof Blob === "undefined") {
    status.textContent = "This browser cannot unpack the embedded views (no DecompressionStream); " +
      "use kube-ha-sim inspect FILE --at T instead.";
    return;
  }
  var bin = atob(data.textContent.trim());
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  new Response(stream).text().then(function (json) { start(JSON.parse(json)); }, function (e) {
    status.textContent = "cannot unpack the embedded views: " + e;
  });

  function fmt(ms) {
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h > 0) { return h + "h" + (m % 60 ? (m % 60) + "m" : "") + (s % 60 ? (s % 60) + "s" : ""); }
    if (m > 0) { return m + "m" + (s % 60 ? (s % 60) + "s" : ""); }
    return s + "s";
  }
  // "30", "30s", "1m30s", "2m", "500ms", "1h".
  function parseTime(text) {
    if (/^\d+(\.\d+)?$/.test(text)) { return Math.round(parseFloat(text) * 1000); }
    var re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g, total = 0, m, seen = 0;
    while ((m = re.exec(text)) !== null) {
      seen += m[0].length;
      total += parseFloat(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
    }
    return seen === text.length && seen > 0 ? Math.round(total) : null;
  }

  function start(d) {
    var range = document.getElementById("scrub-range");
    var label = document.getElementById("scrub-time");
    var moment = document.getElementById("scrub-moment");
    var out = document.getElementById("scrub-views");
    var svg = document.querySelector("#timeline svg");
    var cursor = null;
    if (svg) {
      cursor = document.createElementNS("http://www.w3.org/2000/svg", "line");
      cursor.setAttribute("id", "scrub-cursor");
      cursor.setAttribute("y1", "0");
      cursor.setAttribute("y2", svg.getAttribute("height") || "100%");
      cursor.setAttribute("stroke", "#111");
      cursor.setAttribute("stroke-width", "1.5");
      cursor.setAttribute("stroke-dasharray", "4 3");
      cursor.setAttribute("pointer-events", "none");
      svg.appendChild(cursor);
    }
    range.max = String(d.end_ms);
    range.disabled = false;
    var views = d.views.map(function (v) {
      var box = document.createElement("div");
      box.className = "view";
      box.setAttribute("data-view", v[0]);
      var cmd = document.createElement("div");
      cmd.className = "cmd";
      box.appendChild(cmd);
      var pre = document.createElement("pre");
      box.appendChild(pre);
      out.appendChild(box);
      return { command: v[1], cmd: cmd, pre: pre, shown: -1 };
    });
    function show(view, text) {
      view.cmd.textContent = "$ " + view.command;
      if (text[0] !== 0) {
        var exit = document.createElement("span");
        exit.className = "exit";
        exit.textContent = "   (exit " + text[0] + (text[1] > 0 ? ", after " + fmt(text[1]) : "") + ")";
        view.cmd.appendChild(exit);
      }
      view.pre.textContent = "";
      text[2].split("\n").forEach(function (line) {
        if (line === "") { return; }
        var span = document.createElement("span");
        span.className = line[0] === "2" ? "err" : line[0] === "#" ? "note" : "out";
        span.textContent = line.slice(1) + "\n";
        view.pre.appendChild(span);
      });
    }
    function choose(ms) {
      ms = Math.max(0, Math.min(d.end_ms, ms));
      var lo = 0, hi = d.moments.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (d.moments[mid][0] <= ms) { lo = mid + 1; } else { hi = mid; } }
      var m = d.moments[Math.max(0, lo - 1)];
      range.value = String(ms);
      label.textContent = fmt(ms);
      moment.setAttribute("data-at-ms", String(m[0]));
      moment.textContent = "Showing the moment captured at " + m[1] + (m[2] ? " (" + m[2] + ")" : "") +
        ", the last at or before " + fmt(ms) + ".";
      views.forEach(function (v, i) {
        if (v.shown !== m[3][i]) { v.shown = m[3][i]; show(v, d.texts[m[3][i]]); }
      });
      if (cursor) {
        var x = d.axis.x0 + ms / Math.max(1, d.end_ms) * d.axis.cols;
        cursor.setAttribute("x1", String(x));
        cursor.setAttribute("x2", String(x));
      }
    }
    function fromHash() {
      var m = /^#t=(.+)$/.exec(window.location.hash);
      var ms = m ? parseTime(decodeURIComponent(m[1])) : null;
      return ms === null ? null : ms;
    }
    range.addEventListener("input", function () { choose(parseInt(range.value, 10)); });
    window.addEventListener("hashchange", function () { var ms = fromHash(); if (ms !== null) { choose(ms); } });
    if (svg) {
      svg.addEventListener("click", function (e) {
        // Lanes and faults keep their own click (filtering the log); elsewhere a click picks a time.
        if (e.target.closest && e.target.closest(".lane, .fault, .fault-label")) { return; }
        var r = svg.getBoundingClientRect();
        var x = (e.clientX - r.left) * (d.axis.width / r.width);
        if (x < d.axis.x0 || x > d.axis.x0 + d.axis.cols) { return; }
        choose(Math.round((x - d.axis.x0) / d.axis.cols * d.end_ms));
      });
    }
    status.textContent = d.moments.length + " moments captured";
    var initial = fromHash();
    choose(initial === null ? 0 : initial);
  }
})();
"##;

/// Renders the HTML report of a run. `replay_command` is the command line that reproduces it (shown
/// verbatim).
pub fn render_html(o: &Outcome, replay_command: &str) -> String {
    let mut h = String::with_capacity(256 * 1024);
    write_head(&mut h, o);
    write_header(&mut h, o);
    let _ = writeln!(
        h,
        "<section id=\"replay\">\n<h2>Reproduce</h2>\n<pre><code id=\"replay-command\">{}</code></pre>\n</section>",
        esc(replay_command)
    );
    let _ = writeln!(
        h,
        "<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"svgwrap\">\n{}</div>\n\
         <p class=\"hint\">Hover over a lane, band or fault for details; click a lane or a fault to filter the event \
         log.</p>\n</section>",
        render_svg(o)
    );
    write_scrubber(&mut h, o);
    write_expectations(&mut h, o);
    let _ = writeln!(
        h,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<pre>{}</pre>\n</section>",
        esc(&summary(o))
    );
    write_faults(&mut h, o);
    write_metrics(&mut h, o);
    write_log(&mut h, o);
    let _ = write!(
        h,
        "<script>{SCRIPT}</script>\n<script>{SCRUB_SCRIPT}</script>\n</body>\n</html>\n"
    );
    h
}

/// The time scrubber's section: a slider over the run, the moment shown, and the views captured by
/// [`crate::inspect::scrub::capture`] (which continues one run of the same scenario and seed and
/// checks it is this one), embedded compressed; the script above unpacks and shows them.
fn write_scrubber(h: &mut String, o: &Outcome) {
    let _ = writeln!(
        h,
        "<section id=\"scrub\">\n<h2>At a moment: what kubectl, etcdctl and HAProxy show</h2>\n\
         <div id=\"scrub-controls\"><input type=\"range\" id=\"scrub-range\" min=\"0\" max=\"{}\" \
         step=\"1000\" value=\"0\" disabled aria-label=\"time of the run\"> <span id=\"scrub-time\">0s</span> \
         <span id=\"scrub-status\" class=\"hint\">unpacking the views&hellip;</span></div>",
        o.end_ns / crate::engine::MS
    );
    match crate::inspect::scrub::capture(o) {
        Ok(scrub) => {
            let _ = writeln!(
                h,
                "<p id=\"scrub-moment\"></p>\n<div id=\"scrub-views\"></div>\n\
                 <p class=\"hint\">Pick a time with the slider, a click on the timeline (outside the lanes), \
                 or the page address's <code>#t=90</code> / <code>#t=1m30s</code>. Each view is what the tool \
                 prints on the admin's machine at the last captured moment at or before that time ({} moments: \
                 every change of fault, capability, etcd leader, lease holder, VIP and node, and a grid); \
                 red lines go to stderr; grey remarks in parentheses say how long the tool waited. \
                 <code>kube-ha-sim inspect FILE --at T</code> prints any moment.</p>\n\
                 <script type=\"application/octet-stream\" id=\"scrub-data\" data-encoding=\"zlib+base64\">{}</script>\n</section>",
                scrub.moments.len(),
                scrub.encode()
            );
        }
        Err(e) => {
            let _ = writeln!(
                h,
                "<p class=\"omitted\">The views could not be captured: {}</p>\n</section>",
                esc(&e)
            );
        }
    }
}

/// The document head: the title names the scenario and seed; the style is inline (no network).
fn write_head(h: &mut String, o: &Outcome) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>{} (seed {}) \u{2014} kube-ha-sim</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&o.scenario.name),
        o.seed
    );
}

/// The page header: the scenario's name and description, the verdict badge, and what identifies the
/// run (seed, simulated time, events, steady state, trace hash, version).
fn write_header(h: &mut String, o: &Outcome) {
    let (badge, badge_class) = if o.verdicts.is_empty() {
        ("NO EXPECTATIONS", "none")
    } else if o.passed() {
        ("PASS", "pass")
    } else {
        ("FAIL", "fail")
    };
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", esc(&o.scenario.name));
    if !o.scenario.description.is_empty() {
        let _ = writeln!(h, "<p class=\"desc\">{}</p>", esc(&o.scenario.description));
    }
    let steady = match o.warmup_ns {
        Some(w) => format!("steady state after {}", fmt_duration(w)),
        None => "never reached steady state".into(),
    };
    let _ = writeln!(
        h,
        "<p class=\"meta\"><span class=\"badge {badge_class}\" id=\"verdict\">{badge}</span>seed {} \u{00b7} {} simulated \
         \u{00b7} {} events \u{00b7} {} \u{00b7} trace {:016x} \u{00b7} kube-ha-sim {}</p>\n</header>",
        o.seed,
        fmt_duration(o.end_ns),
        o.events,
        esc(&steady),
        o.trace.hash(),
        env!("CARGO_PKG_VERSION")
    );
}

/// The expectations: a row per verdict (metric, bound, actual), and a note when the run fails for
/// never reaching steady state.
fn write_expectations(h: &mut String, o: &Outcome) {
    h.push_str("<section id=\"expectations\">\n<h2>Expectations</h2>\n");
    if o.verdicts.is_empty() {
        h.push_str("<p>The scenario declares no expectations.</p>\n");
    } else {
        h.push_str(
            "<table>\n<tr><th>result</th><th>metric</th><th>bound</th><th>actual</th></tr>\n",
        );
        for v in &o.verdicts {
            let (cls, word) = if v.passed {
                ("pass", "PASS")
            } else {
                ("fail", "FAIL")
            };
            let _ = writeln!(
                h,
                "<tr class=\"{cls}\"><td class=\"verdict\">{word}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(&v.expectation.metric),
                esc(&v.bound_text()),
                v.actual.map(fmt_num).unwrap_or_else(|| "not measured".into())
            );
        }
        h.push_str("</table>\n");
        if o.warmup_ns.is_none() {
            h.push_str("<p>The cluster never reached steady state, so the run fails whatever the metrics say.</p>\n");
        }
    }
    h.push_str("</section>\n");
}

/// The faults as planned: a row per fault (`data-fault` matches the timeline's fault groups).
fn write_faults(h: &mut String, o: &Outcome) {
    h.push_str("<section id=\"faults\">\n<h2>Faults</h2>\n");
    if o.faults.is_empty() {
        h.push_str("<p>No faults were injected.</p>\n");
    } else {
        h.push_str("<table>\n<tr><th>#</th><th>at</th><th>until</th><th>fault</th></tr>\n");
        for (i, f) in o.faults.iter().enumerate() {
            let _ = writeln!(
                h,
                "<tr class=\"fault-row\" data-fault=\"{i}\"><td class=\"num\">{i}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                fmt_duration(f.at_ns),
                f.end_ns.map(fmt_duration).unwrap_or_else(|| "\u{2014}".into()),
                esc(&f.describe())
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");
}

/// Every metric, in name order.
fn write_metrics(h: &mut String, o: &Outcome) {
    h.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n<table>\n<tr><th>metric</th><th>value</th></tr>\n");
    for (k, v) in &o.metrics {
        let _ = writeln!(
            h,
            "<tr data-metric=\"{}\"><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(k),
            esc(k),
            fmt_num(*v)
        );
    }
    h.push_str("</table>\n</section>\n");
}

/// The narrated event log with a filter box, at most [`MAX_LOG_LINES`] lines (a page must stay small
/// enough to open); the rest are counted.
fn write_log(h: &mut String, o: &Outcome) {
    let story = narrate(o);
    let lines: Vec<&str> = story.lines().collect();
    h.push_str(
        "<section id=\"log\">\n<h2>Event log</h2>\n<div id=\"log-controls\"><input id=\"filter\" type=\"search\" \
         placeholder=\"filter, e.g. cp-1/etcd, leader, fault #0\" aria-label=\"filter the event log\">\
         <span id=\"count\"></span></div>\n<table id=\"events\">\n",
    );
    for line in lines.iter().take(MAX_LOG_LINES) {
        let (t, text) = line.trim_start().split_once("  ").unwrap_or(("", line));
        let text = text.trim_start();
        let _ = writeln!(
            h,
            "<tr class=\"{}\"><td class=\"t\">{}</td><td>{}</td></tr>",
            log_class(text),
            esc(t),
            esc(text)
        );
    }
    h.push_str("</table>\n");
    if lines.len() > MAX_LOG_LINES {
        let _ = writeln!(
            h,
            "<p class=\"omitted\">{} more lines are not shown; run with --narrate for the whole story.</p>",
            lines.len() - MAX_LOG_LINES
        );
    }
    h.push_str("</section>\n");
}

/// The row class of a log line, which the style highlights: violations, faults, leadership changes.
fn log_class(text: &str) -> &'static str {
    if text.starts_with("INVARIANT VIOLATED") {
        "violation"
    } else if text.starts_with("fault #") {
        "fault"
    } else if text.contains("became etcd leader") || text.contains("acquired its lease") {
        "leader"
    } else {
        "ev"
    }
}

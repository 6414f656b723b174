//! The rendered reports (issue 6): the timeline SVG and PNG, the comparison SVG, the self-contained HTML
//! report, and the HTML in a headless Chromium when one is installed.

use kube_ha_sim::engine::{Nanos, HOUR};
use kube_ha_sim::observe::timeline::timelines;
use kube_ha_sim::observe::{Trace, TraceKind};
use kube_ha_sim::report::{html, png, svg, text};
use kube_ha_sim::run::{run, Outcome};
use kube_ha_sim::scenario::parse_scenario;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"{"name":"t","duration":"2m","topology":{"etcd":"stacked","control_plane_nodes":3},
  "load":{"target":"etcd"},"faults":[{"at":"30s","kind":"crash","target":"leader:etcd","for":"20s"}]}"#;

/// The same run with one expectation that holds and one that fails.
const SCENARIO_EXPECT: &str = r#"{"name":"t-expect","duration":"2m","topology":{"etcd":"stacked","control_plane_nodes":3},
  "load":{"target":"etcd"},"faults":[{"at":"30s","kind":"crash","target":"leader:etcd","for":"20s"}],
  "expect":[{"metric":"etcd_quorum.availability","at_least":0.5},{"metric":"etcd.leader_changes","at_most":0}]}"#;

const REPLAY: &str = "kube-ha-sim run scenarios/t.json --seed 1";

fn outcome_of(text: &str, seed: u64) -> Outcome {
    let s = parse_scenario(text, "t.json").expect("the scenario parses");
    run(&s, seed).expect("the scenario runs")
}

fn outcome() -> Outcome {
    outcome_of(SCENARIO, 1)
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kube-ha-sim-render-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch folder");
    d
}

fn class_is(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|w| w == class))
}

fn elements_with_class<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    class: &str,
) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.is_element() && class_is(n, class))
        .collect()
}

fn num_attr(n: &roxmltree::Node, a: &str) -> f64 {
    n.attribute(a)
        .unwrap_or_else(|| panic!("<{}> has no {a}", n.tag_name().name()))
        .parse()
        .expect("a number")
}

fn rects<'a, 'i>(n: &roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.descendants().filter(|c| c.has_tag_name("rect")).collect()
}

fn title_of(n: &roxmltree::Node) -> String {
    n.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_string()
}

/// The plot's horizontal extent: where the lanes start and end.
fn plot_extent(doc: &roxmltree::Document) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for lane in elements_with_class(doc, "lane") {
        for r in rects(&lane) {
            lo = lo.min(num_attr(&r, "x"));
            hi = hi.max(num_attr(&r, "x") + num_attr(&r, "width"));
        }
    }
    (lo, hi)
}

#[test]
fn svg_has_a_lane_per_process_a_band_per_capability_and_a_region_per_fault() {
    let o = outcome();
    let s = svg::render_svg(&o);
    let doc = roxmltree::Document::parse(&s).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );

    // One lane per process, named after it, in layout order.
    let lanes = elements_with_class(&doc, "lane");
    let names: Vec<&str> = lanes
        .iter()
        .filter_map(|l| l.attribute("data-proc"))
        .collect();
    let expected: Vec<&str> = o.layout.procs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, expected);
    assert!(names.contains(&"cp-1/etcd") && names.contains(&"cp-3/kube-apiserver"));
    assert_eq!(s.matches("class=\"lane\"").count(), o.layout.procs.len());

    // Every lane covers the whole plot: pixel columns are all painted, none twice.
    let (lo, hi) = plot_extent(&doc);
    assert!(hi - lo > 500.0, "the plot is wide: {lo}..{hi}");
    for lane in &lanes {
        let covered: f64 = rects(lane).iter().map(|r| num_attr(r, "width")).sum();
        assert!(
            (covered - (hi - lo)).abs() < 0.5,
            "{:?} covers {covered}",
            lane.attribute("data-proc")
        );
    }

    // One band per capability in the timelines, with the ones this run has.
    let bands: Vec<&str> = elements_with_class(&doc, "band")
        .iter()
        .filter_map(|b| b.attribute("data-cap"))
        .collect();
    let caps: Vec<&str> = o.timelines.iter().map(|t| t.capability.name()).collect();
    assert_eq!(bands, caps);
    for cap in ["api", "etcd_quorum"] {
        assert!(bands.contains(&cap), "band {cap} missing from {bands:?}");
    }

    // One shaded region per fault, where the fault was: 30s to 50s of 120s.
    let faults = elements_with_class(&doc, "fault");
    assert_eq!(faults.len(), o.faults.len());
    assert_eq!(faults[0].attribute("data-fault"), Some("0"));
    let shade = rects(&faults[0])[0];
    let x = num_attr(&shade, "x");
    let w = num_attr(&shade, "width");
    let at = |secs: f64| lo + (hi - lo) * secs / 120.0;
    assert!(
        (x - at(30.0)).abs() < 2.0,
        "fault starts at x={x}, expected {}",
        at(30.0)
    );
    assert!(
        (x + w - at(50.0)).abs() < 2.0,
        "fault ends at x={}, expected {}",
        x + w,
        at(50.0)
    );
    assert!(
        title_of(&faults[0]).contains("crash"),
        "{}",
        title_of(&faults[0])
    );
    assert!(s.contains("#0 crash leader:etcd"), "the fault is labelled");

    // The crashed member's lane is down during the fault.
    let crashed = &o.faults[0].resolved;
    let lane = lanes
        .iter()
        .find(|l| l.attribute("data-proc") == Some(crashed.as_str()))
        .unwrap_or_else(|| panic!("no lane for the crashed {crashed}"));
    assert!(
        rects(lane).iter().any(|r| {
            let rx = num_attr(r, "x");
            title_of(r).starts_with("down") && rx >= at(29.0) && rx <= at(31.0)
        }),
        "{crashed} is not shown down at 30s"
    );

    // Leader elections are marked with their terms.
    let marks: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polygon"))
        .map(|n| title_of(&n))
        .filter(|t| t.contains("became etcd leader"))
        .collect();
    let elected = o
        .trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::EtcdRole { role, .. } if role.name() == "leader"))
        .count();
    assert!(elected >= 2, "the crash forces a new election");
    assert!(!marks.is_empty() && marks.len() <= elected, "{marks:?}");
    assert!(marks.iter().any(|m| m.contains("(term ")), "{marks:?}");

    // The API chart and the legend.
    assert!(s.contains("data-chart=\"success\"") && s.contains("data-chart=\"latency-p99\""));
    assert_eq!(elements_with_class(&doc, "legend").len(), 1);
    for word in ["leader", "standby", "unready", "down", "fault"] {
        assert!(
            s.contains(&format!(">{word}</text>")),
            "the legend names {word}"
        );
    }
}

#[test]
fn svg_is_deterministic() {
    assert_eq!(svg::render_svg(&outcome()), svg::render_svg(&outcome()));
}

#[test]
fn png_is_written_atomically_and_is_not_blank() {
    let o = outcome();
    let dir = scratch("png");
    let path = dir.join("timeline.png");
    png::render_png(&o, &path).expect("the PNG renders");
    let img = image::open(&path).expect("the PNG decodes").to_rgb8();
    let doc_text = svg::render_svg(&o);
    let doc = roxmltree::Document::parse(&doc_text).expect("svg");
    let w: f64 = num_attr(&doc.root_element(), "width");
    let h: f64 = num_attr(&doc.root_element(), "height");
    assert_eq!(
        (img.width(), img.height()),
        (w as u32, h as u32),
        "the PNG is the SVG's size"
    );
    let mut colours = BTreeSet::new();
    let mut non_white = 0usize;
    for p in img.pixels() {
        colours.insert(p.0);
        if p.0 != [255, 255, 255] {
            non_white += 1;
        }
    }
    let total = (img.width() * img.height()) as usize;
    assert!(colours.len() > 20, "only {} colours", colours.len());
    assert!(
        non_white * 5 > total,
        "only {non_white} of {total} pixels are drawn"
    );
    // Text is drawn too (anti-aliased glyphs of the embedded font give many grey levels).
    let greys = colours
        .iter()
        .filter(|c| c[0] == c[1] && c[1] == c[2])
        .count();
    assert!(greys > 20, "no anti-aliased text: {greys} grey levels");
    // Nothing but the picture is left in the folder.
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files, vec![std::ffi::OsString::from("timeline.png")]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_svg_stacks_two_runs_and_highlights_metric_differences() {
    let a = outcome();
    // B crashes the etcd leader a second time, at 80s: one more leader change at least.
    let second = r#"{"at":"30s","kind":"crash","target":"leader:etcd","for":"20s"},
        {"at":"80s","kind":"crash","target":"leader:etcd","for":"20s"}"#;
    let b = outcome_of(
        &SCENARIO.replace(
            r#"{"at":"30s","kind":"crash","target":"leader:etcd","for":"20s"}"#,
            second,
        ),
        1,
    );
    assert_eq!(b.faults.len(), 2);
    let s = svg::render_compare_svg(&[(&a, "one crash"), (&b, "two crashes")]);
    let doc = roxmltree::Document::parse(&s).expect("the comparison is well-formed XML");
    let runs: Vec<&str> = elements_with_class(&doc, "run")
        .iter()
        .filter_map(|r| r.attribute("data-run"))
        .collect();
    assert_eq!(runs, vec!["a", "b"]);
    assert_eq!(
        elements_with_class(&doc, "lane").len(),
        a.layout.procs.len() + b.layout.procs.len()
    );
    let faults = elements_with_class(&doc, "fault");
    assert_eq!(faults.len(), 3);
    // One time axis: fault #0 starts at 30s in both runs, so at the same x.
    let x_of = |run: &str| {
        faults
            .iter()
            .find(|f| {
                f.attribute("data-run") == Some(run) && f.attribute("data-fault") == Some("0")
            })
            .map(|f| num_attr(&rects(f)[0], "x"))
            .unwrap_or_else(|| panic!("no fault #0 in run {run}"))
    };
    assert!((x_of("a") - x_of("b")).abs() < 0.01);
    assert!(s.contains("one crash") && s.contains("two crashes"));
    // Every metric has a row; the ones that differ are highlighted.
    let rows = elements_with_class(&doc, "metric");
    let named: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.attribute("data-metric"))
        .collect();
    for k in a.metrics.keys().chain(b.metrics.keys()) {
        assert!(named.contains(k.as_str()), "no row for {k}");
    }
    let diffs: Vec<&str> = elements_with_class(&doc, "diff")
        .iter()
        .filter_map(|r| r.attribute("data-metric"))
        .collect();
    assert!(
        !diffs.is_empty(),
        "a 40s crash differs from a 20s one somewhere"
    );
    for d in &diffs {
        if let (Some(x), Some(y)) = (a.metrics.get(*d), b.metrics.get(*d)) {
            assert_ne!(x, y, "{d} is highlighted but equal");
        }
    }
    // A run compared with itself differs nowhere.
    let same = svg::render_compare_svg(&[(&a, "a"), (&a, "a")]);
    assert!(!same.contains("class=\"metric diff\""));
    let dir = scratch("compare-png");
    png::render_compare_png(
        &[(&a, "one crash"), (&b, "two crashes")],
        &dir.join("compare.png"),
    )
    .expect("compare PNG");
    assert!(image::open(dir.join("compare.png")).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `src=`/`href=` value in a page (quoted either way).
fn links(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = page.to_ascii_lowercase();
    for attr in ["src=", "href="] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(attr) {
            let start = from + i + attr.len();
            let rest = &page[start..];
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
                _ => rest
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            out.push(value.to_string());
            from = start;
        }
    }
    out
}

#[test]
fn html_report_is_self_contained_and_complete() {
    let o = outcome_of(SCENARIO_EXPECT, 1);
    let page = html::render_html(&o, REPLAY);
    assert!(page.starts_with("<!DOCTYPE html>"));
    // No network: no external scripts, styles, fonts or images.
    for l in links(&page) {
        let l = l.trim().to_ascii_lowercase();
        assert!(
            !(l.starts_with("http:") || l.starts_with("https:") || l.starts_with("//")),
            "external link {l}"
        );
    }
    let lower = page.to_ascii_lowercase();
    for bad in [
        "<script src",
        "rel=\"stylesheet\"",
        "@import",
        "url(http",
        "@font-face",
    ] {
        assert!(!lower.contains(bad), "the page contains {bad}");
    }
    // The replay command, verbatim.
    assert!(page.contains(&format!("<code id=\"replay-command\">{REPLAY}</code>")));
    // The timeline inline, with its lanes.
    assert_eq!(page.matches("<svg ").count(), 1);
    assert_eq!(page.matches("class=\"lane\"").count(), o.layout.procs.len());
    // The expectations with their verdicts.
    assert!(page.contains(
        "<tr class=\"pass\"><td class=\"verdict\">PASS</td><td>etcd_quorum.availability</td>"
    ));
    assert!(page.contains(
        "<tr class=\"fail\"><td class=\"verdict\">FAIL</td><td>etcd.leader_changes</td>"
    ));
    assert!(page.contains("id=\"verdict\">FAIL<"));
    // The metrics, the faults and the summary.
    for k in o.metrics.keys() {
        assert!(
            page.contains(&format!("data-metric=\"{k}\"")),
            "metric {k} missing"
        );
    }
    assert!(page.contains("class=\"fault-row\" data-fault=\"0\""));
    assert!(page.contains("what broke (after warm-up)"));
    // The narrated log: every line of the story, and the filter.
    let story = text::narrate(&o);
    assert!(story.lines().count() > 5);
    for line in story.lines() {
        let (_, words) = line
            .trim_start()
            .split_once("  ")
            .expect("time, then words");
        let words = words
            .trim_start()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let words = words.replace('"', "&quot;").replace('\'', "&#39;");
        assert!(page.contains(&words), "log line missing: {line}");
    }
    assert!(page.contains("fault #0 started"));
    assert!(page.contains("<input id=\"filter\" type=\"search\""));
    assert!(page.contains("<script>") && page.trim_end().ends_with("</html>"));
}

#[test]
fn html_escapes_what_it_shows() {
    let o = outcome();
    let page = html::render_html(&o, "kube-ha-sim run 'a <b>&c.json' --seed 1");
    assert!(page.contains("kube-ha-sim run &#39;a &lt;b&gt;&amp;c.json&#39; --seed 1"));
    assert!(!page.contains("<b>&c"));
}

/// A 6-hour outcome made by repeating the 2-minute run 180 times, with its faults.
fn six_hours() -> Outcome {
    let base = outcome();
    let chunk = base.end_ns;
    let reps = (6 * HOUR / chunk) as usize;
    let mut trace = Trace::new();
    let mut faults = Vec::new();
    for k in 0..reps {
        let off = k as Nanos * chunk;
        for e in &base.trace.events {
            let kind = match &e.kind {
                TraceKind::Fault { index, start } => TraceKind::Fault {
                    index: (k * base.faults.len()) as u16 + index,
                    start: *start,
                },
                other => other.clone(),
            };
            trace.push(e.time_ns + off, kind);
        }
        for r in &base.trace.requests {
            let mut r = *r;
            r.sent_ns += off;
            trace.request(r);
        }
        for f in &base.faults {
            let mut f = f.clone();
            f.at_ns += off;
            f.end_ns = f.end_ns.map(|e| e + off);
            faults.push(f);
        }
    }
    let end_ns = reps as Nanos * chunk;
    Outcome {
        timelines: timelines(&trace, end_ns),
        trace,
        faults,
        end_ns,
        ..base
    }
}

#[test]
fn a_six_hour_run_aggregates_and_stays_small() {
    let o = six_hours();
    assert_eq!(o.end_ns, 6 * HOUR);
    assert!(o.trace.requests.len() > 100_000);
    let t = Instant::now();
    let s = svg::render_svg(&o);
    let svg_time = t.elapsed();
    let dir = scratch("six-hours");
    let t = Instant::now();
    png::render_png(&o, &dir.join("t.png")).expect("png");
    let png_time = t.elapsed();
    let t = Instant::now();
    let page = html::render_html(&o, REPLAY);
    let html_time = t.elapsed();
    eprintln!(
        "6h: svg {svg_time:?} ({} bytes), png {png_time:?}, html {html_time:?} ({} bytes)",
        s.len(),
        page.len()
    );
    // Speed is measured by `kube-ha-sim bench`, not asserted here.
    // Sub-pixel intervals are aggregated: the picture does not grow with the run.
    assert!(s.len() < 3_000_000, "the SVG is {} bytes", s.len());
    let doc = roxmltree::Document::parse(&s).expect("the 6-hour SVG is well-formed");
    let (lo, hi) = plot_extent(&doc);
    for lane in elements_with_class(&doc, "lane") {
        assert!(rects(&lane).len() <= (hi - lo) as usize);
    }
    assert_eq!(elements_with_class(&doc, "fault").len(), o.faults.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a command with a deadline; returns (status ok, stdout, stderr).
fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Option<(bool, String, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read = |p: Option<std::process::ChildStdout>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = std::io::Read::read_to_string(&mut p, &mut s);
            }
            s
        })
    };
    let out_t = read(out);
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = err {
            let _ = std::io::Read::read_to_string(&mut p, &mut s);
        }
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    Some((status.is_some_and(|s| s.success()), out, err))
}

fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("/usr/bin/chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    c
}

/// Lines of Chromium's log that report a problem with the page itself.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains(":CONSOLE") || l.contains("Refused to"))
        .collect()
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "/usr/bin/chromium is not installed (apt-get install chromium; .ci/run installs it)"
)]
fn html_report_renders_in_headless_chromium() {
    let o = outcome();
    let dir = scratch("chromium");
    let report = dir.join("report.html");
    std::fs::write(&report, html::render_html(&o, REPLAY)).expect("write the report");
    let url = format!("file://{}", report.display());

    // The DOM after the page's script ran.
    let Some((ok, dom, err)) = run_with_deadline(
        chromium(&dir.join("profile-dom"))
            .arg("--dump-dom")
            .arg(&url),
        Duration::from_secs(90),
    ) else {
        panic!("chromium is installed but could not be started (or hung for 90 s)");
    };
    assert!(ok, "chromium --dump-dom failed: {err}");
    assert!(
        page_errors(&err).is_empty(),
        "the page logged errors: {:?}",
        page_errors(&err)
    );
    assert_eq!(
        dom.matches("class=\"lane\"").count(),
        o.layout.procs.len(),
        "lanes in the DOM"
    );
    for p in &o.layout.procs {
        assert!(
            dom.contains(&format!("data-proc=\"{}\"", p.name)),
            "no lane for {}",
            p.name
        );
    }
    let lines = text::narrate(&o).lines().count();
    // The filter script ran: it counted the log lines.
    assert!(
        dom.contains(&format!(
            "<span id=\"count\">{lines} of {lines} lines</span>"
        )),
        "the filter script did not run"
    );

    // A screenshot that is not blank.
    let shot = dir.join("shot.png");
    let (ok, _, err) = run_with_deadline(
        chromium(&dir.join("profile-shot"))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url),
        Duration::from_secs(90),
    )
    .expect("chromium starts");
    assert!(ok, "chromium --screenshot failed: {err}");
    assert!(
        page_errors(&err).is_empty(),
        "the page logged errors: {:?}",
        page_errors(&err)
    );
    let img = image::open(&shot)
        .expect("the screenshot decodes")
        .to_rgb8();
    let colours: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 20,
        "the screenshot is blank ({} colours)",
        colours.len()
    );
    let green = img
        .pixels()
        .filter(|p| p.0[1] > 150 && p.0[0] < 120 && p.0[2] < 120)
        .count();
    assert!(
        green > 10_000,
        "the timeline's green lanes are not on screen ({green} pixels)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_page_error_filter_catches_script_errors() {
    // The format Debian's Chromium 13x prints.
    let log = "[1:1:1124/101650.639911:INFO:CONSOLE:1] \"Uncaught ReferenceError: foo is not defined\", source: file:///r.html (1)";
    assert_eq!(page_errors(log).len(), 1);
    // Older builds print CONSOLE(line).
    let log = "[1:1:0101/000000.000:INFO:CONSOLE(3)] \"x\", source: file:///r.html (3)";
    assert_eq!(page_errors(log).len(), 1);
    assert!(page_errors("[1:1:ERROR:dbus/bus.cc:405] Failed to connect to the bus").is_empty());
}

#[test]
fn the_vip_holder_has_a_band_and_many_workers_are_summarised_by_zone() {
    // issue 17: the lost VIP was invisible in the picture, and 500 workers made it 16,887 px tall.
    let o = outcome_of(
        r#"{"name":"v","duration":"3m","topology":{"etcd":"stacked","control_plane_nodes":3,"workers":30,
             "zones":["a","b","c"],"load_balancers":2},
            "faults":[{"at":"60s","kind":"crash","target":"vip-holder","for":"60s"}]}"#,
        1,
    );
    let s = svg::render_svg(&o);
    let doc = roxmltree::Document::parse(&s).unwrap();
    let bands: Vec<&str> = elements_with_class(&doc, "band")
        .iter()
        .filter_map(|b| b.attribute("data-cap"))
        .collect();
    assert!(bands.contains(&"vip-holder"), "{bands:?}");
    // The holder's name is written on the band, and the VIP moved to the other load balancer.
    assert!(
        s.contains(">lb-1<") && s.contains(">lb-2<"),
        "both holders named"
    );
    let zones: Vec<&str> = elements_with_class(&doc, "zone-workers")
        .iter()
        .filter_map(|l| l.attribute("data-zone"))
        .collect();
    assert_eq!(zones, ["a", "b", "c"]);
    let worker_lanes = elements_with_class(&doc, "lane")
        .iter()
        .filter(|l| {
            l.attribute("data-node")
                .is_some_and(|n| n.starts_with("worker-"))
        })
        .count();
    assert_eq!(worker_lanes, 0, "no lane per worker above the limit");
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 1200.0, "{height}");
}

/// The titles of the state rectangles of the first element with `class` and attribute `attr` = `value`
/// (one per run of equal pixel columns, "STATE FROM – TO"), in time order.
fn state_titles(doc: &roxmltree::Document, class: &str, attr: &str, value: &str) -> Vec<String> {
    let lane = elements_with_class(doc, class)
        .into_iter()
        .find(|l| l.attribute(attr) == Some(value))
        .unwrap_or_else(|| panic!("no {class} with {attr}={value}"));
    rects(&lane)
        .iter()
        .map(|r| title_of(r))
        .filter(|t| !t.is_empty())
        .collect()
}

/// The state names (the title up to its time span) of a lane, without repeats.
fn states(titles: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in titles {
        let name = t
            .rsplit_once(" \u{2013} ")
            .and_then(|(a, _)| a.rsplit_once(' '))
            .map(|(a, _)| a.to_string())
            .unwrap_or_default();
        if out.last() != Some(&name) {
            out.push(name);
        }
    }
    out
}

#[test]
fn node_lanes_show_ready_then_tainted_when_a_worker_crashes_and_pods_are_counted() {
    // issue 17: the picture had no node Ready/Unknown/taint lane and no pod counts.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/worker-crash.json"),
    )
    .unwrap();
    let o = outcome_of(&text, 7);
    let s = svg::render_svg(&o);
    let doc = roxmltree::Document::parse(&s).unwrap();
    let lanes: Vec<&str> = elements_with_class(&doc, "node-state")
        .iter()
        .filter_map(|l| l.attribute("data-node"))
        .collect();
    // Every node with a kubelet has a lane; the load balancer host registers no Node object.
    assert_eq!(
        lanes,
        ["cp-1", "cp-2", "cp-3", "worker-1", "worker-2", "worker-3"]
    );
    // worker-1 crashes at 2m: Ready, then (after the grace period) tainted unreachable for good.
    let crashed = states(&state_titles(&doc, "node-state", "data-node", "worker-1"));
    assert_eq!(
        crashed.first().map(String::as_str),
        Some("Ready"),
        "{crashed:?}"
    );
    assert_eq!(
        crashed.last().map(String::as_str),
        Some("tainted unreachable:NoExecute"),
        "{crashed:?}"
    );
    let tainted_at = state_titles(&doc, "node-state", "data-node", "worker-1")
        .into_iter()
        .find(|t| t.starts_with("tainted"))
        .unwrap();
    // Not before the crash plus the node monitor grace period.
    assert!(
        !tainted_at.contains("tainted unreachable:NoExecute 1m"),
        "{tainted_at}"
    );
    let survivor = states(&state_titles(&doc, "node-state", "data-node", "worker-2"));
    assert_eq!(survivor, ["Ready"], "a healthy worker stays Ready");
    // Pod counts: worker-1's kubelet loses its pods; the survivors take the replacements.
    assert!(
        s.contains(">0 pods<") && s.contains(">3 pods<"),
        "pod counts"
    );
    // The workload's band: all six ready, then some, then all six again.
    let web = states(&state_titles(&doc, "workload-pods", "data-workload", "web"));
    let ups: Vec<&str> = web
        .iter()
        .map(String::as_str)
        .skip_while(|s| *s != "up")
        .collect();
    assert_eq!(ups, ["up", "unready", "up"], "{web:?}");
    assert!(s.contains(">4/6<") && s.contains(">6/6<"));
    // The legend names the new colour and the alert bands' colours (the run fires alerts).
    let legend = elements_with_class(&doc, "legend");
    let words: String = legend[0]
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|");
    for item in ["tainted", "alert pending", "alert firing", "unready"] {
        assert!(
            words.split('|').any(|w| w == item),
            "{item} missing in {words}"
        );
    }
}

#[test]
fn summarised_workers_get_a_node_lane_per_zone_that_follows_the_worst_node() {
    let o = outcome_of(
        r#"{"name":"z","duration":"2m30s","topology":{"etcd":"stacked","control_plane_nodes":3,
             "workers":30,"zones":["a","b","c"],"load_balancers":2},
            "workloads":[{"name":"web","replicas":20}],
            "faults":[{"at":"40s","kind":"crash","target":"worker-1"}]}"#,
        1,
    );
    let s = svg::render_svg(&o);
    let doc = roxmltree::Document::parse(&s).unwrap();
    let zones: Vec<&str> = elements_with_class(&doc, "node-state")
        .iter()
        .filter_map(|l| l.attribute("data-zone"))
        .collect();
    assert_eq!(zones, ["a", "b", "c"]);
    let per_worker = elements_with_class(&doc, "node-state")
        .iter()
        .filter(|l| {
            l.attribute("data-node")
                .is_some_and(|n| n.starts_with("worker-"))
        })
        .count();
    assert_eq!(per_worker, 0, "no node lane per worker above the limit");
    // worker-1 is in zone a: its lane turns tainted; zone b's stays Ready.
    let a = states(&state_titles(&doc, "node-state", "data-zone", "a"));
    assert_eq!(a, ["Ready", "tainted unreachable:NoExecute"]);
    let b = states(&state_titles(&doc, "node-state", "data-zone", "b"));
    assert_eq!(b, ["Ready"]);
}

/// Two of three stacked control-plane nodes die at 60 s for 40 s: etcd loses quorum, kubectl gets
/// a Timeout where it listed three Ready nodes before.
const QUORUM_LOST: &str = r#"{"name":"q","duration":"2m","topology":{"etcd":"stacked","control_plane_nodes":3},
  "faults":[{"at":"60s","kind":"crash","target":"cp-1","for":"40s"},{"at":"60s","kind":"crash","target":"cp-2","for":"40s"}]}"#;

/// The time scrubber's data as the page embeds it, unpacked.
fn scrub_json(page: &str) -> serde_json::Value {
    let open = "id=\"scrub-data\" data-encoding=\"zlib+base64\">";
    let start = page.find(open).expect("the page embeds the views") + open.len();
    let len = page[start..].find("</script>").expect("closed");
    let json = kube_ha_sim::inspect::scrub::decode(&page[start..start + len]).expect("it unpacks");
    serde_json::from_str(&json).expect("it is JSON")
}

/// The text a view showed at the last moment at or before `at_ms`, from the embedded data, and
/// the tool's exit code.
fn shown_at(d: &serde_json::Value, view: &str, at_ms: u64) -> (String, i64) {
    let v = d["views"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v[0] == view)
        .expect("the view is there");
    let moments = d["moments"].as_array().unwrap();
    let m = moments
        .iter()
        .rev()
        .find(|m| m[0].as_u64().unwrap() <= at_ms)
        .unwrap_or(&moments[0]);
    let text = &d["texts"][m[3][v].as_u64().unwrap() as usize];
    (
        text[2].as_str().unwrap().to_string(),
        text[0].as_i64().unwrap(),
    )
}

#[test]
fn the_time_scrubber_embeds_the_views_at_each_change_and_on_a_grid() {
    use kube_ha_sim::inspect::scrub::{capture, MAX_MOMENTS};
    use kube_ha_sim::inspect::{print, Moment, View};
    let o = outcome_of(QUORUM_LOST, 1);
    let t = Instant::now();
    let page = html::render_html(&o, REPLAY);
    let render = t.elapsed();
    let d = scrub_json(&page);
    let start = page.find("id=\"scrub-data\"").unwrap();
    let embedded = page[start..].find("</script>").unwrap();
    eprintln!(
        "2m quorum-lost run: page {} bytes, embedded views {embedded} bytes, {} moments, {} texts, rendered in {render:?}",
        page.len(),
        d["moments"].as_array().unwrap().len(),
        d["texts"].as_array().unwrap().len()
    );
    // Byte-identical for the same scenario and seed.
    assert_eq!(page, html::render_html(&o, REPLAY), "not deterministic");
    // The views in their order, the moments from 0 to the end, ordered, bounded, with the faults.
    let names: Vec<&str> = d["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_str().unwrap())
        .collect();
    assert_eq!(names, View::ALL.map(View::name));
    let moments = d["moments"].as_array().unwrap();
    let times: Vec<u64> = moments.iter().map(|m| m[0].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert_eq!((times[0], *times.last().unwrap()), (0, 120_000));
    assert!(
        moments.len() <= MAX_MOMENTS && moments.len() > 24,
        "{}",
        moments.len()
    );
    let at_60 = moments
        .iter()
        .find(|m| m[0] == 60_000)
        .expect("a moment at the faults' start");
    assert!(
        at_60[2].as_str().unwrap().contains("fault #0 started"),
        "{at_60}"
    );
    assert!(moments
        .iter()
        .any(|m| m[2].as_str().unwrap().contains("etcd_quorum down")));
    // kubectl get nodes: three Ready nodes before the fault, a Timeout (and its wait) during it.
    let (before, exit) = shown_at(&d, "nodes", 30_000);
    assert_eq!(exit, 0);
    assert_eq!(
        before.matches("   Ready    control-plane   30s   ").count(),
        3,
        "{before}"
    );
    let (during, exit) = shown_at(&d, "nodes", 70_000);
    assert_eq!(exit, 1);
    // The request timeout, after HAProxy's connect timeouts to whichever dead backends its round
    // robin tries first (none, one or two of 5 s).
    assert!(
        ["#(after 1m: ", "#(after 1m5s: ", "#(after 1m10s: "]
            .iter()
            .any(|p| during.starts_with(p)),
        "{during}"
    );
    assert!(
        during.contains("\n2Error from server (Timeout): "),
        "{during}"
    );
    // Each moment's texts are exactly what `inspect --at` prints there (a fresh run stopped at
    // that time), also at a change point between grid moments.
    let scrub = capture(&o).expect("the views are captured");
    let odd = scrub
        .moments
        .iter()
        .find(|m| m.at_ns % 1_000_000_000 != 0)
        .expect("a change point off the grid");
    for m in [&scrub.moments[6], odd, scrub.moments.last().unwrap()] {
        let fresh = Moment::at(&o.scenario, o.seed, m.at_ns).unwrap();
        for (i, v) in View::ALL.iter().enumerate() {
            let want: String = print(*v, &fresh)
                .lines
                .iter()
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            let got: String = scrub.texts[m.shown[i]]
                .lines
                .lines()
                .map(|l| format!("{}\n", &l[1..]))
                .collect();
            assert_eq!(got, want, "{} at {} ns", v.name(), m.at_ns);
        }
    }
    // A page for an outcome that is not a run of its scenario says so instead of showing views.
    let page = html::render_html(&six_hours(), REPLAY);
    assert!(
        page.contains("The views could not be captured: running t with seed 1 again gives trace")
    );
    assert!(!page.contains("id=\"scrub-data\""));
    // A run too large to re-run for its page is not re-run: the page says why and what to use.
    let mut big = six_hours();
    big.events = kube_ha_sim::inspect::scrub::SCRUB_MAX_EVENTS + 1;
    let page = html::render_html(&big, REPLAY);
    assert!(
        page.contains("more than the 10000000 the page re-runs to capture them"),
        "{}",
        &page[page.find("id=\"scrub\"").unwrap()..][..600]
    );
    assert!(page.contains("kube-ha-sim inspect FILE --at T --seed 1"));
    assert!(!page.contains("id=\"scrub-data\""));
}

#[test]
#[cfg_attr(
    not(has_chromium),
    ignore = "/usr/bin/chromium is not installed (apt-get install chromium; .ci/run installs it)"
)]
fn the_time_scrubber_shows_the_views_at_the_address_fragments_time_in_chromium() {
    let o = outcome_of(QUORUM_LOST, 1);
    let dir = scratch("scrubber");
    let report = dir.join("report.html");
    std::fs::write(&report, html::render_html(&o, REPLAY)).expect("write the report");
    // The text of the `nodes` view and the moment line, as the page's script filled them in.
    let at = |fragment: &str| -> (String, String) {
        let url = format!("file://{}#t={fragment}", report.display());
        let Some((ok, dom, err)) = run_with_deadline(
            chromium(&dir.join(format!("profile-{fragment}")))
                // The views are unpacked asynchronously: let the page's tasks finish first.
                .arg("--virtual-time-budget=10000")
                .arg("--dump-dom")
                .arg(&url),
            Duration::from_secs(90),
        ) else {
            panic!("chromium is installed but could not be started (or hung for 90 s)");
        };
        assert!(ok, "chromium --dump-dom failed: {err}");
        assert!(
            page_errors(&err).is_empty(),
            "the page logged errors: {:?}",
            page_errors(&err)
        );
        let doc_start = dom
            .find("data-view=\"nodes\"")
            .expect("the script built the views");
        let nodes = &dom[doc_start..];
        let nodes = &nodes[..nodes.find("</pre>").unwrap()];
        let moment = &dom[dom.find("id=\"scrub-moment\"").unwrap()..];
        let moment = &moment[..moment.find("</p>").unwrap()];
        (nodes.to_string(), moment.to_string())
    };
    let (before, moment) = at("30");
    assert!(moment.contains("data-at-ms=\"30000\""), "{moment}");
    assert_eq!(
        before.matches("Ready    control-plane").count(),
        3,
        "{before}"
    );
    assert!(!before.contains("Error from server"));
    let (during, moment) = at("1m12s");
    // The last moment at or before 72 s: the grid point at 70 s or a change after it.
    assert!(moment.contains("data-at-ms=\"7"), "{moment}");
    assert!(
        during.contains("class=\"err\">Error from server (Timeout): the server was unable"),
        "{during}"
    );
    // The request timeout, after none, one or two of HAProxy's 5 s connect timeouts.
    assert!(
        ["1m", "1m5s", "1m10s"].iter().any(|t| {
            during.contains(&format!("class=\"note\">(after {t}: "))
                && during.contains(&format!("(exit 1, after {t})"))
        }),
        "{during}"
    );
    assert_ne!(before, during);
    let _ = std::fs::remove_dir_all(&dir);
}

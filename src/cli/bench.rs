//! `kube-ha-sim bench`: engine throughput on built-in clusters, measured with the wall clock (outside
//! the model; nothing here feeds a result).

use super::EXIT_OK;
use crate::scenario::parse_scenario;
use crate::world::World;
use std::time::Instant;

struct Case {
    name: &'static str,
    json: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        name: "idle 5-member etcd, 1 day",
        json: r#"{"name":"bench-idle","duration":"24h","topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1},"load":{"requests_per_second":0.000001,"target":"etcd"}}"#,
    },
    Case {
        name: "5-member etcd, 200 writes/s, 1 h",
        json: r#"{"name":"bench-etcd","duration":"1h","topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1},"load":{"requests_per_second":200,"write_ratio":1.0,"target":"etcd"}}"#,
    },
    Case {
        name: "stacked 3-node control plane + LB, 50 req/s, 1 h",
        json: r#"{"name":"bench-cp","duration":"1h","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},"load":{"requests_per_second":50}}"#,
    },
    Case {
        name: "100 workers, 1000 pods, worker crash, 1 h",
        json: r#"{"name":"bench-workers","duration":"1h","topology":{"etcd":"stacked","control_plane_nodes":3,"workers":100,"zones":["a","b","c"],"load_balancers":2},"load":{"requests_per_second":10},"workloads":[{"name":"web","replicas":600,"spread":"zones"},{"name":"api","replicas":400}],"faults":[{"at":"10m","kind":"crash","target":"worker-1"}]}"#,
    },
];

/// Runs the benchmark suite and prints its figures.
pub fn run(quick: bool) -> i32 {
    outln!(
        "{:<48} {:>12} {:>10} {:>14} {:>16} {:>10}",
        "case",
        "events",
        "wall s",
        "events/s",
        "sim s / wall s",
        "RSS MiB"
    );
    for case in CASES.iter().take(if quick { 1 } else { CASES.len() }) {
        let scenario = match parse_scenario(case.json, case.name) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bench scenario invalid: {e}");
                return super::EXIT_BAD_INPUT;
            }
        };
        let mut world = World::build(&scenario, 1);
        let t0 = Instant::now();
        if let Err(e) = world.run() {
            eprintln!("{}: {e}", case.name);
            return super::EXIT_BAD_INPUT;
        }
        let wall = t0.elapsed().as_secs_f64();
        let sim = scenario.duration_ns as f64 / 1e9;
        outln!(
            "{:<48} {:>12} {:>10.3} {:>14.0} {:>16.0} {:>10}",
            case.name,
            world.events_processed(),
            wall,
            world.events_processed() as f64 / wall,
            sim / wall,
            rss_mib()
                .map(|m| format!("{m:.0}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    if !quick {
        render_bench();
    }
    EXIT_OK
}

/// Times the pictures and the HTML report of a 6-hour run with faults.
fn render_bench() {
    let json = r#"{"name":"bench-render","duration":"6h","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":2},"load":{"requests_per_second":10},
        "faults":[{"at":"30m","kind":"crash","target":"leader:etcd","for":"10m"},{"at":"2h","kind":"crash","target":"vip-holder","for":"5m"},
                  {"at":"3h","kind":"crash","target":"leader:kube-scheduler","for":"20m"},{"at":"4h","kind":"partition","groups":[["cp-1"],["cp-2","cp-3"]],"for":"15m"}]}"#;
    let Ok(s) = parse_scenario(json, "bench-render") else {
        return;
    };
    let Ok(o) = crate::run::run(&s, 1) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-bench-{}", std::process::id()));
    let t = Instant::now();
    let svg = crate::report::svg::render_svg(&o);
    let svg_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let png = crate::report::png::render_png(&o, &dir.join("t.png"));
    let png_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let html = crate::report::html::render_html(&o, "replay");
    let html_ms = t.elapsed().as_secs_f64() * 1e3;
    let _ = std::fs::remove_dir_all(&dir);
    outln!(
        "render a 6 h run ({} requests, {} trace events): svg {svg_ms:.0} ms ({} KiB), png {png_ms:.0} ms{}, html {html_ms:.0} ms ({} KiB)",
        o.trace.requests.len(),
        o.trace.events.len(),
        svg.len() / 1024,
        if png.is_ok() { "" } else { " (failed)" },
        html.len() / 1024
    );
}

/// The process's resident memory (Linux), while the finished world is still alive.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

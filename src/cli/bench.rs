//! `kube-ha-sim bench`: engine throughput and peak memory on built-in clusters, measured with the wall
//! clock and the kernel's memory accounting (outside the model; nothing here feeds a result).
//!
//! Each case runs in a child process of the same binary (`bench --case N`), because a process's peak
//! resident memory (`VmHWM` in `/proc/self/status`) cannot be reset: in one process every case after
//! the largest would report the largest's peak.

use super::EXIT_OK;
use crate::scenario::parse_scenario;
use crate::world::World;
use std::time::Instant;

struct Case {
    name: &'static str,
    json: &'static str,
}

const CASES: [Case; 8] = [
    Case {
        name: "idle 5-member etcd, load off, 1 day",
        json: r#"{"name":"bench-idle","duration":"24h","topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1},"load":{"requests_per_second":0,"target":"etcd"}}"#,
    },
    Case {
        name: "idle stacked 3-node control plane, load off, 1 day",
        json: r#"{"name":"bench-idle-cp","duration":"24h","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},"load":{"requests_per_second":0}}"#,
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
    Case {
        name: "overload: 20,000 req/s on 3 API servers (429s), 3 m",
        json: r#"{"name":"bench-overload","duration":"3m","topology":{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"]},"load":{"requests_per_second":20000}}"#,
    },
    Case {
        name: "1000 workers, 5000 pods, 10 req/s, 1 h",
        json: r#"{"name":"bench-workers-1000","duration":"1h","topology":{"etcd":"stacked","control_plane_nodes":3,"workers":1000,"zones":["a","b","c"],"load_balancers":2},"load":{"requests_per_second":10},"workloads":[{"name":"web","replicas":3000,"spread":"zones"},{"name":"api","replicas":2000}]}"#,
    },
    // The first case on the plain engine: every heartbeat an event, so its events/s is the engine's
    // cost per event on the cheapest traffic there is (issue 12's 20 M events/s target), which lazy
    // heartbeats hide by leaving only the costlier events.
    Case {
        name: "idle 5-member etcd, lazy heartbeats off, 1 day",
        json: r#"{"name":"bench-idle-plain","duration":"24h","topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1},"load":{"requests_per_second":0,"target":"etcd"},"settings":{"engine":{"lazy_heartbeats":false}}}"#,
    },
];

/// Cases of the quick subset: the two idle clusters.
const QUICK: usize = 2;

/// The SimPy twin's cluster: the idle 5-member etcd cluster of case 0, for its simulated day.
const SIMPY_ARGS: [&str; 3] = ["5", "86400", "callback"];

/// Runs the benchmark suite, each case in a child process, and prints its figures; with `simpy`,
/// the SimPy twin too (checked first, so that a missing script or module fails before the cases).
pub fn run(quick: bool, simpy: Option<&std::path::Path>) -> i32 {
    if let Some(script) = simpy {
        if let Err(e) = simpy_ready(script) {
            eprintln!("error: bench --simpy {}: {e}", script.display());
            return super::EXIT_BAD_INPUT;
        }
    }
    outln!(
        "{:<52} {:>12} {:>9} {:>12} {:>15} {:>9}",
        "case",
        "events",
        "wall s",
        "events/s",
        "sim s / wall s",
        "peak MiB"
    );
    let exe = std::env::current_exe();
    // Simulated seconds per wall second of case 0 (lazy heartbeats) and case 7 (plain engine).
    let mut idle_etcd: [Option<f64>; 2] = [None, None];
    for (i, case) in CASES
        .iter()
        .enumerate()
        .take(if quick { QUICK } else { CASES.len() })
    {
        let figures = exe.as_ref().ok().and_then(|exe| {
            let out = std::process::Command::new(exe)
                .args(["bench", "--case", &i.to_string()])
                .output()
                .ok()?;
            if !out.status.success() {
                eprintln!("{}: {}", case.name, String::from_utf8_lossy(&out.stderr));
                return None;
            }
            Figures::parse(&String::from_utf8_lossy(&out.stdout))
        });
        let Some(f) = figures else {
            eprintln!("{}: the case did not run", case.name);
            return super::EXIT_BAD_INPUT;
        };
        match i {
            0 => idle_etcd[0] = Some(f.sim_s / f.wall_s),
            7 => idle_etcd[1] = Some(f.sim_s / f.wall_s),
            _ => {}
        }
        outln!(
            "{:<52} {:>12} {:>9.3} {:>12.0} {:>15.0} {:>9}",
            case.name,
            f.events,
            f.wall_s,
            f.events as f64 / f.wall_s,
            f.sim_s / f.wall_s,
            f.peak_kib
                .map(|k| format!("{:.1}", k as f64 / 1024.0))
                .unwrap_or_else(|| "-".into())
        );
    }
    if !quick {
        render_bench();
    }
    if let Some(script) = simpy {
        return simpy_side_by_side(script, idle_etcd);
    }
    EXIT_OK
}

/// Whether the twin can run: the script is a file, and `python3` imports `simpy`.
fn simpy_ready(script: &std::path::Path) -> Result<(), String> {
    if !script.is_file() {
        return Err("no such file; the twin is ../shared/anchors/simpy_etcd_idle.py".into());
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import simpy"])
        .output()
        .map_err(|e| {
            format!("python3 did not start ({e}); install Python 3 and `pip install simpy`")
        })?;
    if !out.status.success() {
        return Err("python3 cannot import simpy; `pip install simpy`".into());
    }
    Ok(())
}

/// Runs the SimPy twin and prints its figures beside the engine's idle etcd day: `idle_etcd` is
/// case 0's and case 7's simulated seconds per wall second, as measured above in this run.
fn simpy_side_by_side(script: &std::path::Path, idle_etcd: [Option<f64>; 2]) -> i32 {
    let out = match std::process::Command::new("python3")
        .arg(script)
        .args(SIMPY_ARGS)
        .output()
    {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            eprintln!(
                "error: the SimPy twin failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return super::EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("error: python3 did not start: {e}");
            return super::EXIT_BAD_INPUT;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(twin) = TwinFigures::parse(&text) else {
        eprintln!("error: the SimPy twin printed no `events=... wall_s=...` line: {text}");
        return super::EXIT_BAD_INPUT;
    };
    let twin_rate = twin.sim_s / twin.wall_s;
    outln!(
        "SimPy twin (python3 {} {}): {} events, {:.3} s wall, {:.0} sim s / wall s",
        script.display(),
        SIMPY_ARGS.join(" "),
        twin.events,
        twin.wall_s,
        twin_rate
    );
    let names = [
        "idle 5-member etcd (case 0)",
        "idle 5-member etcd, lazy heartbeats off (case 7)",
    ];
    for (name, rate) in names.iter().zip(idle_etcd) {
        if let Some(rate) = rate {
            outln!(
                "  {name}: {rate:.0} sim s / wall s, {:.1} times the twin",
                rate / twin_rate
            );
        }
    }
    EXIT_OK
}

/// What the SimPy twin prints: `... events=N wall_s=W ...` for its simulated day.
struct TwinFigures {
    events: u64,
    wall_s: f64,
    sim_s: f64,
}

impl TwinFigures {
    fn parse(text: &str) -> Option<TwinFigures> {
        let field = |name: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        };
        let wall_s: f64 = field("wall_s")?.parse().ok()?;
        (wall_s > 0.0).then_some(())?;
        Some(TwinFigures {
            events: field("events")?.parse().ok()?,
            wall_s,
            sim_s: SIMPY_ARGS[1].parse().ok()?,
        })
    }
}

/// What one case measured.
struct Figures {
    events: u64,
    wall_s: f64,
    sim_s: f64,
    peak_kib: Option<u64>,
}

impl Figures {
    /// `events wall_s sim_s peak_kib` (`-` when unknown), as `run_case` prints them.
    fn parse(line: &str) -> Option<Figures> {
        let mut it = line.split_whitespace();
        Some(Figures {
            events: it.next()?.parse().ok()?,
            wall_s: it.next()?.parse().ok()?,
            sim_s: it.next()?.parse().ok()?,
            peak_kib: it.next()?.parse().ok(),
        })
    }
}

/// Runs case `i` in this process and prints its raw figures for the parent.
pub fn run_case(i: usize) -> i32 {
    let Some(case) = CASES.get(i) else {
        eprintln!("no bench case {i}; there are {}", CASES.len());
        return super::EXIT_BAD_INPUT;
    };
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
    outln!(
        "{} {wall:.6} {} {}",
        world.events_processed(),
        scenario.duration_ns as f64 / 1e9,
        peak_kib().map_or("-".to_string(), |k| k.to_string())
    );
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

/// The process's peak resident memory in KiB (Linux `VmHWM`), if the kernel tells.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The twin's line as `simpy_etcd_idle.py` prints it is read; a line without its figures, or
    /// with a zero wall time, is not.
    #[test]
    fn the_twins_figures_are_read_from_its_line() {
        let line =
            "simpy etcd idle twin (callback, 5 members, 86400 s): events=8053177 wall_s=9.250 \
                    ev_per_s=870614 sim_per_wall=9341 ev_per_sim_s=93.2";
        let f = TwinFigures::parse(line).expect("parsed");
        assert_eq!(f.events, 8_053_177);
        assert!((f.wall_s - 9.25).abs() < 1e-9);
        assert!((f.sim_s - 86_400.0).abs() < 1e-9);
        assert!(TwinFigures::parse("simpy etcd idle twin: nothing").is_none());
        assert!(TwinFigures::parse("events=1 wall_s=0").is_none());
    }

    /// A script that is not there is refused before any case runs.
    #[test]
    fn a_missing_twin_script_is_refused() {
        let e = simpy_ready(std::path::Path::new("/nonexistent/simpy_etcd_idle.py"))
            .expect_err("refused");
        assert!(e.contains("no such file"), "{e}");
    }
}

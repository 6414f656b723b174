//! `kube-ha-sim lab`: driven by a script on stdin (each command echoed after its prompt), and on a
//! terminal (a pty from `script(1)`) with rustyline's line editing and history; a saved session
//! replays to the trace hash the session announced.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn lab_script(file: &str, script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
        .current_dir(root())
        .args(["lab", file])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_scripted_session_steps_breaks_looks_and_saves_a_replayable_scenario() {
    let saved = std::env::temp_dir().join(format!("kube-ha-sim-lab-{}.json", std::process::id()));
    let script = format!(
        "etcdctl endpoint status --cluster -w table\n\
         step 1m30s\n\
         crash leader:etcd for=1m\n\
         until leader:etcd changes\n\
         show stat\n\
         crash cp-9\n\
         step 10s\n\
         narrate\n\
         until 1m\n\
         save {}\n\
         quit\n",
        saved.display()
    );
    let out = lab_script("scenarios/training/04-active-scheduler-dies.json", &script);
    // Each command is echoed after the prompt with the current time.
    assert!(
        out.contains(
            "[0s] > etcdctl endpoint status --cluster -w table\n$ etcdctl endpoint status"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "[1m30s] > crash leader:etcd for=1m\nfault #1 at 1m30s: crash leader:etcd for=1m"
        ),
        "{out}"
    );
    // The next leader is elected within the election timeout of the crash (1-2 s by default).
    let line = out
        .lines()
        .find(|l| l.starts_with("t = 1m3") && l.contains("became etcd leader"))
        .unwrap_or_else(|| panic!("{out}"));
    let t: f64 = line["t = 1m".len()..]
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((30.0..=32.0).contains(&t), "{line}");
    // A bad fault is refused with the file's error and changes nothing.
    assert!(
        out.contains("error: field `faults[2].target`: unknown target `cp-9`"),
        "{out}"
    );
    // The narration since the start covers the crash; time does not go back.
    assert!(out.contains("fault #1 started: crash leader:etcd"), "{out}");
    assert!(out.contains("error: time only goes forward"), "{out}");
    // The saved scenario has the typed fault at the time it was typed and replays to the hash
    // the session announced.
    let said = out
        .lines()
        .find_map(|l| l.split("trace hash ").nth(1))
        .unwrap_or_else(|| panic!("{out}"));
    let text = std::fs::read_to_string(&saved).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let faults = v["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 2, "{text}");
    assert_eq!(faults[1]["at"], "1m30s");
    assert_eq!(faults[1]["target"], "leader:etcd");
    let dir = std::env::temp_dir().join(format!("kube-ha-sim-lab-out-{}", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_kube-ha-sim"))
        .args([
            "run",
            saved.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(run.status.code().is_some_and(|c| c <= 1));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["trace_hash"], said.trim());
}

/// Runs `lab` on a pseudo-terminal (`script -qec CMD /dev/null`) and talks to it like a person:
/// waits for each prompt before typing.
struct Pty {
    child: std::process::Child,
    input: std::process::ChildStdin,
    seen: Arc<Mutex<String>>,
}

impl Pty {
    fn start(file: &str) -> Option<Pty> {
        let bin = env!("CARGO_BIN_EXE_kube-ha-sim");
        let mut child = Command::new("script")
            .current_dir(root())
            .args(["-qec", &format!("{bin} lab {file}"), "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = child.stdout.take()?;
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Some(Pty { child, input, seen })
    }

    /// Waits until the output holds `text` `count` times.
    fn wait_for(&self, text: &str, count: usize) {
        let start = Instant::now();
        while self.seen.lock().unwrap().matches(text).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {text:?} (x{count}) in:\n{}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }
}

#[test]
fn on_a_terminal_lines_are_edited_and_recalled_from_history() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let mut pty = Pty::start("scenarios/training/03-vip-holder-dies.json").unwrap();
    pty.wait_for("[0s] > ", 1);
    // Typed with a mistake, corrected with backspace.
    pty.type_keys("step 1mx\x7f\r");
    pty.wait_for("[1m] > ", 1);
    // Up arrow recalls `step 1m` from the history.
    pty.type_keys("\x1b[A\r");
    pty.wait_for("[2m] > ", 1);
    // Ctrl-A goes to the start of the line: `ime` becomes `time`.
    pty.type_keys("ime\x01t\r");
    pty.wait_for("t = 2m", 1);
    pty.type_keys("quit\r");
    // script(1) ends when its input does, after the lab has.
    std::thread::sleep(Duration::from_millis(300));
    let Pty {
        mut child, input, ..
    } = pty;
    drop(input);
    let status = child.wait().unwrap();
    assert!(status.success());
}

//! `kube-ha-sim lab`: a scenario run by hand. The session is the scenario file plus the faults typed
//! so far (each at the time it was typed) and the current time; every command answers from the world
//! run to that time from the start ([`Moment::at`]), so the session is exactly the run of the
//! scenario it saves, and a saved session replays to the same trace.

use super::{transcript, Moment, View};
use crate::engine::{fmt_duration, parse_duration, Nanos};
use crate::observe::trace::Role;
use crate::observe::TraceKind;
use crate::report::text::narrate_between;
use crate::scenario::faults::FaultKind;
use crate::scenario::{parse_scenario, Plan};
use serde_json::{json, Value};

/// The lab's commands, for `help`.
pub const HELP: &str = "\
commands (faults use the scenario file's kinds and fields, at the current time):
  step DURATION                 advance by DURATION (step 10s)
  until TIME                    advance to TIME of the run (until 2m)
  until ROLE changes            advance to the next change of leader:etcd, leader:kube-scheduler,
                                leader:kube-controller-manager or vip-holder
  KIND [TARGET] [field=value]   a fault now: crash cp-1 for=2m, stop cp-2/kube-scheduler,
                                restart cp-1, isolate cp-3 for=30s, partition groups=cp-1|cp-2,cp-3,
                                degrade-link between=zone:a,zone:b latency=200ms loss=0.1,
                                slow-disk cp-1 fsync_latency=1s, wipe-data cp-2, restore snapshot_at=1m
  kubectl get nodes -o wide ... a view by its command line (or: view NAME; views lists them)
  narrate                       the story since the last narrate
  time                          the current time
  save FILE                     write the session as a scenario file
  help, quit";

/// A lab session.
pub struct Lab {
    /// The scenario file as loaded, as JSON (the faults typed are appended to its `faults`).
    base: Value,
    file: String,
    plan: Plan,
    pub seed: u64,
    now_ns: Nanos,
    narrated_ns: Nanos,
}

/// What a command did.
pub enum Reply {
    /// Text to print.
    Text(String),
    /// The session ends.
    Quit,
}

impl Lab {
    /// Starts a session on a loaded plan at time 0.
    pub fn new(plan: Plan, file: &str, seed: u64) -> Lab {
        let base = serde_json::to_value(plan.to_scenario()).unwrap_or(Value::Null);
        Lab {
            base,
            file: file.to_string(),
            plan,
            seed,
            now_ns: 0,
            narrated_ns: 0,
        }
    }

    /// The current time.
    pub fn now(&self) -> Nanos {
        self.now_ns
    }

    /// The session's scenario (the file and the faults typed).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The prompt: the current time.
    pub fn prompt(&self) -> String {
        format!("[{}] > ", fmt_duration(self.now_ns))
    }

    /// Runs one command line.
    pub fn command(&mut self, line: &str) -> Reply {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        let text = match words.as_slice() {
            [] => Ok(String::new()),
            ["quit" | "exit"] => return Reply::Quit,
            ["help"] => Ok(HELP.to_string()),
            ["time"] => Ok(format!("t = {}", fmt_duration(self.now_ns))),
            ["views"] => Ok(View::ALL
                .map(|v| format!("{:<16} {}", v.name(), v.command()))
                .join("\n")),
            ["view", name] => match View::from_name(name) {
                Some(v) => self.views(&[v]),
                None => Err(format!("unknown view `{name}`; allowed: {}", View::names())),
            },
            ["step", d] => parse_duration(d).and_then(|d| self.advance(self.now_ns + d)),
            ["until", role, "changes"] => self.until_changes(role),
            ["until", t] => parse_duration(t).and_then(|t| self.advance(t)),
            ["narrate"] => self.narrate(),
            ["save", path] => self.save(path),
            [kind, ..] if FaultKind::ALL.iter().any(|k| k.name() == *kind) => self.fault(&words),
            _ => match View::from_command(line) {
                Some(v) => self.views(&[v]),
                None => Err(format!("unknown command `{line}`; `help` lists them")),
            },
        };
        Reply::Text(text.unwrap_or_else(|e| format!("error: {e}")))
    }

    fn moment(&self) -> Result<Moment, String> {
        Moment::at(&self.plan, self.seed, self.now_ns).map_err(|e| e.to_string())
    }

    fn views(&self, views: &[View]) -> Result<String, String> {
        Ok(transcript(views, &self.moment()?).trim_end().to_string())
    }

    fn advance(&mut self, to_ns: Nanos) -> Result<String, String> {
        let end = self.plan.duration_ns;
        if to_ns < self.now_ns {
            return Err(format!(
                "time only goes forward: it is {} already",
                fmt_duration(self.now_ns)
            ));
        }
        let capped = to_ns.min(end);
        self.now_ns = capped;
        Ok(if capped < to_ns {
            format!("t = {} (the end of the run)", fmt_duration(end))
        } else {
            format!("t = {}", fmt_duration(capped))
        })
    }

    /// Advances to the next change of a role after now (in the run as the session stands).
    fn until_changes(&mut self, role: &str) -> Result<String, String> {
        let o = crate::run::run(&self.plan, self.seed).map_err(|e| e.to_string())?;
        let layout = &o.layout;
        let is = |p: u16, kind: &str| layout.procs[p as usize].name.ends_with(kind);
        let hit = |k: &TraceKind| match role {
            "leader:etcd" => matches!(
                k,
                TraceKind::EtcdRole {
                    role: Role::Leader,
                    ..
                }
            ),
            "leader:kube-scheduler" => matches!(
                k,
                TraceKind::Acting { proc, acting: true } if is(*proc, "/kube-scheduler")
            ),
            "leader:kube-controller-manager" => matches!(
                k,
                TraceKind::Acting { proc, acting: true } if is(*proc, "/kube-controller-manager")
            ),
            "vip-holder" => matches!(k, TraceKind::Vip { .. }),
            _ => false,
        };
        let next = o
            .trace
            .events
            .iter()
            .find(|e| e.time_ns > self.now_ns && hit(&e.kind));
        match next {
            Some(e) => {
                let at = e.time_ns;
                let said = crate::report::text::describe(&o, e).unwrap_or_default();
                self.now_ns = at;
                Ok(format!("t = {}: {said}", fmt_duration(at)))
            }
            None if matches!(
                role,
                "leader:etcd"
                    | "leader:kube-scheduler"
                    | "leader:kube-controller-manager"
                    | "vip-holder"
            ) =>
            {
                Err(format!(
                    "{role} does not change again before the end of the run"
                ))
            }
            None => Err(format!(
                "unknown role `{role}`; allowed: leader:etcd, leader:kube-scheduler, \
                 leader:kube-controller-manager, vip-holder"
            )),
        }
    }

    /// The narration from the last `narrate` to now.
    fn narrate(&mut self) -> Result<String, String> {
        let mut upto = self.plan.clone();
        upto.duration_ns = self.now_ns.max(1);
        let o = crate::run::run(&upto, self.seed).map_err(|e| e.to_string())?;
        let text = narrate_between(&o, self.narrated_ns, self.now_ns);
        self.narrated_ns = self.now_ns + 1;
        Ok(text.trim_end().to_string())
    }

    /// A fault typed now: `KIND [TARGET] [field=value...]` as a fault object of the file.
    fn fault(&mut self, words: &[&str]) -> Result<String, String> {
        let mut f = serde_json::Map::new();
        f.insert("at".into(), json!(fmt_exact(self.now_ns)));
        f.insert("kind".into(), json!(words[0]));
        for w in &words[1..] {
            let (key, value) = match w.split_once('=') {
                Some((k, v)) => (k, v),
                None => ("target", *w),
            };
            let v = match key {
                "groups" => json!(value
                    .split('|')
                    .map(|g| g.split(',').collect::<Vec<_>>())
                    .collect::<Vec<_>>()),
                "between" => json!(value.split(',').collect::<Vec<_>>()),
                "loss" => value
                    .parse::<f64>()
                    .map(|x| json!(x))
                    .map_err(|_| format!("loss={value}: a number from 0 to 1"))?,
                _ => json!(value),
            };
            f.insert(key.to_string(), v);
        }
        let mut scenario = self.base.clone();
        let faults = scenario["faults"].as_array().cloned().unwrap_or_default();
        let mut faults = faults;
        faults.push(Value::Object(f));
        scenario["faults"] = Value::Array(faults);
        let text = serde_json::to_string_pretty(&scenario).map_err(|e| e.to_string())?;
        // The message without the position in the generated text (it is the typed line's).
        let plan = parse_scenario(&text, &self.file).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("");
            first
                .find("field `")
                .map_or(first, |i| &first[i..])
                .to_string()
        })?;
        let added = plan.faults.len() - 1;
        self.base = scenario;
        self.plan = plan;
        Ok(format!(
            "fault #{added} at {}: {}",
            fmt_duration(self.now_ns),
            words.join(" ")
        ))
    }

    /// Writes the session's scenario; says the trace hash its run replays to.
    fn save(&self, path: &str) -> Result<String, String> {
        let mut scenario = self.base.clone();
        scenario["seed"] = json!(self.seed);
        let text = serde_json::to_string_pretty(&scenario).map_err(|e| e.to_string())?;
        // Written whole or not at all: a kill mid-write leaves no half scenario (issue 16).
        crate::report::write_atomic(std::path::Path::new(path), format!("{text}\n").as_bytes())
            .map_err(|e| format!("cannot write {path}: {e}"))?;
        let o = crate::run::run(&self.plan, self.seed).map_err(|e| e.to_string())?;
        Ok(format!(
            "saved {path} ({} faults); `kube-ha-sim run {path} --seed {}` replays it: trace hash {:016x}",
            self.plan.faults.len(),
            self.seed,
            o.trace.hash()
        ))
    }
}

/// A time for the file that keeps its nanoseconds (`1m30s`, `2500ms`).
fn fmt_exact(ns: Nanos) -> String {
    crate::engine::fmt_duration_exact(ns)
}

//! `haproxy.cfg` as kubeadm's HA guide writes it (kubernetes/kubeadm docs/ha-considerations.md): the
//! API servers' backend (its `server` lines are the control-plane nodes), the health check (`option
//! httpchk GET /healthz` or `http-check send meth GET uri /healthz`; `inter`, `fall`, `rise` on
//! `default-server` or each `server`), `retries`, `timeout connect`, `timeout check` and `option
//! redispatch`, from `defaults` and the backend. Comments (`#`) and blank lines are skipped.

use super::{error, Authority, Imported, Source};
use crate::engine::{fmt_duration_exact, MS, SEC, US};
use crate::scenario::error::ScenarioError;
use crate::scenario::model::HealthPath;
use serde_json::Value;

/// A line of the file: its number and its words.
struct Line {
    no: usize,
    words: Vec<String>,
}

/// A section: `defaults`, `backend NAME`, `listen NAME`...
struct Section {
    kind: String,
    name: String,
    line: usize,
    lines: Vec<Line>,
}

const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "program",
    "http-errors",
    "mailers",
    "cache",
    "ring",
];

fn sections(text: &str, file: &str) -> Result<Vec<Section>, ScenarioError> {
    let mut out: Vec<Section> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let code = raw.split_once('#').map_or(raw, |(c, _)| c);
        let words: Vec<String> = code.split_whitespace().map(str::to_string).collect();
        let Some(first) = words.first() else { continue };
        if SECTIONS.contains(&first.as_str()) {
            out.push(Section {
                kind: first.clone(),
                name: words.get(1).cloned().unwrap_or_default(),
                line: no,
                lines: Vec::new(),
            });
            continue;
        }
        match out.last_mut() {
            Some(s) => s.lines.push(Line { no, words }),
            None => {
                return Err(error(file, Some(no), format!("`{first}` before any section; an HAProxy configuration starts with a section ({})", SECTIONS.join(", "))))
            }
        }
    }
    if out.is_empty() {
        return Err(error(
            file,
            None,
            "no HAProxy sections (global, defaults, frontend, backend...); is this an haproxy.cfg?"
                .into(),
        ));
    }
    Ok(out)
}

/// An HAProxy time: a number with an optional unit (us, ms, s, m, h, d); milliseconds without one.
fn time(text: &str) -> Option<u64> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: u64 = text[..digits].parse().ok()?;
    let scale = match &text[digits..] {
        "" | "ms" => MS,
        "us" => US,
        "s" => SEC,
        "m" => 60 * SEC,
        "h" => 3600 * SEC,
        "d" => 86400 * SEC,
        _ => return None,
    };
    n.checked_mul(scale)
}

struct Reader<'a> {
    file: &'a str,
    imp: &'a mut Imported,
}

impl Reader<'_> {
    fn src(&self, l: &Line) -> Source {
        Source::new(self.file, Some(l.no), l.words.join(" "))
    }

    fn set(&mut self, path: &str, v: Value, l: &Line) {
        let src = self.src(l);
        self.imp.set(path, v, src, Authority::Config);
    }

    fn duration(
        &mut self,
        path: &str,
        text: Option<&String>,
        l: &Line,
    ) -> Result<(), ScenarioError> {
        let ns = text
            .and_then(|t| time(t))
            .ok_or_else(|| self.bad(l, "a time (e.g. 2s or 2000, in milliseconds)"))?;
        self.set(path, Value::String(fmt_duration_exact(ns)), l);
        Ok(())
    }

    fn count(&mut self, path: &str, text: Option<&String>, l: &Line) -> Result<(), ScenarioError> {
        let n: u32 = text
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| self.bad(l, "a whole number"))?;
        self.set(path, Value::from(n), l);
        Ok(())
    }

    fn bad(&self, l: &Line, wanted: &str) -> ScenarioError {
        error(
            self.file,
            Some(l.no),
            format!("`{}`: expected {wanted}", l.words.join(" ")),
        )
    }

    fn check_path(&mut self, uri: Option<&String>, l: &Line) -> Result<(), ScenarioError> {
        let uri = uri.map(String::as_str).unwrap_or("/");
        match HealthPath::ALL.into_iter().find(|p| p.path() == uri) {
            Some(p) => self.set(
                "settings.load_balancer.check_path",
                Value::from(p.path()),
                l,
            ),
            None => {
                let why = format!("the model's HAProxy checks one of {} (kube-apiserver's health endpoints); `{uri}` is not one", HealthPath::ALL.map(HealthPath::path).join(", "));
                let src = self.src(l);
                self.imp.not_imported(&src, &why);
            }
        }
        Ok(())
    }

    /// `inter`, `fall`, `rise` among a `server` or `default-server` line's options.
    fn check_options(&mut self, l: &Line, from: usize) -> Result<(), ScenarioError> {
        let mut i = from;
        while i < l.words.len() {
            let next = l.words.get(i + 1);
            match l.words[i].as_str() {
                "inter" => self.duration("settings.load_balancer.check_interval", next, l)?,
                "fall" => self.count("settings.load_balancer.fall", next, l)?,
                "rise" => self.count("settings.load_balancer.rise", next, l)?,
                _ => {
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        Ok(())
    }

    /// One line of `defaults` or of the API servers' backend.
    fn line(&mut self, l: &Line, servers: &mut Vec<Source>) -> Result<(), ScenarioError> {
        let w: Vec<&str> = l.words.iter().map(String::as_str).collect();
        let arg = |i: usize| l.words.get(i);
        match w.as_slice() {
            ["option", "httpchk"] => {}
            ["option", "httpchk", rest @ ..] => {
                let uri = rest
                    .iter()
                    .find(|x| x.starts_with('/'))
                    .map(|s| s.to_string());
                self.check_path(uri.as_ref(), l)?
            }
            ["http-check", "send", rest @ ..] => {
                let uri = rest
                    .iter()
                    .position(|&x| x == "uri")
                    .and_then(|i| rest.get(i + 1))
                    .map(|s| s.to_string());
                self.check_path(uri.as_ref(), l)?
            }
            ["http-check", "connect", ..] | ["http-check", "expect", ..] => {}
            ["retries", ..] => self.count("settings.load_balancer.retries", arg(1), l)?,
            ["timeout", "connect", ..] => {
                self.duration("settings.load_balancer.connect_timeout", arg(2), l)?
            }
            ["timeout", "check", ..] => {
                self.duration("settings.load_balancer.check_timeout", arg(2), l)?
            }
            ["option", "redispatch", ..] => {
                self.set("settings.load_balancer.redispatch", Value::Bool(true), l)
            }
            ["no", "option", "redispatch"] => {
                self.set("settings.load_balancer.redispatch", Value::Bool(false), l)
            }
            ["default-server", ..] => self.check_options(l, 1)?,
            ["server", _name, _addr, ..] => {
                if !w.contains(&"check") {
                    let src = self.src(l);
                    self.imp.not_imported(&src, "a server without `check`: the model's HAProxy health-checks every API server");
                }
                servers.push(self.src(l));
                self.check_options(l, 3)?
            }
            ["balance", "roundrobin"] | ["mode", "tcp"] => {}
            _ => {
                let src = self.src(l);
                self.imp.not_imported(&src, "not modelled: the model's HAProxy balances TCP connections round-robin with the checks, retries and timeouts above");
            }
        }
        Ok(())
    }
}

/// Reads an haproxy.cfg.
pub fn read(text: &str, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let secs = sections(text, file)?;
    let backends: Vec<&Section> = secs
        .iter()
        .filter(|s| {
            (s.kind == "backend" || s.kind == "listen")
                && s.lines.iter().any(|l| l.words[0] == "server")
        })
        .collect();
    let Some(backend) = backends.first() else {
        return Err(error(file, None, "no backend with `server` lines; the API servers' backend lists one server per control-plane node".into()));
    };
    let mut r = Reader { file, imp };
    let mut servers = Vec::new();
    for s in &secs {
        let is_backend = std::ptr::eq(s, *backend);
        if s.kind == "defaults" || is_backend {
            for l in &s.lines {
                r.line(l, &mut servers)?;
            }
        } else {
            let why = match s.kind.as_str() {
                "frontend" => "the frontend's port and addresses: the model's clients reach HAProxy by its node",
                "backend" | "listen" => "only the first backend with servers is the API servers'",
                _ => "process-wide settings: not modelled",
            };
            let src = Source::new(
                file,
                Some(s.line),
                format!("{} {}", s.kind, s.name).trim_end().to_string(),
            );
            r.imp.not_imported(&src, why);
        }
    }
    let src = Source::new(
        file,
        Some(backend.line),
        format!(
            "{} {}: {} servers",
            backend.kind,
            backend.name,
            servers.len()
        ),
    );
    match &r.imp.facts.haproxy_servers {
        Some((n, first)) if *n != servers.len() => {
            let why = format!(
                "{} lists {n}; the first file read decides",
                first.describe()
            );
            r.imp.not_imported(&src, &why);
        }
        Some(_) => {}
        None => r.imp.facts.haproxy_servers = Some((servers.len(), src)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_times_default_to_milliseconds() {
        assert_eq!(time("2000"), Some(2 * SEC));
        assert_eq!(time("3s"), Some(3 * SEC));
        assert_eq!(time("3x"), None);
    }
}

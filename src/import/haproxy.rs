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

/// A line of the file: its number, its words and the 1-based column (in characters) of each.
struct Line {
    no: usize,
    words: Vec<String>,
    cols: Vec<usize>,
}

impl Line {
    /// Where word `i` is: its column, or just past the last word when the line has no word `i` (a
    /// value missing at the end of the line).
    fn at(&self, i: usize) -> (usize, usize) {
        let col = match (self.cols.get(i), self.cols.last(), self.words.last()) {
            (Some(&c), _, _) => c,
            (None, Some(&c), Some(w)) => c + w.chars().count() + 1,
            (None, _, _) => 1,
        };
        (self.no, col)
    }
}

/// The words of a line with their 1-based columns in characters.
fn words_with_columns(code: &str) -> (Vec<String>, Vec<usize>) {
    let (mut words, mut cols) = (Vec::new(), Vec::new());
    let mut cur: Option<(usize, String)> = None;
    for (i, c) in code.chars().enumerate() {
        if c.is_whitespace() {
            if let Some((col, w)) = cur.take() {
                cols.push(col);
                words.push(w);
            }
        } else {
            cur.get_or_insert_with(|| (i + 1, String::new())).1.push(c);
        }
    }
    if let Some((col, w)) = cur {
        cols.push(col);
        words.push(w);
    }
    (words, cols)
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
        let (words, cols) = words_with_columns(code);
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
            Some(s) => s.lines.push(Line { no, words, cols }),
            None => {
                return Err(error(file, Some((no, cols[0])), format!("`{first}` before any section; an HAProxy configuration starts with a section ({})", SECTIONS.join(", "))))
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
        Source::at(self.file, l.at(0), l.words.join(" "))
    }

    fn set(&mut self, path: &str, v: Value, l: &Line) {
        self.set_at(path, v, l, 0);
    }

    /// Records a setting whose value is word `i` of the line, so that an error about the value (the
    /// scenario loader refusing it) points at that word.
    fn set_at(&mut self, path: &str, v: Value, l: &Line, i: usize) {
        let src = Source::at(self.file, l.at(i), l.words.join(" "));
        self.imp.set(path, v, src, Authority::Config);
    }

    /// Word `i` of the line as an HAProxy time.
    fn duration(&mut self, path: &str, l: &Line, i: usize) -> Result<(), ScenarioError> {
        let ns = l
            .words
            .get(i)
            .and_then(|t| time(t))
            .ok_or_else(|| self.bad(l, i, "a time (e.g. 2s or 2000, in milliseconds)"))?;
        self.set_at(path, Value::String(fmt_duration_exact(ns)), l, i);
        Ok(())
    }

    /// Word `i` of the line as a whole number.
    fn count(&mut self, path: &str, l: &Line, i: usize) -> Result<(), ScenarioError> {
        let n: u32 = l
            .words
            .get(i)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| self.bad(l, i, "a whole number"))?;
        self.set_at(path, Value::from(n), l, i);
        Ok(())
    }

    /// Word `i` of the line is not what it should be: an error at that word.
    fn bad(&self, l: &Line, i: usize, wanted: &str) -> ScenarioError {
        error(
            self.file,
            Some(l.at(i)),
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
            match l.words[i].as_str() {
                "inter" => self.duration("settings.load_balancer.check_interval", l, i + 1)?,
                "fall" => self.count("settings.load_balancer.fall", l, i + 1)?,
                "rise" => self.count("settings.load_balancer.rise", l, i + 1)?,
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
            ["retries", ..] => self.count("settings.load_balancer.retries", l, 1)?,
            ["timeout", "connect", ..] => {
                self.duration("settings.load_balancer.connect_timeout", l, 2)?
            }
            ["timeout", "check", ..] => {
                self.duration("settings.load_balancer.check_timeout", l, 2)?
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
    // What the file leaves out runs at HAProxy's own defaults, not at kubeadm's example values the
    // scenario defaults to (`retries 1`, `option redispatch`, `timeout connect 5s`, `timeout check
    // 10s`; HAProxy configuration manual: `retries` 3, `option redispatch` off).
    let read_path =
        |imp: &Imported, p: &str| imp.settings.get(p).is_some_and(|st| st.from.file == file);
    let defaults: [(&str, Value, &str); 2] = [
        (
            "settings.load_balancer.retries",
            Value::from(3),
            "no `retries`, HAProxy's default 3",
        ),
        (
            "settings.load_balancer.redispatch",
            Value::Bool(false),
            "no `option redispatch`, HAProxy's default: off",
        ),
    ];
    for (path, value, why) in defaults {
        if !read_path(r.imp, path) {
            let from = Source::new(file, Some(backend.line), why);
            r.imp.set(path, value, from, Authority::Config);
        }
    }
    if !read_path(r.imp, "settings.load_balancer.check_timeout") {
        let src = Source::new(file, None, "no `timeout check`");
        r.imp.not_imported(&src, "HAProxy then bounds a whole check by `inter`; the model bounds its connect by min(`timeout connect`, `inter`) and its answer by `check_timeout` (10s, kubeadm's example)");
    }
    if !read_path(r.imp, "settings.load_balancer.connect_timeout") {
        let src = Source::new(file, None, "no `timeout connect`");
        r.imp.not_imported(&src, "HAProxy then waits for a connection without limit (and warns); the model uses `connect_timeout` (5s, kubeadm's example)");
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

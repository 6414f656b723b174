//! JUnit XML, the test report format that GitHub Actions (test-reporter actions), GitLab (`artifacts:
//! reports: junit`) and Jenkins (the JUnit plugin) all read: `testsuites` > `testsuite` > `testcase`, with
//! a `failure`, `error` or `skipped` child for a test case that did not pass, and `tests`, `failures`,
//! `errors`, `skipped` and `time` (seconds) counted on the suites. All text is XML-escaped; characters
//! that XML 1.0 cannot carry at all (most control characters) become U+FFFD.

use std::fmt::Write;

/// The whole report: the `testsuites` root.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestSuites {
    /// The root's `name`.
    pub name: String,
    /// The suites.
    pub suites: Vec<TestSuite>,
}

/// One `testsuite`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestSuite {
    /// The suite's `name`.
    pub name: String,
    /// The file it came from (`file` attribute), if any.
    pub file: Option<String>,
    /// Its test cases.
    pub cases: Vec<TestCase>,
}

/// One `testcase`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestCase {
    /// `classname`: what CI systems group cases by.
    pub classname: String,
    /// `name`.
    pub name: String,
    /// `file` attribute (GitLab shows it), if any.
    pub file: Option<String>,
    /// Wall-clock seconds.
    pub time_s: f64,
    /// How it ended.
    pub result: CaseResult,
    /// Extra output (`system-out`), if any.
    pub system_out: Option<String>,
}

/// How a test case ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum CaseResult {
    /// It passed.
    #[default]
    Passed,
    /// An assertion failed (`failure`).
    Failure {
        /// The `message` attribute: one line.
        message: String,
        /// The `type` attribute.
        kind: String,
        /// The element's text: details, such as how to replay it.
        body: String,
    },
    /// It could not be run (`error`).
    Error {
        /// The `message` attribute.
        message: String,
        /// The `type` attribute.
        kind: String,
        /// The element's text.
        body: String,
    },
    /// It was not run (`skipped`).
    Skipped {
        /// The `message` attribute.
        message: String,
    },
}

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time: f64,
}

impl Counts {
    fn add(&mut self, c: &TestCase) {
        self.tests += 1;
        match c.result {
            CaseResult::Passed => {}
            CaseResult::Failure { .. } => self.failures += 1,
            CaseResult::Error { .. } => self.errors += 1,
            CaseResult::Skipped { .. } => self.skipped += 1,
        }
        self.time += seconds(c.time_s);
    }

    fn attrs(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            self.tests, self.failures, self.errors, self.skipped, self.time
        )
    }
}

fn seconds(t: f64) -> f64 {
    if t.is_finite() && t > 0.0 {
        t
    } else {
        0.0
    }
}

/// Renders the report as a JUnit XML document.
pub fn render(report: &TestSuites) -> String {
    let mut total = Counts::default();
    for s in &report.suites {
        for c in &s.cases {
            total.add(c);
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" {}>",
        escape_attr(&report.name),
        total.attrs()
    );
    for s in &report.suites {
        render_suite(&mut out, s);
    }
    out.push_str("</testsuites>\n");
    out
}

/// A ` file="..."` attribute, or nothing.
fn file_attr(file: Option<&str>) -> String {
    file.map(|f| format!(" file=\"{}\"", escape_attr(f)))
        .unwrap_or_default()
}

/// One `testsuite` with its counts and its cases.
fn render_suite(out: &mut String, s: &TestSuite) {
    let mut counts = Counts::default();
    for c in &s.cases {
        counts.add(c);
    }
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\"{} {}>",
        escape_attr(&s.name),
        file_attr(s.file.as_deref()),
        counts.attrs()
    );
    for c in &s.cases {
        render_case(out, c);
    }
    out.push_str("  </testsuite>\n");
}

/// One `testcase`: self-closed when it passed without output, else with its `failure`, `error` or
/// `skipped` child and its `system-out`.
fn render_case(out: &mut String, c: &TestCase) {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\"{} time=\"{:.3}\"",
        escape_attr(&c.classname),
        escape_attr(&c.name),
        file_attr(c.file.as_deref()),
        seconds(c.time_s)
    );
    if c.result == CaseResult::Passed && c.system_out.is_none() {
        let _ = writeln!(out, "{open}/>");
        return;
    }
    let _ = writeln!(out, "{open}>");
    match &c.result {
        CaseResult::Passed => {}
        CaseResult::Failure {
            message,
            kind,
            body,
        } => render_problem(out, "failure", message, kind, body),
        CaseResult::Error {
            message,
            kind,
            body,
        } => render_problem(out, "error", message, kind, body),
        CaseResult::Skipped { message } => {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape_attr(message));
        }
    }
    if let Some(o) = &c.system_out {
        let _ = writeln!(out, "      <system-out>{}</system-out>", escape_text(o));
    }
    out.push_str("    </testcase>\n");
}

/// A `failure` or `error` element (`tag`) with its message, type and body.
fn render_problem(out: &mut String, tag: &str, message: &str, kind: &str, body: &str) {
    let _ = writeln!(
        out,
        "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>",
        escape_attr(message),
        escape_attr(kind),
        escape_text(body)
    );
}

/// True for characters XML 1.0 can carry.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for element content.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute value (line breaks and tabs survive as character references).
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TestSuites {
        TestSuites {
            name: "kube-ha-sim check".into(),
            suites: vec![TestSuite {
                name: "a&b".into(),
                file: Some("s/a.json".into()),
                cases: vec![
                    TestCase {
                        classname: "a&b".into(),
                        name: "api.availability >= 0.99".into(),
                        time_s: 0.5,
                        ..TestCase::default()
                    },
                    TestCase {
                        classname: "a&b".into(),
                        name: "x <= 1".into(),
                        time_s: 0.25,
                        result: CaseResult::Failure {
                            message: "x <= 1: actual 2 \"q\"\n".into(),
                            kind: "expectation".into(),
                            body: "replay: kube-ha-sim run 'a b.json' --seed 1 </x> \u{1}".into(),
                        },
                        ..TestCase::default()
                    },
                    TestCase {
                        classname: "a&b".into(),
                        name: "run".into(),
                        result: CaseResult::Error {
                            message: "boom".into(),
                            kind: "run-error".into(),
                            body: String::new(),
                        },
                        ..TestCase::default()
                    },
                ],
            }],
        }
    }

    #[test]
    fn renders_counts_and_escapes() {
        let x = render(&sample());
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kube-ha-sim check\" tests=\"3\" failures=\"1\" errors=\"1\" skipped=\"0\" time=\"0.750\">"), "{x}");
        assert!(
            x.contains("<testsuite name=\"a&amp;b\" file=\"s/a.json\" tests=\"3\""),
            "{x}"
        );
        assert!(
            x.contains("message=\"x &lt;= 1: actual 2 &quot;q&quot;&#10;\""),
            "{x}"
        );
        assert!(x.contains("--seed 1 &lt;/x&gt; \u{FFFD}</failure>"), "{x}");
        assert!(
            x.contains("<error message=\"boom\" type=\"run-error\"></error>"),
            "{x}"
        );
        assert!(x.ends_with("</testsuites>\n"));
    }

    #[test]
    fn escaping_covers_xml_special_and_invalid_characters() {
        assert_eq!(
            escape_text("a<b>&c\u{0}\u{FFFE}"),
            "a&lt;b&gt;&amp;c\u{FFFD}\u{FFFD}"
        );
        assert_eq!(escape_attr("'\"\t"), "&apos;&quot;&#9;");
        assert_eq!(escape_text("ünïcødé 🚀"), "ünïcødé 🚀");
    }
}

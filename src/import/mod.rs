//! `kube-ha-sim import DIR`: a scenario from the files a kubeadm cluster already has (issue 17, "Import
//! what users already have"). Each reader turns one kind of file into settings, each with the file, line
//! and key it came from ([`Source`]), and notes on the values the model cannot represent; [`topology`]
//! derives the cluster's shape from what the files say about nodes and endpoints; [`render`] writes the
//! scenario as YAML with a comment line per setting; and the result is validated before it is written.
//!
//! Files read (every other file is an error, except the ones kubeadm keeps that hold nothing the model
//! has, which are noted): `*.yaml`/`*.yml` (kubeadm configuration documents), `haproxy*.cfg`,
//! `keepalived*.conf` (one per load balancer host), `manifests/*.yaml` (static pods).

pub mod flags;
pub mod haproxy;
pub mod keepalived;
pub mod kubeadm;
pub mod render;
pub mod topology;
pub mod tree;

use crate::scenario::error::ScenarioError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Where a value came from: the file (as shown to the user), its line and column, and the key with
/// its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub file: String,
    pub line: Option<usize>,
    /// 1-based column (in characters) of the value, when the reader knows it: an error about the
    /// value (the scenario loader refusing it, say) points there.
    pub column: Option<usize>,
    pub key: String,
}

impl Source {
    /// A source known by its line at most.
    pub fn new(file: &str, line: Option<usize>, key: impl Into<String>) -> Source {
        Source {
            file: file.to_string(),
            line,
            column: None,
            key: key.into(),
        }
    }

    /// A source at a line and column.
    pub fn at(file: &str, (line, column): (usize, usize), key: impl Into<String>) -> Source {
        Source {
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            key: key.into(),
        }
    }

    /// Where an error about this value points: its line and column (column 1 when only the line is
    /// known).
    pub fn pos(&self) -> Option<(usize, usize)> {
        self.line.map(|l| (l, self.column.unwrap_or(1)))
    }

    /// `FILE:LINE KEY`.
    pub fn describe(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l} {}", self.file, self.key),
            None => format!("{} {}", self.file, self.key),
        }
    }
}

/// How much a source counts when two disagree: what a running static pod's command line says is what
/// runs; a kubeadm configuration is what the manifests were generated from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Authority {
    Config,
    Manifest,
}

/// One scenario setting and its source.
#[derive(Clone, Debug)]
pub struct Setting {
    pub value: Value,
    pub from: Source,
    pub authority: Authority,
}

/// What the files say about the cluster's shape, for [`topology`].
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// `controlPlaneEndpoint` and its value.
    pub control_plane_endpoint: Option<Source>,
    /// `etcd.local` in a ClusterConfiguration.
    pub etcd_local: Option<Source>,
    /// `etcd.external.endpoints`: how many.
    pub etcd_external: Option<(usize, Source)>,
    /// A static pod running etcd.
    pub etcd_manifest: Option<Source>,
    /// etcd's `--initial-cluster`: how many members.
    pub initial_cluster: Option<(usize, Source)>,
    /// kube-apiserver's `--etcd-servers`: how many, and whether they all are this host.
    pub etcd_servers: Option<(usize, bool, Source)>,
    /// HAProxy's backend servers: how many.
    pub haproxy_servers: Option<(usize, Source)>,
    /// Each keepalived.conf's VRRP instance: its priority and whether it starts as MASTER.
    pub keepalived: Vec<(u32, bool, Source)>,
    /// HAProxy or keepalived as a static pod (kubeadm's "Option 2").
    pub lb_static_pod: Option<Source>,
}

/// Everything read from the files.
#[derive(Clone, Debug, Default)]
pub struct Imported {
    /// The scenario's name (the folder's).
    pub name: String,
    /// Settings by field path (`settings.etcd.heartbeat_interval`), topology included.
    pub settings: BTreeMap<String, Setting>,
    /// Values not imported, each with why.
    pub notes: Vec<String>,
    pub facts: Facts,
    /// The files read, in order.
    pub files: Vec<String>,
    /// The folder as the user named it (stripped from file names in the written comments).
    pub dir: String,
}

impl Imported {
    /// Records a setting. A value that disagrees with one already recorded loses to a higher
    /// authority, or to the first of equal authority (kube-scheduler's leader election after
    /// kube-controller-manager's: the model has one for both); the loser is noted.
    pub fn set(&mut self, path: &str, value: Value, from: Source, authority: Authority) {
        let Some(old) = self.settings.get(path) else {
            self.settings.insert(
                path.to_string(),
                Setting {
                    value,
                    from,
                    authority,
                },
            );
            return;
        };
        if old.value == value {
            return;
        }
        if authority > old.authority {
            let note = format!(
                "{} = {}: the manifest's {} = {} runs instead",
                old.from.describe(),
                old.value,
                from.describe(),
                value
            );
            self.notes.push(note);
            self.settings.insert(
                path.to_string(),
                Setting {
                    value,
                    from,
                    authority,
                },
            );
        } else {
            let note = format!(
                "{} = {}: {path} is one setting in the model and {} = {} came first",
                from.describe(),
                value,
                old.from.describe(),
                old.value
            );
            self.notes.push(note);
        }
    }

    /// Notes a value that is not imported and why.
    pub fn not_imported(&mut self, from: &Source, why: &str) {
        self.notes.push(format!("{}: {why}", from.describe()));
    }
}

/// A file a reader does not understand: an error at `file:line:column` (1-based, the column in
/// characters), or about the whole file without a position.
pub fn error(file: &str, at: Option<(usize, usize)>, message: String) -> ScenarioError {
    crate::scenario::error::error_at(file, String::new(), at, message)
}

/// Files kubeadm keeps beside its configuration that hold nothing the model has.
const KNOWN_UNUSED: &[(&str, &str)] = &[
    ("admin.conf", "a kubeconfig: credentials, not settings"),
    (
        "super-admin.conf",
        "a kubeconfig: credentials, not settings",
    ),
    ("kubelet.conf", "a kubeconfig: credentials, not settings"),
    (
        "controller-manager.conf",
        "a kubeconfig: credentials, not settings",
    ),
    ("scheduler.conf", "a kubeconfig: credentials, not settings"),
    (
        "check_apiserver.sh",
        "keepalived's check script: its timing is vrrp_script's, imported from keepalived.conf",
    ),
    (
        "pki",
        "certificates: the model has them by role (expire-cert)",
    ),
    ("tmp", "kubeadm's scratch folder"),
];

/// Reads every file of `dir` (sorted by name, so the result does not depend on the file system).
pub fn import_dir(dir: &Path) -> Result<Imported, ScenarioError> {
    let label = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ScenarioError::whole_file(&label, format!("cannot read the folder: {e}")))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut imp = Imported {
        name: scenario_name(dir),
        dir: label.trim_end_matches('/').to_string(),
        ..Imported::default()
    };
    for name in &names {
        read_entry(dir, name, &mut imp)?;
    }
    if imp.files.is_empty() {
        return Err(ScenarioError::whole_file(
            &label,
            "no file to import; import reads kubeadm configuration (*.yaml), haproxy*.cfg, \
             keepalived*.conf and manifests/*.yaml"
                .into(),
        ));
    }
    Ok(imp)
}

fn read_entry(dir: &Path, name: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let path = dir.join(name);
    let shown = path.display().to_string();
    if let Some((_, why)) = KNOWN_UNUSED.iter().find(|(n, _)| *n == name) {
        imp.not_imported(&Source::new(&shown, None, ""), why);
        return Ok(());
    }
    if name == "manifests" && path.is_dir() {
        return kubeadm::read_manifests(&path, imp);
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("haproxy") && lower.ends_with(".cfg") {
        let text = read(&path, &shown)?;
        imp.files.push(shown.clone());
        return haproxy::read(&text, &shown, imp).map_err(|e| e.with_source(&text));
    }
    if lower.starts_with("keepalived") && lower.ends_with(".conf") {
        let text = read(&path, &shown)?;
        imp.files.push(shown.clone());
        return keepalived::read(&text, &shown, imp).map_err(|e| e.with_source(&text));
    }
    if crate::scenario::yaml::is_yaml(name) {
        let text = read(&path, &shown)?;
        imp.files.push(shown.clone());
        return kubeadm::read_config(&text, &shown, imp).map_err(|e| e.with_source(&text));
    }
    Err(ScenarioError::whole_file(
        &shown,
        "not a file import knows; it reads kubeadm configuration (*.yaml, *.yml), haproxy*.cfg, \
         keepalived*.conf and manifests/*.yaml (static pods)"
            .into(),
    ))
}

/// A file's text, with the scenario loader's limits and errors.
pub fn read(path: &Path, shown: &str) -> Result<String, ScenarioError> {
    crate::scenario::load::read_text(path, shown, "configuration", "")
        .map(|t| t.strip_prefix('\u{feff}').unwrap_or(&t).to_string())
}

/// The scenario's name: the folder's, as `new` makes names from files.
fn scenario_name(dir: &Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let base = abs
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(90)
        .collect();
    let name = name.trim_matches(['.', '-']).to_string();
    if name.is_empty() {
        "imported".into()
    } else {
        format!("imported-{name}")
    }
}

/// The scenario text for what was read: topology derived, settings rendered with their sources,
/// validated by the scenario loader (a value out of the model's range is an error at its source).
pub fn scenario_text(imp: &mut Imported, out_label: &str) -> Result<String, ScenarioError> {
    topology::derive(imp);
    let text = render::yaml(imp);
    match crate::scenario::parse_scenario(&text, out_label) {
        Ok(_) => Ok(text),
        Err(e) => Err(blame(imp, e)),
    }
}

/// A validation error on the written scenario, moved to the file and line its setting came from.
fn blame(imp: &Imported, e: ScenarioError) -> ScenarioError {
    let Some(s) = imp.settings.get(&e.path) else {
        return e;
    };
    let msg = format!("{} (imported as `{}`): {}", s.from.key, e.path, e.message);
    let e = error(&s.from.file, s.from.pos(), msg);
    match std::fs::read_to_string(&s.from.file) {
        Ok(text) => e.with_source(&text),
        Err(_) => e,
    }
}

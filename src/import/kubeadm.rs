//! kubeadm's configuration documents (`ClusterConfiguration`, `InitConfiguration`,
//! `JoinConfiguration`, `KubeletConfiguration`; kubeadm.k8s.io v1beta3 and v1beta4) and the static pod
//! manifests kubeadm writes to `/etc/kubernetes/manifests` (each container's command line).

use super::flags::{self, Proc};
use super::tree::{documents, Node, Value};
use super::{error, Authority, Imported, Source};
use crate::scenario::error::ScenarioError;
use std::path::Path;

/// Reads a kubeadm configuration file: every `---` document must be a kind kubeadm takes.
pub fn read_config(text: &str, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let docs = documents(text, file)?;
    if docs.is_empty() {
        return Err(error(file, None, "the file is empty; expected kubeadm configuration documents (kind: ClusterConfiguration, InitConfiguration...)".into()));
    }
    for doc in &docs {
        let kind = doc.get("kind").and_then(Node::text).ok_or_else(|| {
            error(file, Some(doc.pos()), "a document without `kind`; expected a kubeadm configuration (ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration)".into())
        })?;
        match kind {
            "ClusterConfiguration" => cluster(doc, file, imp)?,
            "InitConfiguration" | "JoinConfiguration" => init(doc, kind, file, imp)?,
            "KubeletConfiguration" => kubelet(doc, file, imp)?,
            "KubeProxyConfiguration" => imp.not_imported(
                &Source::at(file, doc.pos(), kind),
                "kube-proxy's settings are not modelled (a worker's kube-proxy follows the Service's endpoints)",
            ),
            other => {
                return Err(error(
                    file,
                    doc.get("kind").map(Node::pos),
                    format!("kind `{other}` is not a kubeadm configuration; import reads ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration"),
                ))
            }
        }
    }
    Ok(())
}

/// The keys of a ClusterConfiguration that [`cluster`] reads.
const CLUSTER_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "controlPlaneEndpoint",
    "etcd",
    "apiServer",
    "controllerManager",
    "scheduler",
];

fn cluster(doc: &Node, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    if let Some(n) = doc.get("controlPlaneEndpoint") {
        let v = n.text().unwrap_or_default();
        imp.facts.control_plane_endpoint = Some(Source::at(
            file,
            n.pos(),
            format!("controlPlaneEndpoint: {v}"),
        ));
    }
    if let Some(local) = doc.at("etcd.local") {
        imp.facts.etcd_local = Some(Source::at(file, local.pos(), "etcd.local"));
        if let Some(args) = local.get("extraArgs") {
            extra_args(args, Proc::Etcd, "etcd.local.extraArgs", file, imp)?;
        }
    }
    if let Some(ext) = doc.at("etcd.external") {
        let eps = ext.get("endpoints").map(Node::items).unwrap_or_default();
        let src = Source::at(
            file,
            ext.pos(),
            format!("etcd.external.endpoints ({} listed)", eps.len()),
        );
        if eps.is_empty() {
            return Err(error(
                file,
                Some(ext.pos()),
                "etcd.external lists no endpoints; an external etcd cluster needs at least one"
                    .into(),
            ));
        }
        imp.facts.etcd_external = Some((eps.len(), src));
    }
    for (key, proc) in [
        ("apiServer", Proc::ApiServer),
        ("controllerManager", Proc::ControllerManager),
        ("scheduler", Proc::Scheduler),
    ] {
        if let Some(args) = doc.at(&format!("{key}.extraArgs")) {
            extra_args(args, proc, &format!("{key}.extraArgs"), file, imp)?;
        }
    }
    for (k, v) in doc.entries() {
        if !CLUSTER_KEYS.contains(&k.as_str()) {
            imp.not_imported(&Source::at(file, v.pos(), k.as_str()), "not modelled (names, versions, networks and image settings do not change availability in the model)");
        }
    }
    Ok(())
}

/// `extraArgs`: a mapping (v1beta3) or a list of `{name, value}` (v1beta4).
fn extra_args(
    args: &Node,
    proc: Proc,
    key: &str,
    file: &str,
    imp: &mut Imported,
) -> Result<(), ScenarioError> {
    let pairs: Vec<(String, &Node)> = match &args.value {
        Value::Map(entries) => entries.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::List(items) => items
            .iter()
            .map(|i| {
                let name = i.get("name").and_then(Node::text);
                let value = i.get("value");
                match (name, value) {
                    (Some(n), Some(v)) => Ok((n.to_string(), v)),
                    _ => Err(error(file, Some(i.pos()), format!("{key}: an item without `name` and `value` (kubeadm v1beta4 writes extraArgs as a list of {{name, value}})"))),
                }
            })
            .collect::<Result<_, _>>()?,
        Value::Scalar(_) => {
            return Err(error(file, Some(args.pos()), format!("{key}: expected a mapping of flag names to values, or a list of {{name, value}}")))
        }
    };
    for (name, v) in pairs {
        let text = v.text().unwrap_or_default();
        let src = Source::at(file, v.pos(), format!("{key} {name}: {text}"));
        apply_flag(
            proc,
            name.trim_start_matches('-'),
            text,
            src,
            Authority::Config,
            imp,
        )?;
    }
    Ok(())
}

/// One component flag: a setting if the model has one, else a note; a value that cannot be read is
/// an error at its line.
fn apply_flag(
    proc: Proc,
    name: &str,
    text: &str,
    src: Source,
    authority: Authority,
    imp: &mut Imported,
) -> Result<(), ScenarioError> {
    match name {
        "etcd-servers" if proc == Proc::ApiServer => {
            let servers: Vec<&str> = text.split(',').filter(|s| !s.trim().is_empty()).collect();
            let local = servers
                .iter()
                .all(|s| s.contains("127.0.0.1") || s.contains("localhost") || s.contains("[::1]"));
            imp.facts.etcd_servers = Some((servers.len(), local, src));
            return Ok(());
        }
        "initial-cluster" if proc == Proc::Etcd => {
            let n = text.split(',').filter(|s| !s.trim().is_empty()).count();
            imp.facts.initial_cluster = Some((n, src));
            return Ok(());
        }
        _ => {}
    }
    let Some(flag) = flags::find(proc, name) else {
        imp.not_imported(&src, flags::why_not(name));
        return Ok(());
    };
    let value = flags::value(flag.kind, text)
        .map_err(|why| error(&src.file, src.pos(), format!("{}: {why}", src.key)))?;
    imp.set(flag.path, value, src, authority);
    Ok(())
}

fn init(doc: &Node, kind: &str, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    for (k, v) in doc.entries() {
        let src = Source::at(file, v.pos(), format!("{kind} {k}"));
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "nodeRegistration" => node_registration(v, kind, file, imp)?,
            "localAPIEndpoint" => imp.not_imported(&src, "this node's own address; the model names its nodes cp-N"),
            _ => imp.not_imported(&src, "not modelled (tokens, discovery and certificate keys do not change availability in the model)"),
        }
    }
    Ok(())
}

fn node_registration(
    reg: &Node,
    kind: &str,
    file: &str,
    imp: &mut Imported,
) -> Result<(), ScenarioError> {
    for (k, v) in reg.entries() {
        let src = Source::at(
            file,
            v.pos(),
            format!("{kind} nodeRegistration.{k}: {}", v.text().unwrap_or("...")),
        );
        match k.as_str() {
            "kubeletExtraArgs" => extra_args(v, Proc::Kubelet, &format!("{kind} nodeRegistration.kubeletExtraArgs"), file, imp)?,
            "name" => imp.not_imported(&src, "the model names control-plane nodes cp-1, cp-2, ..."),
            "taints" if v.items().is_empty() => imp.not_imported(&src, "untainted control-plane nodes: in the model a workload opts in with `on_control_plane: true`"),
            "taints" => imp.not_imported(&src, "the model taints control-plane nodes NoSchedule, as kubeadm does by default"),
            _ => imp.not_imported(&src, "not modelled (the container runtime and image pulls are outside the model)"),
        }
    }
    Ok(())
}

/// KubeletConfiguration fields the model has, and how each is read.
const KUBELET_FIELDS: &[(&str, &str, flags::Kind)] = &[
    (
        "nodeStatusUpdateFrequency",
        "settings.kubelet.node_status_update_frequency",
        flags::Kind::GoDuration,
    ),
    (
        "nodeLeaseDurationSeconds",
        "settings.kubelet.node_lease_duration",
        flags::Kind::Seconds,
    ),
    ("maxPods", "settings.kubelet.max_pods", flags::Kind::Count),
];

fn kubelet(doc: &Node, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    for (k, v) in doc.entries() {
        if k == "apiVersion" || k == "kind" {
            continue;
        }
        let text = v.text().unwrap_or("...");
        let src = Source::at(file, v.pos(), format!("KubeletConfiguration {k}: {text}"));
        match KUBELET_FIELDS.iter().find(|(f, _, _)| f == k) {
            Some((_, path, kind)) => {
                let value = flags::value(*kind, text)
                    .map_err(|why| error(file, Some(v.pos()), format!("{k}: {why}")))?;
                imp.set(path, value, src, Authority::Config);
            }
            None => imp.not_imported(&src, "the model's kubelet has no such setting"),
        }
    }
    Ok(())
}

/// Reads `manifests/*.yaml`: static pods, one per file.
pub fn read_manifests(dir: &Path, imp: &mut Imported) -> Result<(), ScenarioError> {
    let label = dir.display().to_string();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ScenarioError::whole_file(&label, format!("cannot read the folder: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let shown = path.display().to_string();
        if !crate::scenario::yaml::is_yaml(&name) {
            return Err(ScenarioError::whole_file(
                &shown,
                "not a static pod manifest; manifests/ holds *.yaml Pods".into(),
            ));
        }
        let text = super::read(&path, &shown)?;
        imp.files.push(shown.clone());
        manifest(&text, &shown, imp).map_err(|e| e.with_source(&text))?;
    }
    Ok(())
}

fn manifest(text: &str, file: &str, imp: &mut Imported) -> Result<(), ScenarioError> {
    let docs = documents(text, file)?;
    let pod = match docs.as_slice() {
        [pod] if pod.get("kind").and_then(Node::text) == Some("Pod") => pod,
        [doc, ..] => {
            return Err(error(
                file,
                Some(doc.pos()),
                "not a static pod manifest: expected one document with `kind: Pod`".into(),
            ))
        }
        [] => {
            return Err(error(
                file,
                None,
                "the file is empty; expected a static pod (kind: Pod)".into(),
            ))
        }
    };
    let containers = pod
        .at("spec.containers")
        .map(Node::items)
        .unwrap_or_default();
    let Some(container) = containers.first() else {
        return Err(error(
            file,
            Some(pod.pos()),
            "the pod has no spec.containers".into(),
        ));
    };
    let command: Vec<&Node> = container
        .get("command")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .chain(container.get("args").map(Node::items).unwrap_or_default())
        .collect();
    let image = container
        .get("image")
        .and_then(Node::text)
        .unwrap_or_default();
    let first = command.first().and_then(|n| n.text()).unwrap_or_default();
    let Some(proc) = Proc::from_binary(first) else {
        if image.contains("haproxy")
            || image.contains("keepalived")
            || first.contains("haproxy")
            || first.contains("keepalived")
        {
            let line = container.get("image").map(|n| n.line);
            imp.facts.lb_static_pod.get_or_insert(Source::new(
                file,
                line,
                format!("image: {image}"),
            ));
        } else {
            imp.not_imported(&Source::at(file, container.pos(), format!("image: {image}")), "not a control-plane process the model has (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, HAProxy, keepalived)");
        }
        return Ok(());
    };
    if proc == Proc::Etcd {
        imp.facts.etcd_manifest = Some(Source::new(
            file,
            command.first().map(|n| n.line),
            "etcd static pod",
        ));
    }
    for arg in command.iter().skip(1) {
        let Some(text) = arg.text() else { continue };
        let Some(flag) = text.strip_prefix("--").or_else(|| text.strip_prefix('-')) else {
            imp.not_imported(&Source::at(file, arg.pos(), text), "not a flag");
            continue;
        };
        let (name, value) = flag.split_once('=').unwrap_or((flag, "true"));
        let src = Source::at(
            file,
            arg.pos(),
            format!("{} --{name}={value}", proc.binary()),
        );
        apply_flag(proc, name, value, src, Authority::Manifest, imp)?;
    }
    Ok(())
}

//! `kube-ha-sim import DIR [--out FILE] [--force]`: a scenario from a kubeadm cluster's files (see
//! `crate::import`), written as commented YAML to FILE or printed. The scenario is validated before it
//! is written; an unreadable file, or a value the model cannot take, is an error naming the file and
//! line (exit 2).

use super::{EXIT_BAD_INPUT, EXIT_OK};
use std::path::PathBuf;

/// The options of `kube-ha-sim import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The folder with the cluster's files: kubeadm configuration (*.yaml), haproxy*.cfg,
    /// keepalived*.conf (one per load balancer), manifests/*.yaml (static pods).
    pub dir: PathBuf,
    /// The scenario file to write (.yaml or .yml); without it, the scenario goes to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Imports DIR; 0, or 2 on a file that cannot be read or used.
pub fn cmd_import(args: &ImportArgs) -> i32 {
    let label = match &args.out {
        Some(out) => {
            let shown = out.display().to_string();
            if !crate::scenario::yaml::is_yaml(&shown) {
                eprintln!("error: {shown}: import writes YAML (its comments say where each setting came from); name the file .yaml or .yml");
                return EXIT_BAD_INPUT;
            }
            if out.exists() && !args.force {
                eprintln!(
                    "error: {shown}: the file exists; import does not overwrite without --force"
                );
                return EXIT_BAD_INPUT;
            }
            shown
        }
        None => "imported.yaml".to_string(),
    };
    let mut imp = match crate::import::import_dir(&args.dir) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let text = match crate::import::scenario_text(&mut imp, &label) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let Some(out) = &args.out else {
        out!("{text}");
        return EXIT_OK;
    };
    if let Err(e) = crate::report::write_atomic(out, text.as_bytes()) {
        eprintln!("error: {label}: cannot write it: {e}");
        return EXIT_BAD_INPUT;
    }
    let from_files = imp
        .settings
        .values()
        .filter(|s| !s.from.file.is_empty())
        .count();
    eprintln!(
        "wrote {label}: {from_files} settings from {} files, {} values not imported (listed at its end); run it with: kube-ha-sim run {}",
        imp.files.len(),
        imp.notes.len(),
        crate::check::shell_quote(&label)
    );
    EXIT_OK
}

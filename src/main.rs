//! The thin binary: parse arguments, call the library, exit with its code.

fn main() {
    let code = kube_ha_sim::cli::main_with_args(std::env::args().collect());
    std::process::exit(code);
}

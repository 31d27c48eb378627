//! `expunge-sim`: see `expunge-sim --help` and DESIGN.md, "The CLI contract".

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(scenarios::cli::main(&args));
}

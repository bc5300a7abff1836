//! Generates the parser from `src/grammar.lalrpop` into `OUT_DIR`, so the
//! generated code is never committed and always matches the grammar.
fn main() {
    if let Err(e) = lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .emit_rerun_directives(true)
        // Cargo reruns this script only when the grammar changed; always
        // regenerate then (lalrpop's own staleness check looks at mtimes,
        // which copies and checkouts do not keep meaningful).
        .force_build(true)
        .process()
    {
        // A build script reports failure by exiting non-zero; lalrpop has
        // already printed the conflict report.
        eprintln!("grammar.lalrpop: {e}");
        std::process::exit(1);
    }
}

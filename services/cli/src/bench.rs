//! `tandem bench`: the benchmark is its own binary, `tandem-bench` (crate `bench/`), so that
//! this command carries none of its code or dependencies. It is looked for next to this
//! executable (where cargo builds it), then on `PATH`, and run with the arguments as given;
//! its exit code is this command's.

use std::{
    ffi::OsString,
    path::PathBuf,
    process::{Command, ExitCode},
};

use anyhow::Context as _;

use crate::exit;

/// The benchmark's binary.
const BINARY: &str = "tandem-bench";

/// Arguments of `tandem bench`: all of them are the benchmark's (`tandem bench --help` lists
/// them).
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

/// Runs `tandem-bench` with `args` and waits for it.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let binary = locate().with_context(|| {
        format!(
            "{BINARY} is not built: build it next to tandem with \
             `cargo build --release -p tandem-bench` (the benchmark also runs the service \
             binaries: `cargo build --release --workspace --bins` builds everything)"
        )
    })?;
    let status = Command::new(&binary)
        .args(args.args)
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    // A benchmark ended by a signal has no exit code: that is a failure too.
    Ok(status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .map_or(ExitCode::from(exit::FAILURE), ExitCode::from))
}

/// `tandem-bench` next to this executable, else on `PATH`.
fn locate() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(BINARY)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(BINARY));
    beside
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
}

//! The `runbook` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

use runbook::cli::{self, Cli};
use runbook::error::{Error, Exit};

// mimalloc: parsing allocates many small strings, and glibc's malloc spent a
// tenth of a parse on them (docs/decisions.md, "Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // glibc's malloc serves only libc's own calls (`opendir`, `getpwuid`):
    // one arena for them, rather than 64 MiB of address space reserved for
    // each thread that makes one, which under `ulimit -v` ran out long
    // before the memory did (docs/decisions.md, "Allocator").
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a process-wide setting, made before any other thread exists.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
    // `runbook __contain SPEC`: the namespaces of a contained rehearsal,
    // made while the process is still single-threaded.
    #[cfg(target_os = "linux")]
    if std::env::args_os().nth(1).is_some_and(|a| a == "__contain") {
        let spec = std::env::args().nth(2).unwrap_or_default();
        std::process::exit(runbook::rehearse::contain::holder::main(&spec));
    }
    // Under a stub name (`kubectl` -> runbook) inside a rehearsal: answer as the shim.
    if let Some(code) = runbook::rehearse::shim::intercept() {
        std::process::exit(code);
    }
    // `COMPLETE=bash runbook -- …`: a shell asking for completions.
    cli::complete::answer_and_exit();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's usage errors are invalid input (SPEC §4: exit 2).
            std::process::exit(if e.use_stderr() { Exit::Invalid.code() } else { Exit::Success.code() });
        }
    };
    let code = match cli::run(cli) {
        Ok(exit) => exit.code(),
        Err(e) => {
            match &e {
                Error::Reported(_) => {}
                e => runbook::errln!("{e}"),
            }
            e.exit().code()
        }
    };
    // Output that never reached stdout (a full disk): not a success.
    let code = match runbook::stdout::failed() {
        Some(e) if code == Exit::Success.code() => {
            runbook::errln!("error: writing the output failed: {e}");
            Exit::Failure.code()
        }
        _ => code,
    };
    // Idle namespace holders end, and their stages go (exit runs no destructors).
    runbook::rehearse::contain::release();
    std::process::exit(code);
}

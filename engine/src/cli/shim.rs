//! `runbook __shim NAME [ARGS]...` (hidden): the path stubs of a rehearsal
//! (`ops/scripts/smoke_devnet.sh` in the sandbox) run this; program stubs
//! reach the same code through `main` under their own name (`kubectl`).

/// Answer the call and exit with the stub's code (any of 0-255, not one of
/// SPEC §4's).
pub fn run(name: &str, args: &[String]) -> ! {
    std::process::exit(crate::rehearse::shim::run(name, args))
}

//! `runbook-record-shim`: the program stubs of `play --record-fixture`
//! (`kubectl` → this binary) run the real program and log the call
//! ([`runbook::rehearse::record::pass_through`]). A binary of its own
//! because every recorded call starts it: it links only that code, and
//! starts in a fraction of the time the whole `runbook` binary takes to
//! load. Without it next to `runbook`, the `runbook` binary is the shim.

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let rest: Vec<std::ffi::OsString> = args.collect();
    std::process::exit(runbook::rehearse::record::pass_through(&name, &rest))
}

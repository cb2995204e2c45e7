//! `ssh`'s command line as OpenSSH reads it: options, the host, options
//! again, then the remote command. The remote command is what the hazard
//! table judges (`ssh n1 sudo reboot` reboots): ssh joins its words with
//! spaces and the remote shell splits them again.

use super::opts::{self, Spec};

/// The options of `ssh` that take a value (`-p 22`, `-i key`, `-oX=y`).
const SPEC: Spec = Spec { short: "bceilmopBDEFIJLOPQRSWw", attached: "", long: &[], posix: true };

/// An `ssh` command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ssh<'a> {
    pub host: Option<&'a str>,
    /// The remote command's words (none: an interactive shell, or a script on stdin).
    pub command: Vec<&'a str>,
    /// Nothing runs on the host: `-N` (a tunnel), `-W`, `-O` (a control
    /// command), `-G` (prints the configuration), `-Q`, `-V`.
    pub no_command: bool,
    /// `-N` without `-f`: a tunnel that holds the play until killed.
    pub tunnel: bool,
    /// `-s`: the command names a subsystem (`sftp`), not a shell command.
    pub subsystem: bool,
}

/// Read the words after `ssh`.
pub fn parse(args: &[String]) -> Ssh<'_> {
    let mut out = Ssh::default();
    let mut flags = Vec::new();
    let first = opts::parse(args, &SPEC);
    flags.extend(first.opts);
    let mut at = first.end;
    let terminated = at > 0 && args[at - 1] == "--";
    if let Some(host) = args.get(at) {
        out.host = Some(host);
        at += 1;
        if !terminated {
            let again = opts::parse(&args[at..], &SPEC);
            flags.extend(again.opts);
            at += again.end;
        }
    }
    out.command = args[at.min(args.len())..].iter().map(String::as_str).collect();
    let has = |c: char| flags.iter().any(|o| matches!(o, opts::Opt::Short(x, _) if *x == c));
    out.no_command = ['N', 'W', 'O', 'G', 'Q', 'V'].into_iter().any(has);
    out.tunnel = has('N') && !has('f');
    out.subsystem = has('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn host_and_command_past_options_with_values() {
        let a = split("-i ~/.ssh/k -p 2222 -o StrictHostKeyChecking=no -l ops -J bastion n1 sudo reboot");
        let s = parse(&a);
        assert_eq!((s.host, s.command.as_slice()), (Some("n1"), ["sudo", "reboot"].as_slice()));
        let a = split("-tp22 -oBatchMode=yes n1 -v df -h");
        let s = parse(&a);
        assert_eq!((s.host, s.command.as_slice()), (Some("n1"), ["df", "-h"].as_slice()));
        let a = split("-- n1 -v");
        assert_eq!(parse(&a).command, ["-v"]);
    }

    #[test]
    fn without_a_command() {
        let a = split("-F cfg ops@n1");
        let s = parse(&a);
        assert_eq!((s.host, s.command.len(), s.no_command), (Some("ops@n1"), 0, false));
        let a = split("-N -L 8080:localhost:80 n1");
        let s = parse(&a);
        assert!(s.no_command && s.tunnel && s.command.is_empty());
        assert!(!parse(&split("-fN -L 8080:localhost:80 n1")).tunnel);
    }
}

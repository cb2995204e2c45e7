//! Shell blocks written as a terminal session: `$ ` before each command,
//! sometimes with what the command printed after it. Run as they are, the
//! prompts are commands (`$: command not found`) and the output lines too.
//! A block of prompted commands only becomes a step without its prompts;
//! one that shows output stays documentation (which lines are output is the
//! reader's guess, not the importer's).

/// What the prompts of a block say.
#[derive(Debug, PartialEq, Eq)]
pub enum Prompts {
    /// No line starts with a prompt.
    None,
    /// Every command line does: the byte range of each prompt in the body
    /// (`$` and the space after it).
    Commands(Vec<std::ops::Range<usize>>),
    /// Some lines are neither prompted commands nor their continuations.
    WithOutput,
}

pub fn prompts(body: &str) -> Prompts {
    let mut found = Vec::new();
    let mut output = false;
    // The line before ended with `\`: this one continues its command.
    let mut continued = false;
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let text = line.trim_end_matches(['\n', '\r']);
        let rest = text.trim_start();
        if rest.is_empty() {
            continued = false;
            continue;
        }
        if !continued {
            if rest == "$" || rest.starts_with("$ ") {
                // A session starts with a prompt: a `$ ` after a first
                // command is that command's (a heredoc's text).
                if output && found.is_empty() {
                    return Prompts::None;
                }
                let p = start + (text.len() - rest.len());
                found.push(p..(p + 2).min(start + text.len()));
            } else {
                output = true;
            }
        }
        continued = text.ends_with('\\');
    }
    match (found.is_empty(), output) {
        (true, _) => Prompts::None,
        (false, true) => Prompts::WithOutput,
        (false, false) => Prompts::Commands(found),
    }
}

/// `body` without the prompts `p` found in it.
pub fn strip(body: &str, p: &[std::ops::Range<usize>]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut from = 0;
    for r in p {
        out.push_str(&body[from..r.start]);
        from = r.end;
    }
    out.push_str(&body[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompted_commands_lose_their_prompts() {
        let body = "$ kubectl get pods \\\n    -n prod\n\n  $ kubectl rollout status deploy/web\n$\n";
        let Prompts::Commands(p) = prompts(body) else { panic!("commands: {:?}", prompts(body)) };
        assert_eq!(strip(body, &p), "kubectl get pods \\\n    -n prod\n\n  kubectl rollout status deploy/web\n\n");
    }

    #[test]
    fn output_after_a_prompt_makes_a_transcript() {
        assert_eq!(prompts("$ kubectl get pods\nNAME READY\nweb-1 1/1\n"), Prompts::WithOutput);
        assert_eq!(prompts("kubectl get pods\necho $HOME\n"), Prompts::None);
        assert_eq!(prompts("echo a \\\n$ b\n"), Prompts::None, "a continued line is the command's, even with a `$`");
        assert_eq!(prompts("cat <<EOF\n$ text\nEOF\n"), Prompts::None, "a session starts with a prompt");
    }
}

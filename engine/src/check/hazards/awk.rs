//! awk programs that change the system: `system(…)`, a pipe to or from a
//! command (`print | "sh"`, `"date" | getline`, `|&`), output to a file
//! (`print > "out"`; not `"/dev/stderr"`), and gawk's `-i inplace` (it
//! edits its files) or `-o`/`-p`/`-d` (they write `awkprof.out` and the
//! like). A program's strings and regular expressions are not looked into:
//! `/a|b/` is no pipe, and `$4 > 0` outside a `print` compares.

use super::Call;
use super::files::harmless;
use super::opts::Spec;

/// awk's options that take a value (gawk's `-o[FILE]`: attached only).
pub const AWK: Spec = Spec {
    short: "fFvEileW",
    attached: "dDoLp",
    long: &["--file", "--field-separator", "--assign", "--exec", "--include", "--load", "--source"],
    posix: false,
};

/// Does the awk call change the system?
pub fn writes(c: &Call) -> bool {
    if !matches!(c.program.as_str(), "awk" | "gawk" | "mawk" | "nawk") {
        return false;
    }
    let o = c.opts(&AWK);
    if o.values('i', "include").iter().any(|v| v.trim_end_matches(".awk") == "inplace")
        || o.has('o', "pretty-print")
        || o.has('p', "profile")
        || o.has('d', "dump-variables")
    {
        return true;
    }
    let mut programs = o.values('e', "source");
    if programs.is_empty() && !o.has('f', "file") && !o.has('E', "exec") {
        programs.extend(o.operands().next());
    }
    programs.into_iter().any(program_writes)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Str(String),
    Word(String),
    Op(String),
}

/// Does an awk program run a command or write a file?
fn program_writes(src: &str) -> bool {
    let toks = tokens(src);
    let mut print: Option<i32> = None;
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        let next = toks.get(i + 1);
        match t {
            Tok::Word(w) if w == "system" && next == Some(&Tok::Op("(".into())) => return true,
            Tok::Word(w) if w == "print" || w == "printf" => print = Some(depth),
            Tok::Op(o) => match o.as_str() {
                "|" | "|&" => return true,
                "(" => depth += 1,
                ")" => depth -= 1,
                ";" | "\n" | "{" | "}" => print = None,
                ">" | ">>" if print == Some(depth) && !matches!(next, Some(Tok::Str(f)) if harmless(f)) => {
                    return true;
                }
                _ => {}
            },
            _ => {}
        }
    }
    false
}

/// Keywords after which a `/` starts a regular expression.
const BEFORE_OPERAND: [&str; 6] = ["print", "printf", "return", "in", "getline", "case"];

fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // After an operand a `/` divides; elsewhere it starts a regular expression.
    let mut operand = false;
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\r' => i += 1,
            '\\' if c.get(i + 1) == Some(&'\n') => i += 2,
            '#' => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' && i + 1 < c.len() {
                        i += 1;
                    }
                    s.push(c[i]);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Str(s));
                operand = true;
            }
            '/' if !operand => {
                i += 1;
                let mut bracket = false;
                while i < c.len() && (bracket || c[i] != '/') {
                    match c[i] {
                        '\\' => i += 1,
                        '[' => bracket = true,
                        ']' => bracket = false,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
                operand = true;
            }
            c0 if c0.is_alphanumeric() || c0 == '_' => {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                    i += 1;
                }
                let w: String = c[start..i].iter().collect();
                operand = !BEFORE_OPERAND.contains(&w.as_str());
                out.push(Tok::Word(w));
            }
            _ => {
                let two: String = c[i..(i + 2).min(c.len())].iter().collect();
                let op = if ["||", "&&", "|&", ">>", ">=", "<=", "==", "!=", "!~", "++", "--"].contains(&two.as_str()) {
                    two
                } else {
                    ch.to_string()
                };
                i += op.chars().count();
                operand = matches!(op.as_str(), ")" | "]" | "++" | "--" | "$");
                out.push(Tok::Op(op));
            }
        }
    }
    out
}

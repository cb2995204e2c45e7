//! A command's options as getopt reads them, for the tools whose options
//! decide what they do: short clusters (`-sSd x`, `-XPOST`, `-i.bak`), long
//! options (`--data x`, `--data=x`), values, operands, and where the options
//! end (`sudo -u x CMD…`: at the command). Each tool says which of its
//! options take a value; a value is never read as an option or an operand.

/// Which options of a tool take a value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spec {
    /// Short options taking a value, attached or the next word (`-d x`, `-dx`, `-sd x`).
    pub short: &'static str,
    /// Short options whose value can only be attached (`sed -i.bak`, `xargs -l5`).
    pub attached: &'static str,
    /// Long options taking a value, with their dashes (`--data`: `--data x`; `--data=x` always reads).
    pub long: &'static [&'static str],
    /// Options end at the first operand (getopt's `+`: `sudo`, `env`, `ssh`, `watch`):
    /// the words from there on are a command, not options.
    pub posix: bool,
}

/// One option or operand of a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt<'a> {
    /// A short option and its value (for an option taking one).
    Short(char, Option<&'a str>),
    /// A long option without its dashes, and its value (`=x`, or the next word for an option taking one).
    Long(&'a str, Option<&'a str>),
    /// A word that is no option nor an option's value.
    Operand(&'a str),
}

/// A command line read against a [`Spec`].
#[derive(Debug)]
pub struct Parsed<'a> {
    pub opts: Vec<Opt<'a>>,
    /// Index of the first word after the options: after `--`, or (`posix`)
    /// the first operand. `args.len()` when there is none.
    pub end: usize,
}

impl<'a> Parsed<'a> {
    /// A short option, or a long one (without dashes), given: its value, or `Some("")` when it has none.
    pub fn get(&self, short: char, long: &str) -> Option<&'a str> {
        self.opts.iter().find_map(|o| match *o {
            Opt::Short(c, v) if c == short => Some(v.unwrap_or("")),
            Opt::Long(l, v) if !long.is_empty() && l == long => Some(v.unwrap_or("")),
            _ => None,
        })
    }

    pub fn has(&self, short: char, long: &str) -> bool {
        self.get(short, long).is_some()
    }

    /// Every value of a short or long option (`psql -c A -c B`).
    pub fn values(&self, short: char, long: &str) -> Vec<&'a str> {
        self.opts
            .iter()
            .filter_map(|o| match *o {
                Opt::Short(c, Some(v)) if c == short => Some(v),
                Opt::Long(l, Some(v)) if !long.is_empty() && l == long => Some(v),
                _ => None,
            })
            .collect()
    }

    /// Long options (without dashes) whose name is any of `names` or an
    /// abbreviation of one (`--vac` for `--vacuum-size`: GNU getopt_long
    /// takes a unique prefix).
    pub fn long_prefix_of(&self, names: &[&str]) -> bool {
        self.opts.iter().any(|o| match o {
            Opt::Long(l, _) => names.iter().any(|n| *n == *l || (l.len() >= 2 && n.starts_with(l))),
            _ => false,
        })
    }

    pub fn operands(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.opts.iter().filter_map(|o| match *o {
            Opt::Operand(w) => Some(w),
            _ => None,
        })
    }
}

/// Read `args` (the words after the program) against `spec`.
pub fn parse<'a>(args: &'a [String], spec: &Spec) -> Parsed<'a> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            opts.extend(args[i + 1..].iter().map(|w| Opt::Operand(w.as_str())));
            return Parsed { opts, end: i + 1 };
        }
        if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, v)) => opts.push(Opt::Long(name, Some(v))),
                None if spec.long.iter().any(|l| l.strip_prefix("--") == Some(long)) => {
                    opts.push(Opt::Long(long, args.get(i + 1).map(String::as_str)));
                    i += 1;
                }
                None => opts.push(Opt::Long(long, None)),
            }
        } else if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) {
            for (k, ch) in cluster.char_indices() {
                let rest = &cluster[k + ch.len_utf8()..];
                if spec.short.contains(ch) {
                    let v = if rest.is_empty() {
                        i += 1;
                        args.get(i).map(String::as_str)
                    } else {
                        Some(rest)
                    };
                    opts.push(Opt::Short(ch, v));
                    break;
                }
                if spec.attached.contains(ch) {
                    opts.push(Opt::Short(ch, Some(rest).filter(|r| !r.is_empty())));
                    break;
                }
                opts.push(Opt::Short(ch, None));
            }
        } else {
            if spec.posix {
                return Parsed { opts, end: i };
            }
            opts.push(Opt::Operand(a));
        }
        i += 1;
    }
    Parsed { opts, end: args.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    const CURL: Spec = Spec { short: "dXo", attached: "", long: &["--data", "--request"], posix: false };

    #[test]
    fn short_clusters_and_values() {
        let a = words("-sSd {} -XPOST http://x -o out --request PUT --data=y -- -z");
        let p = parse(&a, &CURL);
        assert_eq!(
            p.opts,
            [
                Opt::Short('s', None),
                Opt::Short('S', None),
                Opt::Short('d', Some("{}")),
                Opt::Short('X', Some("POST")),
                Opt::Operand("http://x"),
                Opt::Short('o', Some("out")),
                Opt::Long("request", Some("PUT")),
                Opt::Long("data", Some("y")),
                Opt::Operand("-z"),
            ]
        );
        assert_eq!(p.values('X', "request"), ["POST", "PUT"]);
        assert_eq!(p.end, a.len() - 1);
    }

    #[test]
    fn posix_stops_at_the_first_operand() {
        let spec = Spec { short: "u", attached: "h", long: &["--user"], posix: true };
        let a = words("-nu root -h --user x rm -rf /");
        let p = parse(&a, &spec);
        assert_eq!(&a[p.end..], ["rm", "-rf", "/"]);
        assert_eq!(p.get('u', "user"), Some("root"));
        assert_eq!(p.get('h', ""), Some(""));
        let a = words("-i.bak -n");
        let p = parse(&a, &Spec { attached: "i", ..Spec::default() });
        assert_eq!(p.get('i', ""), Some(".bak"));
        assert!(p.has('n', ""));
    }

    #[test]
    fn a_long_option_may_be_abbreviated() {
        let a = words("--vac=1G --since today");
        let p = parse(&a, &Spec::default());
        assert!(p.long_prefix_of(&["vacuum-size"]));
        assert!(!p.long_prefix_of(&["rotate"]));
    }
}

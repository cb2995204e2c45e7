//! Generated projects for the fuzz harness: a runbook, its fixture and a
//! `runbook.toml`, built from the shapes the engine reads (front matter,
//! fenced steps with attributes, templates, scenarios, env profiles) and then
//! mutated with the classes that broke it before: deep nesting, huge lines,
//! many tags, odd line endings (CR, CRLF, mixed) and hostile attribute values.
//!
//! Bodies only ever call harmless programs (`echo`, `printf`, `true`, the
//! stubbed `kubectl`): `check` and `play --dry-run` run them with real bash.

use proptest::prelude::*;
use proptest::test_runner::TestRng;

/// One generated project.
#[derive(Clone, Debug)]
pub struct Case {
    pub runbook: Vec<u8>,
    pub fixture: Option<Vec<u8>>,
    pub config: Vec<u8>,
    /// `--set` arguments given to `plan` and `play`.
    pub sets: Vec<String>,
    /// What the mutations did, for the reproducer's notes.
    pub notes: Vec<String>,
}

/// How big the big mutations get: the test suite's cases stay small, the
/// long run goes to the sizes of the issue (400 KB lines, 100k tags).
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub huge: usize,
}

pub struct Gen<'a> {
    rng: &'a mut TestRng,
    scale: Scale,
    notes: Vec<String>,
    /// A wild case takes hostile values and broken syntax; a tame one stays
    /// valid (every variable defined, every attribute well formed), so that
    /// its big shapes reach the renderer, the planner and the rehearsal.
    wild: bool,
}

const VARS: &[&str] = &["ns", "rev", "tail", "db_pass", "keys", "cfg", "api_token", "x"];
const LANGS: &[&str] = &["bash", "bash", "bash", "sh", "python", "manual", "promql", "http", "logql", "zsh", ""];
const IDS: &[&str] = &["a", "b", "c", "get-rev", "pods.v2", "undo-a", "d"];

impl<'a> Gen<'a> {
    pub fn new(rng: &'a mut TestRng, scale: Scale) -> Self {
        Gen { rng, scale, notes: Vec::new(), wild: false }
    }

    /// `wild` with probability `p` in a wild case, never in a tame one.
    fn wild(&mut self, p: f64) -> bool {
        self.wild && self.chance(p)
    }

    /// One of `tame`, or in a wild case sometimes one of `wild`.
    fn either<'s>(&mut self, tame: &[&'s str], wild: &[&'s str]) -> &'s str {
        if self.wild(0.4) { self.pick(wild) } else { self.pick(tame) }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }

    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        xs[self.below(xs.len())]
    }

    /// A count skewed to small values, sometimes up to `max`.
    fn count(&mut self, max: usize) -> usize {
        match self.below(10) {
            0..=6 => self.below(4),
            7 | 8 => self.below(40),
            _ => self.below(max + 1),
        }
    }

    pub fn case(mut self) -> Case {
        self.wild = self.chance(0.4);
        self.notes.push(if self.wild { "wild" } else { "tame" }.into());
        let max = if self.chance(0.02) { self.scale.huge / 10 } else { 12 };
        let steps = 1 + self.count(max);
        let mut md = String::new();
        if self.chance(0.7) || !self.wild {
            md.push_str(&self.front_matter());
        }
        md.push_str(&format!("# {}\n\n", self.text()));
        for i in 0..steps {
            // Past 8 MiB a case tests the generator more than the engine
            // (the engine refuses a runbook over 16 MiB).
            if md.len() > 8 << 20 {
                self.notes.push(format!("stopped at step {i} (8 MiB)"));
                break;
            }
            if self.chance(0.3) {
                md.push_str(&self.prose());
            }
            md.push_str(&self.step(i));
        }
        let fixture = self.chance(0.7).then(|| self.fixture().into_bytes());
        let config = self.config().into_bytes();
        let sets = (0..self.count(3)).map(|_| self.set()).collect();
        let mut runbook = md.into_bytes();
        self.mutate(&mut runbook);
        if self.wild {
            self.mutate_bytes(&mut runbook);
        }
        if self.chance(0.002) {
            self.notes.push("padded past 16 MiB".into());
            runbook.extend(b"\n".repeat((16 << 20) + 1 - runbook.len().min(16 << 20)));
        }
        Case { runbook, fixture, config, sets, notes: self.notes }
    }

    fn text(&mut self) -> String {
        let words = ["Head stall", "check pods", "{{ ns }}", "`code`", "*x*", "<pod>", "a | b", "日本", "\u{202e}rtl"];
        (0..1 + self.below(4)).map(|_| self.pick(&words)).collect::<Vec<_>>().join(" ")
    }

    fn prose(&mut self) -> String {
        match self.below(5) {
            0 => format!("{}\n\n", self.text()),
            1 => format!("- {}\n  - {}\n\n", self.text(), self.text()),
            2 => {
                let depth = 1 + self.count(self.scale.huge / 100);
                self.notes.push(format!("quote nesting {depth}"));
                format!("{} {}\n\n", ">".repeat(depth), self.text())
            }
            3 => "```\nnot a step {#x}\n```\n\n".to_string(),
            _ => format!("## {}\n\n", self.text()),
        }
    }

    fn scalar(&mut self) -> String {
        match self.below(12) {
            0 if self.wild => "~".into(),
            1 => self.below(100_000).to_string(),
            2 => "-1".into(),
            3 => "9223372036854775807".into(),
            4 => "true".into(),
            5 => "\"x; rm -rf /tmp/nothing-here\"".into(),
            6 => "'it''s'".into(),
            7 => "\"\\u001b[31mred\\u001b[0m\"".into(),
            8 => "\"a\\nb\"".into(),
            9 => "1.5e308".into(),
            _ => self.pick(&["animica", "hunter2hunter2", "", "\"\"", "日本語"]).into(),
        }
    }

    /// A YAML value: a scalar, a list, a map, deeply nested or an alias bomb.
    fn yaml_value(&mut self, depth: usize) -> String {
        match self.below(if depth > 3 { 1 } else { 6 }) {
            0 => self.scalar(),
            1 => format!("[{}, {}]", self.yaml_value(depth + 1), self.yaml_value(depth + 1)),
            2 => format!("{{pass: {}, user: {}}}", self.yaml_value(depth + 1), self.scalar()),
            3 => {
                let n = 1 + self.count(self.scale.huge / 50);
                self.notes.push(format!("yaml nesting {n}"));
                format!("{}x{}", "[".repeat(n), "]".repeat(n))
            }
            4 => {
                let n = 1 + self.count(self.scale.huge / 50);
                self.notes.push(format!("yaml map nesting {n}"));
                format!("{}x{}", "{a: ".repeat(n), "}".repeat(n))
            }
            _ => self.scalar(),
        }
    }

    fn duration(&mut self) -> String {
        let tame = ["30s", "1ms", "\"1h 2m\"", "30d", "2s", "10m"];
        let wild = [
            "1h 2m",
            "0s",
            "9999999999999999999s",
            "9223372036854775807s",
            "18446744073709551616s",
            "-5s",
            "5",
            "31d",
            "1y",
            "s",
            "5 s",
            "1e9s",
            "0.5s",
            "",
        ];
        self.either(&tame, &wild).into()
    }

    fn front_matter(&mut self) -> String {
        let mut fm = String::from("---\n");
        if self.chance(0.3) {
            let id = self.either(&["f"], &["../../etc/x", "F", "a b", "-x", "2.1-head-stall", ""]);
            fm.push_str(&format!("id: \"{id}\"\n"));
        }
        if self.chance(0.5) || !self.wild {
            fm.push_str("vars:\n");
            // A tame case defines every variable its templates use.
            let names: Vec<String> = if self.wild {
                (0..self.count(6))
                    .map(|_| if self.chance(0.9) { self.pick(VARS).to_string() } else { self.hostile() })
                    .collect()
            } else {
                VARS.iter().map(|v| v.to_string()).collect()
            };
            for name in names {
                let value = self.yaml_value(0);
                fm.push_str(&format!("  {name}: {value}\n"));
            }
            if self.chance(0.05) {
                let n = 2 + self.below(8);
                self.notes.push(format!("yaml alias bomb {n}"));
                fm.push_str("  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
                for i in 1..n {
                    let refs = vec![format!("*l{}", i - 1); 10].join(", ");
                    fm.push_str(&format!("  l{i}: &l{i} [{refs}]\n"));
                }
            }
        }
        if self.chance(0.4) {
            fm.push_str(&format!("secrets: [{}]\n", self.pick(VARS)));
        }
        if self.chance(0.3) {
            fm.push_str(&format!("envs: [{}]\n", self.either(&["devnet, prod", "devnet"], &["prod", "nope", "../x"])));
        }
        if self.chance(0.2) {
            fm.push_str(&format!("requires: [{}]\n", self.either(&["bash"], &["kubectl", "no-such-tool", "/bin/sh"])));
        }
        if self.chance(0.3) {
            fm.push_str(&format!("timeout: {}\n", self.duration()));
        }
        if self.chance(0.1) {
            let key = self.either(&["tags", "owner"], &["var", "secret", "env"]);
            fm.push_str(&format!("{key}: {}\n", self.scalar()));
        }
        if self.wild(0.05) {
            fm.push_str("vars: [not, a, map]\n");
        }
        if !self.wild(0.05) {
            fm.push_str("---\n");
        }
        fm
    }

    fn hostile(&mut self) -> String {
        let h = [
            "",
            "\"",
            "\\",
            "x\"y",
            "'",
            "a b",
            "../../x",
            "/etc/passwd",
            "\u{0}",
            "\u{1b}[31m",
            "\u{202e}",
            "{{",
            "}}",
            "{%",
            "{#",
            "=",
            "#",
            "--",
            "日本",
            "99999999999999999999",
            "-1",
            "$(id)",
            "`id`",
            "\t",
        ];
        let mut s: String = (0..1 + self.below(3)).map(|_| self.pick(&h)).collect();
        if self.chance(0.03) {
            let n = self.count(self.scale.huge);
            self.notes.push(format!("hostile value x{n}"));
            s = s.repeat(n.max(1));
        }
        s
    }

    fn expr(&mut self) -> String {
        let base = self.either(
            &[
                "env == 'prod'",
                "ns",
                "steps.s0.status == 'passed'",
                "rev is defined",
                "rev is defined and rev != 'x'",
                "keys | length > 1",
                "cfg",
                "true",
            ],
            &[
                "steps.nope.exit",
                "1 / 0",
                "'3 replicas' | int",
                "cfg.pass.x.y",
                "steps.s0.stdout | int > 3",
                "rev is defined and ns or rev.startswith('4')",
                "ns.startswith('a')",
                "lipsum(2)",
            ],
        );
        match self.below(6) {
            0 => {
                // Tame: up to the bound (256 operators), wild: far beyond.
                let n = if self.wild { self.count(self.scale.huge) } else { self.count(250) };
                self.notes.push(format!("{n} nots"));
                format!("{}{base}", "not ".repeat(n))
            }
            1 => {
                let n = if self.wild { self.count(self.scale.huge / 10) } else { self.count(250) };
                self.notes.push(format!("{n} parens"));
                format!("{}{base}{}", "(".repeat(n), ")".repeat(n))
            }
            _ => base.into(),
        }
    }

    fn attr_value(&mut self, valid: &[&str]) -> String {
        if self.wild(0.25) { self.hostile() } else { self.pick(valid).to_string() }
    }

    fn quoted(&mut self, v: &str) -> String {
        if v.is_empty() || v.contains([' ', '"', '\\', '}', '=']) || self.chance(0.3) {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v.to_string()
        }
    }

    fn attrs(&mut self, i: usize) -> String {
        let mut a = vec![];
        if !self.wild(0.05) {
            let id = if self.wild(0.1) {
                self.hostile()
            } else if self.wild {
                IDS[i % IDS.len()].to_string()
            } else {
                format!("s{i}")
            };
            a.push(format!("#{id}"));
        }
        let mut used = std::collections::HashSet::new();
        for _ in 0..self.count(6) {
            let kind = if self.wild { self.below(20) } else { [1, 2, 3, 4, 5, 6, 8, 10, 11, 13, 0][self.below(11)] };
            // A tame step names each attribute once.
            if !self.wild && !used.insert(if kind == 4 { 3 } else { kind }) {
                continue;
            }
            let attr = match kind {
                0 if !self.wild => {
                    let deps: Vec<String> = (0..i).filter(|_| self.chance(0.3)).map(|d| format!("s{d}")).collect();
                    format!("needs={}", deps.join(","))
                }
                0 => format!("needs={}", self.attr_value(&["a", "a,b", "", "nope", "c,a"])),
                1 => {
                    let e = self.expr();
                    format!("when={}", self.quoted(&e))
                }
                2 => "read".into(),
                3 => "confirm".into(),
                4 => {
                    let v = self.attr_value(&["really?"]);
                    format!("confirm={}", self.quoted(&v))
                }
                5 => format!("timeout={}", self.duration()),
                6 if !self.wild => format!("retry={} delay=1ms", self.pick(&["2", "0", "3"])),
                6 => format!("retry={}", self.attr_value(&["2", "0", "10001", "-1", "99999999999999999999"])),
                7 => format!("delay={}", self.duration()),
                8 => {
                    let v = self.either(&["^ok$", "(a+)+$", "e", "^$"], &["[", "\\", "x{99999}"]).to_string();
                    format!("expect={}", self.quoted(&v))
                }
                9 => format!("capture={}", self.attr_value(&["rev", "api_token", "steps", "env", "9x"])),
                10 => format!("on-fail={}", self.either(&["stop", "continue"], &["maybe"])),
                11 => {
                    let v = self.either(&[".", "runbooks"], &["sub", "../..", "/tmp"]).to_string();
                    format!("cwd={}", self.quoted(&v))
                }
                12 => "interactive".into(),
                13 => {
                    let v = self.attr_value(&["page the lead"]);
                    format!("budget={} escalate={}", self.duration(), self.quoted(&v))
                }
                14 => format!("rollback={}", self.attr_value(&["undo-a", "a", "nope"])),
                15 => "undo".into(),
                16 => format!("soak={}", self.duration()),
                17 => format!("{}={}", self.hostile(), self.hostile()),
                18 => format!("id={}", self.attr_value(&["d"])),
                _ => self.hostile(),
            };
            a.push(attr);
        }
        if self.wild(0.05) {
            let n = self.count(self.scale.huge / 20);
            self.notes.push(format!("{n} attributes"));
            a.extend((0..n).map(|k| format!("read{}", if k % 2 == 0 { "" } else { "=" })));
        }
        a.join(" ")
    }

    fn tag(&mut self) -> String {
        let v = self.pick(VARS);
        // Tame: tags that render whatever the variables' values are.
        let kind = if self.wild { self.below(17) } else { [0, 5, 6, 7, 8, 12, 13][self.below(7)] };
        match kind {
            0 => format!("{{{{ {v} }}}}"),
            1 => "{{ steps.s0.stdout }}".into(),
            2 => "{{ steps[\"s0\"].exit }}".into(),
            3 => "{{ keys | join(',') }}".into(),
            4 => "{{ cfg.pass }}".into(),
            5 => format!("{{{{ {v} | safe }}}}"),
            6 => {
                let n = if self.wild { self.count(self.scale.huge / 10) } else { self.count(250) };
                self.notes.push(format!("{n} ~ terms"));
                format!("{{{{ {} }}}}", vec!["ns"; n.max(1)].join(" ~ "))
            }
            7 => {
                let n = 1 + self.count(30);
                let xs = "x".repeat(n);
                format!("{{% for i in '{xs}' %}}{{% for j in '{xs}' %}}{{{{ i }}}}{{% endfor %}}{{% endfor %}}")
            }
            8 => {
                // String doubling by a recursive macro: past the fuel in a wild case.
                let n = if self.wild { 60 } else { self.below(16) };
                format!(
                    "{{% macro d(s, n) %}}{{% if n %}}{{{{ d(s ~ s, n - 1) }}}}{{% else %}}{{{{ s | length }}}}{{% endif %}}{{% endmacro %}}{{{{ d('ab', {n}) }}}}"
                )
            }
            9 => "{{ 'x' * 99999999 }}".into(),
            10 => "{% if".into(),
            // The guard: what it lets go renders without it.
            12 => format!("{{% if {v} is defined %}}{{{{ {v} }}}}{{% elif tail is undefined %}}-{{% endif %}}"),
            13 => "{{ range(3) | join }}".into(),
            14 => format!("{{% if {v} is defined and ns or rev %}}{{{{ {v} }}}}{{% endif %}}"),
            15 => {
                format!("{{{{ {v}.upper() }}}} {{{{ {v}.split('-') }}}} {{{{ cfg.get('pass') }}}} {{{{ lipsum(2) }}}}")
            }
            16 => {
                let n = self.count(self.scale.huge);
                format!("{{{{ ([[1]] * {n}) | sum(start=[]) | length }}}}")
            }
            _ => format!("{{{{ {} }}}}", self.hostile()),
        }
    }

    fn body_line(&mut self) -> String {
        let tag = self.tag();
        match self.below(8) {
            0 => format!("echo {tag}"),
            1 => format!("echo \"{tag}\""),
            2 => format!("printf '%s\\n' {tag}"),
            3 => "kubectl get pods -n {{ ns }}".into(),
            4 => "true".into(),
            5 => "false".into(),
            6 => {
                let n = self.count(self.scale.huge / 4);
                self.notes.push(format!("{n} tags on one line"));
                format!("echo {}", "{{ x }} ".repeat(n))
            }
            _ => format!("echo {}", self.text()),
        }
    }

    fn step(&mut self, i: usize) -> String {
        let lang = if self.wild { self.pick(LANGS) } else { self.pick(&["bash", "bash", "sh", "python", "manual"]) };
        let fence = self.pick(&["```", "```", "~~~", "````"]);
        let attrs = self.attrs(i);
        let info = match if self.wild { self.below(10) } else { 9 } {
            0 => format!("{lang}{{{attrs}}}"),
            1 => format!("{lang} {{{attrs}"),
            _ => format!("{lang} {{{attrs}}}"),
        };
        let mut body = String::new();
        for _ in 0..1 + self.count(8) {
            let line = self.body_line();
            // Python runs the body: a tame one prints its line.
            if lang == "python" && !self.wild {
                body.push_str(&format!("print({})\n", toml_str(&line)));
            } else {
                body.push_str(&line);
                body.push('\n');
            }
        }
        let close = if self.wild(0.1) { "" } else { fence };
        let indent = if self.chance(0.05) { "  " } else { "" };
        format!("{indent}{fence}{info}\n{body}{close}\n\n")
    }

    fn fixture(&mut self) -> String {
        let mut f = String::new();
        for s in 0..1 + self.count(3) {
            let name = if self.wild(0.1) { self.hostile() } else { format!("s{s}") };
            f.push_str(&format!("[[scenario]]\nname = {}\n", toml_str(&name)));
            if self.chance(0.5) {
                let env = self.either(&["devnet", "prod"], &["nope"]);
                f.push_str(&format!("env = {}\n", toml_str(env)));
            }
            if self.chance(0.5) {
                f.push_str(&format!("vars = {{ rev = {}, ns = {} }}\n", toml_str("41"), toml_str(&self.hostile())));
            }
            let answers = self.either(&["yes", "no"], &["maybe"]);
            f.push_str(&format!("answers = {}\n", toml_str(answers)));
            for _ in 0..self.count(4) {
                let cmd = match self.below(if self.wild { 5 } else { 3 }) {
                    0 => "kubectl *".to_string(),
                    1 => "kubectl get pods -n animica-devnet".into(),
                    2 => {
                        let n = self.count(self.scale.huge / 10);
                        self.notes.push(format!("glob of {n} stars"));
                        format!("kubectl {}x", "*".repeat(n))
                    }
                    3 => "[".into(),
                    _ => self.hostile(),
                };
                let stdout = if self.chance(0.05) {
                    let n = self.count(self.scale.huge);
                    "line\n".repeat(n)
                } else {
                    self.text()
                };
                let exit = self.either(&["0", "1", "127"], &["-1", "256", "99999999999"]);
                f.push_str(&format!(
                    "  [[scenario.stub]]\n  cmd = {}\n  stdout = {}\n  exit = {exit}\n",
                    toml_str(&cmd),
                    toml_str(&stdout)
                ));
            }
            if self.chance(0.5) {
                let outcome = self.either(&["passed", "failed"], &["exploded"]);
                f.push_str(&format!("  [scenario.expect]\n  outcome = {}\n", toml_str(outcome)));
                if self.wild(0.3) {
                    f.push_str(&format!("  transcript = {}\n", toml_str(self.pick(&["t.txt", "../../x.txt", "/etc"]))));
                }
            }
        }
        if self.wild(0.05) {
            f.push_str("[[scenario\n");
        }
        f
    }

    fn config(&mut self) -> String {
        let mut c = String::from("default_env = \"devnet\"\n\n[env.devnet]\nnamespace = \"animica-devnet\"\n");
        if !self.wild(0.5) {
            c.push_str("\n[env.prod]\nnamespace = \"animica\"\nconfirm = \"write\"\n");
        }
        for _ in 0..if self.wild { self.count(2) } else { 0 } {
            let name = self.hostile();
            let key = if self.chance(0.7) { "ns".to_string() } else { self.hostile() };
            c.push_str(&format!("\n[env.{}]\n{} = {}\n", toml_str(&name), toml_str(&key), toml_str(&self.hostile())));
        }
        if self.chance(0.2) {
            c.push_str(&format!("\n[env.devnet.db]\npass = {}\n", toml_str("hunter2hunter2")));
        }
        let tame = ["\"kubectl\"", "\"helm\"", "\"curl\"", "\"ops/smoke.sh\""];
        let n = self.count(4);
        let list: Vec<&str> = (0..n).map(|_| self.either(&tame, &["\"\"", "\"k s\""])).collect();
        c.push_str(&format!("\n[rehearse]\nstub = [{}]\n", list.join(", ")));
        if self.wild(0.05) {
            c.push_str("[env.\n");
        }
        c
    }

    fn set(&mut self) -> String {
        let name = self.either(&["ns", "rev", "db_pass", "keys", "x"], &["env", "steps", "", "a b"]);
        // argv holds no NUL, and at most 128 KiB in one argument.
        let value: String = self.hostile().replace('\0', "").chars().take(20_000).collect();
        if self.wild(0.1) { name.to_string() } else { format!("{name}={value}") }
    }

    /// Byte-level mutations of the finished runbook.
    fn mutate(&mut self, md: &mut Vec<u8>) {
        if self.chance(0.25) {
            let how = self.below(3);
            self.notes.push(["CRLF", "CR", "mixed line endings"][how].into());
            let mut out = Vec::with_capacity(md.len() * 2);
            for &b in md.iter() {
                if b == b'\n' {
                    let which = if how == 2 { self.below(3) } else { how };
                    out.extend_from_slice([&b"\r\n"[..], b"\r", b"\n"][which]);
                } else {
                    out.push(b);
                }
            }
            *md = out;
        }
        if self.chance(0.1) {
            let n = self.count(self.scale.huge);
            let line: Vec<u8> = self.either(&["echo x ", "a", "{{ x }}"], &["`", "\u{1b}[31m"]).as_bytes().repeat(n);
            let at = self.line_start(md);
            self.notes.push(format!("huge line of {} bytes", line.len()));
            md.splice(at..at, line.into_iter().chain([b'\n']));
        }
    }

    /// Mutations that break the syntax (wild cases only).
    fn mutate_bytes(&mut self, md: &mut Vec<u8>) {
        if self.chance(0.05) {
            let at = self.below(md.len() + 1);
            self.notes.push(format!("truncated at {at}"));
            md.truncate(at);
        }
        for _ in 0..self.count(3) {
            if md.is_empty() {
                break;
            }
            let at = self.below(md.len());
            let b = [0u8, 0xff, b'\r', b'{', b'}', b'`', b'\n', b'"', 0xc3][self.below(9)];
            md.insert(at, b);
            self.notes.push(format!("byte {b:#04x} at {at}"));
        }
    }

    fn line_start(&mut self, md: &[u8]) -> usize {
        let starts: Vec<usize> =
            std::iter::once(0).chain(md.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1)).collect();
        starts[self.below(starts.len())]
    }
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

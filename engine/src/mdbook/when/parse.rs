//! The parser of `when` conditions: the subset of minijinja expressions
//! runbooks use, into a small tree the words are made from. `None` for
//! anything outside it (the caller shows the expression as written).

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, Cmp, Operand),
    In { needle: Operand, hay: Operand, negated: bool },
    Test { operand: Operand, test: String, negated: bool },
    Truthy(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Str(String),
    Num(String),
    List(Vec<Operand>),
    /// `name`, `steps["id"].stdout`: its segments.
    Path(Vec<String>),
    /// `x | int`: filters that do not change what the value is about.
    Filtered(Box<Operand>, String),
    Group(Box<Expr>),
}

impl Operand {
    /// The operand without its filters.
    pub(super) fn plain(&self) -> &Operand {
        match self {
            Operand::Filtered(o, _) => o.plain(),
            o => o,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(&'static str),
}

fn lex(src: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match *chars.get(i)? {
                    '\\' => {
                        s.push(*chars.get(i + 1)?);
                        i += 2;
                    }
                    q if q == c => {
                        i += 1;
                        break;
                    }
                    ch => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let p = ["==", "!=", "<=", ">="].into_iter().find(|p| *p == two);
            let p = match p {
                Some(p) => p,
                None => ["<", ">", "(", ")", "[", "]", ",", "|", "."].into_iter().find(|p| p.starts_with(c))?,
            };
            i += p.len();
            out.push(Tok::Punct(p));
        }
    }
    Some(out)
}

pub(super) fn parse(src: &str) -> Option<Expr> {
    let mut p = Parser { toks: lex(src)?, pos: 0, depth: 0 };
    let e = p.or()?;
    (p.pos == p.toks.len()).then_some(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Nesting, bounded: a condition is short, a pathological one is shown as written.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str) -> bool {
        self.eat(&Tok::Ident(w.to_string()))
    }

    fn punct(&mut self, p: &'static str) -> bool {
        self.eat(&Tok::Punct(p))
    }

    fn or(&mut self) -> Option<Expr> {
        let mut xs = vec![self.and()?];
        while self.word("or") {
            xs.push(self.and()?);
        }
        Some(if xs.len() == 1 { xs.remove(0) } else { Expr::Or(xs) })
    }

    fn and(&mut self) -> Option<Expr> {
        let mut xs = vec![self.not()?];
        while self.word("and") {
            xs.push(self.not()?);
        }
        Some(if xs.len() == 1 { xs.remove(0) } else { Expr::And(xs) })
    }

    fn not(&mut self) -> Option<Expr> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let e = if self.word("not") { self.not().map(|e| Expr::Not(Box::new(e))) } else { self.cmp() };
        self.depth -= 1;
        e
    }

    fn cmp(&mut self) -> Option<Expr> {
        let a = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Punct("==")) => Some(Cmp::Eq),
            Some(Tok::Punct("!=")) => Some(Cmp::Ne),
            Some(Tok::Punct("<")) => Some(Cmp::Lt),
            Some(Tok::Punct("<=")) => Some(Cmp::Le),
            Some(Tok::Punct(">")) => Some(Cmp::Gt),
            Some(Tok::Punct(">=")) => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let b = self.operand()?;
            return Some(Expr::Cmp(a, op, b));
        }
        if self.word("in") {
            return Some(Expr::In { needle: a, hay: self.operand()?, negated: false });
        }
        if self.peek() == Some(&Tok::Ident("not".into()))
            && self.toks.get(self.pos + 1) == Some(&Tok::Ident("in".into()))
        {
            self.pos += 2;
            return Some(Expr::In { needle: a, hay: self.operand()?, negated: true });
        }
        if self.word("is") {
            let negated = self.word("not");
            let Some(Tok::Ident(test)) = self.peek().cloned() else { return None };
            self.pos += 1;
            return Some(Expr::Test { operand: a, test, negated });
        }
        Some(match a {
            Operand::Group(e) => *e,
            a => Expr::Truthy(a),
        })
    }

    fn operand(&mut self) -> Option<Operand> {
        let mut o = self.primary()?;
        while self.punct("|") {
            let Some(Tok::Ident(f)) = self.peek().cloned() else { return None };
            self.pos += 1;
            o = Operand::Filtered(Box::new(o), f);
        }
        Some(o)
    }

    fn primary(&mut self) -> Option<Operand> {
        match self.peek()?.clone() {
            Tok::Str(s) => {
                self.pos += 1;
                Some(Operand::Str(s))
            }
            Tok::Num(n) => {
                self.pos += 1;
                Some(Operand::Num(n))
            }
            Tok::Punct("(") => {
                self.pos += 1;
                let e = self.or()?;
                self.punct(")").then(|| Operand::Group(Box::new(e)))
            }
            Tok::Punct("[") => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.punct("]") {
                    items.push(self.primary()?);
                    if !self.punct(",") && self.peek() != Some(&Tok::Punct("]")) {
                        return None;
                    }
                }
                Some(Operand::List(items))
            }
            Tok::Ident(w) if !["and", "or", "not", "in", "is"].contains(&w.as_str()) => {
                self.pos += 1;
                let mut path = vec![w];
                loop {
                    if self.punct(".") {
                        let Some(Tok::Ident(f)) = self.peek().cloned() else { return None };
                        self.pos += 1;
                        path.push(f);
                    } else if self.peek() == Some(&Tok::Punct("[")) {
                        let Some(Tok::Str(k)) = self.toks.get(self.pos + 1).cloned() else { return None };
                        if self.toks.get(self.pos + 2) != Some(&Tok::Punct("]")) {
                            return None;
                        }
                        self.pos += 3;
                        path.push(k);
                    } else {
                        break;
                    }
                }
                Some(Operand::Path(path))
            }
            _ => None,
        }
    }
}

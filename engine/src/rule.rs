//! Dynamic membership rules (R26): a small subset of Entra ID's rule syntax.
//!
//! ```text
//! expr   := term (("or" | "-or" | "||") term)*
//! term   := factor (("and" | "-and" | "&&") factor)*
//! factor := ("not" | "-not" | "!") factor | "(" expr ")" | attr op value
//! attr   := name, optionally prefixed "user." (department, user.country, ...)
//! op     := "==" | "-eq" | "!=" | "-ne" | "-startsWith" | "-contains" | "-in"
//! value  := "quoted" | 'quoted' | bare-word | [ "v1", "v2" ] (with -in)
//! ```
//! Values compare case-insensitively, as the service's `-eq` does. A missing attribute equals
//! the empty string.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    StartsWith,
    Contains,
    In,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Cmp {
        attr: String,
        op: Op,
        /// Lower-cased values (one, or several for `-in`).
        values: Vec<String>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A parsed rule with the attributes it reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub text: String,
    pub expr: Expr,
    /// Attribute names the rule reads (lower-case, sorted, unique).
    pub attributes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// Byte offset in the rule text.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for RuleError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    EqEq,
    NotEq,
    AndAnd,
    OrOr,
    Bang,
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, RuleError> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push((start, Tok::LParen)),
            b')' => out.push((start, Tok::RParen)),
            b'[' => out.push((start, Tok::LBracket)),
            b']' => out.push((start, Tok::RBracket)),
            b',' => out.push((start, Tok::Comma)),
            b'=' if b.get(i + 1) == Some(&b'=') => {
                i += 1;
                out.push((start, Tok::EqEq))
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 1;
                out.push((start, Tok::NotEq))
            }
            b'!' => out.push((start, Tok::Bang)),
            b'&' if b.get(i + 1) == Some(&b'&') => {
                i += 1;
                out.push((start, Tok::AndAnd))
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                i += 1;
                out.push((start, Tok::OrOr))
            }
            b'"' | b'\'' => {
                let q = c;
                let mut j = i + 1;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                if j >= b.len() {
                    return Err(RuleError {
                        offset: start,
                        message: "unterminated string".into(),
                    });
                }
                out.push((start, Tok::Str(s[i + 1..j].to_string())));
                i = j;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' => {
                let mut j = i;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric()
                        || b[j] == b'_'
                        || b[j] == b'-'
                        || b[j] == b'.'
                        || b[j] == b'@')
                {
                    j += 1;
                }
                out.push((start, Tok::Word(s[i..j].to_string())));
                i = j;
                continue;
            }
            _ => {
                return Err(RuleError {
                    offset: start,
                    message: format!("unexpected character {:?}", c as char),
                });
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
    attrs: Vec<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.0).unwrap_or(self.end)
    }
    fn err<T>(&self, m: impl Into<String>) -> Result<T, RuleError> {
        Err(RuleError {
            offset: self.offset(),
            message: m.into(),
        })
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn expr(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.term()?;
        while self.is_word("or") || self.is_word("-or") || self.peek() == Some(&Tok::OrOr) {
            self.pos += 1;
            let r = self.term()?;
            l = Expr::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn term(&mut self) -> Result<Expr, RuleError> {
        let mut l = self.factor()?;
        while self.is_word("and") || self.is_word("-and") || self.peek() == Some(&Tok::AndAnd) {
            self.pos += 1;
            let r = self.factor()?;
            l = Expr::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn value(&mut self) -> Result<String, RuleError> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) | Some(Tok::Word(s)) => {
                self.pos += 1;
                Ok(s.to_lowercase())
            }
            _ => self.err("expected a value"),
        }
    }
    fn factor(&mut self) -> Result<Expr, RuleError> {
        if self.is_word("not") || self.is_word("-not") || self.peek() == Some(&Tok::Bang) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.factor()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.expr()?;
            if self.peek() != Some(&Tok::RParen) {
                return self.err("expected ')'");
            }
            self.pos += 1;
            return Ok(e);
        }
        let attr = match self.peek().cloned() {
            Some(Tok::Word(w)) if !w.starts_with('-') => {
                self.pos += 1;
                let w = w.to_lowercase();
                w.strip_prefix("user.").map(str::to_string).unwrap_or(w)
            }
            _ => return self.err("expected an attribute name"),
        };
        if attr.is_empty() {
            return self.err("empty attribute name");
        }
        let op = match self.peek().cloned() {
            Some(Tok::EqEq) => Op::Eq,
            Some(Tok::NotEq) => Op::Ne,
            Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "-eq" => Op::Eq,
                "-ne" => Op::Ne,
                "-startswith" => Op::StartsWith,
                "-contains" => Op::Contains,
                "-in" => Op::In,
                _ => return self.err(format!("unknown operator {w:?}")),
            },
            _ => {
                return self
                    .err("expected an operator (==, !=, -eq, -ne, -startsWith, -contains, -in)");
            }
        };
        self.pos += 1;
        let values = if op == Op::In {
            if self.peek() != Some(&Tok::LBracket) {
                return self.err("expected '[' after -in");
            }
            self.pos += 1;
            let mut v = Vec::new();
            loop {
                v.push(self.value()?);
                match self.peek() {
                    Some(Tok::Comma) => self.pos += 1,
                    Some(Tok::RBracket) => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.err("expected ',' or ']'"),
                }
            }
            v
        } else {
            vec![self.value()?]
        };
        if !self.attrs.contains(&attr) {
            self.attrs.push(attr.clone());
        }
        Ok(Expr::Cmp { attr, op, values })
    }
}

impl Rule {
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let toks = lex(text)?;
        let mut p = Parser {
            toks,
            pos: 0,
            end: text.len(),
            attrs: Vec::new(),
        };
        let expr = p.expr()?;
        if p.pos != p.toks.len() {
            return p.err("unexpected text after the rule");
        }
        let mut attributes = p.attrs;
        attributes.sort();
        Ok(Rule {
            text: text.to_string(),
            expr,
            attributes,
        })
    }

    /// Evaluates the rule; `get` returns an attribute's value (already lower-cased or not).
    pub fn matches<'a>(&self, get: &dyn Fn(&str) -> Option<&'a str>) -> bool {
        eval(&self.expr, get)
    }
}

/// `a` (ASCII) lower-cased equals `x`.
fn lower_eq(a: &str, x: &str) -> bool {
    a.len() == x.len()
        && a.bytes()
            .zip(x.bytes())
            .all(|(a, b)| a.to_ascii_lowercase() == b)
}

fn eval<'a>(e: &Expr, get: &dyn Fn(&str) -> Option<&'a str>) -> bool {
    match e {
        Expr::Not(x) => !eval(x, get),
        Expr::And(a, b) => eval(a, get) && eval(b, get),
        Expr::Or(a, b) => eval(a, get) || eval(b, get),
        Expr::Cmp { attr, op, values } => {
            let raw = get(attr).unwrap_or("");
            if raw.is_ascii() {
                // `values` are lower-cased; an ASCII value compares byte by byte, lower-cased on
                // the fly, with no string built (a rule is evaluated for every user).
                return match op {
                    Op::Eq => lower_eq(raw, &values[0]),
                    Op::Ne => !lower_eq(raw, &values[0]),
                    Op::StartsWith => raw
                        .get(..values[0].len())
                        .is_some_and(|p| lower_eq(p, &values[0])),
                    Op::In => values.iter().any(|x| lower_eq(raw, x)),
                    Op::Contains => raw.to_ascii_lowercase().contains(values[0].as_str()),
                };
            }
            let v = raw.to_lowercase();
            match op {
                Op::Eq => v == values[0],
                Op::Ne => v != values[0],
                Op::StartsWith => v.starts_with(values[0].as_str()),
                Op::Contains => v.contains(values[0].as_str()),
                Op::In => values.contains(&v),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rule: &str, attrs: &[(&str, &str)]) -> bool {
        let r = Rule::parse(rule).unwrap();
        let owned: Vec<(String, String)> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = |k: &str| -> Option<&str> {
            owned.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
        };
        r.matches(&get)
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_lowercasing() {
        // Reference: the value lower-cased with Unicode rules, compared with the rule's values.
        let values = [
            "Finance",
            "FINANCE",
            "finance",
            "fin",
            "Fin",
            "Sales",
            "",
            "Straße",
            "STRASSE",
            "İstanbul",
            "istanbul",
            "ÉQUIPE",
            "équipe",
            "финансы",
            "ФИНАНСЫ",
            "Finance ",
        ];
        let rules = [
            r#"department -eq "finance""#,
            r#"department -ne "finance""#,
            r#"department -startsWith "fin""#,
            r#"department -contains "nan""#,
            r#"department -in ["sales", "finance", "équipe"]"#,
            r#"department -eq "straße""#,
            r#"department -eq "финансы""#,
            r#"department -startsWith "ist""#,
        ];
        for rule in rules {
            let r = Rule::parse(rule).unwrap();
            for v in values {
                let Expr::Cmp {
                    op, values: want, ..
                } = &r.expr
                else {
                    panic!("a comparison")
                };
                let l = v.to_lowercase();
                let expected = match op {
                    Op::Eq => l == want[0],
                    Op::Ne => l != want[0],
                    Op::StartsWith => l.starts_with(want[0].as_str()),
                    Op::Contains => l.contains(want[0].as_str()),
                    Op::In => want.contains(&l),
                };
                assert_eq!(m(rule, &[("department", v)]), expected, "{rule} on {v:?}");
            }
        }
    }

    #[test]
    fn rules_parse_and_match_case_insensitively() {
        assert!(m(
            r#"department == "Finance""#,
            &[("department", "finance")]
        ));
        assert!(m(
            r#"(user.department -eq "Sales") -or (user.country -eq "GB")"#,
            &[("country", "gb")]
        ));
        assert!(!m(
            r#"department -ne 'Sales' and country == US"#,
            &[("department", "Sales")]
        ));
        assert!(m(r#"country -in ["US", "CA"]"#, &[("country", "ca")]));
        assert!(m(r#"not department == "x""#, &[]));
        assert!(Rule::parse("department ==").is_err());
        assert!(Rule::parse("(a == b").is_err());
        assert_eq!(
            Rule::parse(r#"user.Department == "a" and country == "b""#)
                .unwrap()
                .attributes,
            vec!["country".to_string(), "department".to_string()]
        );
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        #[test]
        fn any_text_parses_or_fails_without_panic(s in "\\PC{0,40}", t in "[a-z =!\"'()\\[\\],.&|-]{0,40}") {
            for text in [s, t] {
                if let Ok(r) = Rule::parse(&text) {
                    let _ = r.matches(&|_| Some("x"));
                }
            }
        }
    }
}

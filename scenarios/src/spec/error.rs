//! The one error type of scenario files: file, line, column, key, message and the nearest valid
//! name (SPEC 11); and [`Ctx`], which turns byte spans of the TOML text into positioned errors.

use std::fmt;
use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    pub suggestion: Option<String>,
}

impl ScenarioError {
    /// An error about the file as a whole (no line: it cannot be read, it is too large).
    pub(super) fn whole_file(file: &str, message: String) -> ScenarioError {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            key: String::new(),
            message,
            suggestion: None,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Edit distance (Levenshtein, case-insensitive).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if close enough to be a likely typo.
pub fn nearest<'a, I: IntoIterator<Item = &'a str>>(name: &str, candidates: I) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(name.chars().count()) / 3).max(2))
        .min()
        .map(|(_, c)| c.to_string())
}

/// The file being parsed: its display name and text, to place errors.
pub(super) struct Ctx<'a> {
    pub(super) file: String,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let off = offset.min(self.text.len());
        let before = &self.text.as_bytes()[..off];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
        (line, col)
    }

    /// An error at `span`; when `needle` is given and found inside the span, at its position.
    pub(super) fn err(
        &self,
        span: Range<usize>,
        needle: Option<&str>,
        key: &str,
        message: String,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let mut at = span.start;
        if let Some(n) = needle
            && !n.is_empty()
        {
            let end = span.end.min(self.text.len()).max(span.start);
            if let Some(hay) = self.text.get(span.start..end)
                && let Some(p) = hay.find(n)
            {
                at = span.start + p;
            } else if let Some(p) = self.text.find(n) {
                at = p;
            }
        }
        let (line, column) = self.line_col(at);
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            key: key.to_string(),
            message,
            suggestion,
        }
    }

    /// A TOML syntax or shape error; an unknown key gets the nearest expected one.
    pub(super) fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim().to_string();
        let mut key = String::new();
        let mut suggestion = None;
        if let Some(rest) = msg.strip_prefix("unknown field `")
            && let Some(end) = rest.find('`')
        {
            key = rest[..end].to_string();
            if let Some(exp) = rest.find("expected") {
                let names: Vec<&str> = rest[exp..].split('`').skip(1).step_by(2).collect();
                suggestion = nearest(&key, names);
            }
        }
        if key.is_empty() {
            // The key on the line of the error.
            let (line, _) = self.line_col(span.start);
            if let Some(l) = self.text.lines().nth(line.saturating_sub(1))
                && let Some((k, _)) = l.split_once('=')
            {
                key = k.trim().trim_start_matches('{').trim().to_string();
            }
        }
        let (line, column) = self.line_col(span.start);
        ScenarioError {
            file: self.file.clone(),
            line,
            column,
            key,
            message: msg,
            suggestion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_a_position() {
        let mut e = ScenarioError::whole_file("s.toml", "cannot read: gone".into());
        assert_eq!(e.to_string(), "s.toml: cannot read: gone");
        e.line = 3;
        e.column = 7;
        e.key = "sku".into();
        e.suggestion = Some("EMS".into());
        assert_eq!(
            e.to_string(),
            "s.toml:3:7: key `sku`: cannot read: gone (did you mean `EMS`?)"
        );
    }

    #[test]
    fn nearest_names_only_likely_typos() {
        assert_eq!(distance("kitten", "SITTING"), 3);
        assert_eq!(
            nearest("ENTERPRISEPAK", ["EMS", "ENTERPRISEPACK"]).as_deref(),
            Some("ENTERPRISEPACK")
        );
        assert_eq!(nearest("zzzzzz", ["EMS", "ENTERPRISEPACK"]), None);
    }

    #[test]
    fn positions_count_characters_and_find_the_needle() {
        let ctx = Ctx {
            file: "s.toml".into(),
            text: "a = 1\nb = \"é x\"\n",
        };
        assert_eq!(ctx.line_col(0), (1, 1));
        assert_eq!(ctx.line_col(6), (2, 1));
        let e = ctx.err(6..15, Some("x"), "b", "bad".into(), None);
        assert_eq!((e.line, e.column), (2, 8));
    }
}

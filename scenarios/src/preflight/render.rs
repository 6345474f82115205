//! The pre-flight as `licsim validate` prints it: one block per finding for people, one JSON
//! object for CI (which gates on `findings`; the exit status stays 0 for a valid file).

use super::{Finding, Preflight};
use serde_json::{Value, json};

impl Finding {
    /// `step 3` or `setup`, and the step's words.
    pub fn place(&self) -> String {
        match self.step {
            Some(n) => format!("step {n} {}", self.action),
            None => "setup".into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "step": self.step.map_or(json!("setup"), |n| json!(n)),
            "action": self.action,
            "check": self.check,
            "reason": self.reason,
            "rule": self.rule,
            "error": self.error,
            "users": self.users,
            "examples": self.examples,
            "fix": self.fix,
            "certainty": self.certainty.as_str(),
        })
    }

    /// One block: where and why, who, what to do, how sure.
    pub fn to_text(&self) -> String {
        let mut who = self.users.to_string();
        if !self.examples.is_empty() {
            who.push_str(&format!(" ({}", self.examples.join(", ")));
            if self.users > self.examples.len() as u64 {
                who.push_str(", ...");
            }
            who.push(')');
        }
        let mut sure = self.certainty.as_str().to_string();
        if self.certainty == super::Certainty::Likely {
            sure.push_str(
                " (the numbers are run 0's; faults or later membership changes vary them by run)",
            );
        }
        let mut kind = self.rule.clone();
        if !self.error.is_empty() {
            kind.push_str(&format!(", {}", self.error));
        }
        format!(
            "{}: {}\n  users: {who}\n  fix: {}\n  {kind}, {sure}\n",
            self.place(),
            self.reason,
            self.fix
        )
    }
}

impl Preflight {
    /// The JSON object of `licsim validate --format json`.
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "file": self.source,
            "users": self.users,
            "groups": self.groups,
            "steps": self.steps,
            "runs": self.seeds,
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "warnings": self.warnings,
        })
    }

    /// The human report: the summary line, then one block per finding.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: ok — {} users, {} groups, {} plan steps, {} runs by default\n",
            self.source, self.users, self.groups, self.steps, self.seeds
        );
        if self.findings.is_empty() {
            out.push_str("pre-flight: no step is certain to fail (licsim run shows what may)\n");
            return out;
        }
        let likely = self
            .findings
            .iter()
            .filter(|f| f.certainty == super::Certainty::Likely)
            .count();
        out.push_str(&format!(
            "pre-flight: {} finding{} ({} certain, {likely} likely): steps that will fail when run\n",
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" },
            self.findings.len() - likely
        ));
        for f in &self.findings {
            out.push('\n');
            out.push_str(&f.to_text());
        }
        out
    }
}

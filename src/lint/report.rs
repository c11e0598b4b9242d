//! Findings as people read them: `LEVEL: FILE:LINE:COL: RULE: what`, then how to fix it.

use super::{Finding, Level};

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let label = match (&self.allowed, self.rule.level()) {
            (Some(_), _) => "allowed",
            (None, Level::Error) => "error",
            (None, Level::Warning) => "warning",
        };
        write!(f, "{label}: {}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}: {}", self.rule.id(), self.message)?;
        match &self.allowed {
            Some(reason) => write!(f, "\n  allowed: {reason}"),
            None => write!(f, "\n  fix: {}", self.rule.hint()),
        }
    }
}

/// `2 errors, 1 warning, 1 allowed`
pub fn summary(findings: &[Finding]) -> String {
    let count = |pred: &dyn Fn(&Finding) -> bool| findings.iter().filter(|f| pred(f)).count();
    let errors = count(&|f| f.is_error());
    let warnings = count(&|f| f.allowed.is_none() && f.rule.level() == Level::Warning);
    let allowed = count(&|f| f.allowed.is_some());
    format!("{}, {}, {allowed} allowed", plural(errors, "error"), plural(warnings, "warning"))
}

/// `1 error`, `2 errors`
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

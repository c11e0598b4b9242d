//! `-- runsheet:` comments in a migration: its phase, and the findings its author allows, with why.

use serde::Serialize;

use super::rules::Rule;

/// What a `-- runsheet:` comment says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `-- runsheet: phase=contract`, in the header.
    Phase(Phase),
    /// `-- runsheet: allow RULE because REASON`.
    Allow(Allowance),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Backward compatible: the previous application version keeps working.
    Expand,
    /// Destructive: runs only once no running application version needs what it removes.
    Contract,
}

/// A finding the migration's author allows, and why; recorded in the audit log when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allowance {
    pub rule: String,
    pub reason: String,
}

const PREFIX: &str = "runsheet:";

/// Reads a comment's text: None when it is no runsheet directive; an error when it is one that
/// says nothing runsheet understands (a typo there would silently lose its meaning).
pub fn parse(comment: &str) -> Option<Result<Directive, String>> {
    let body = comment.trim().strip_prefix(PREFIX)?.trim();
    Some(if let Some(value) = body.strip_prefix("phase") {
        let value = value.trim_start().strip_prefix('=').map(str::trim).unwrap_or_default();
        match value {
            "expand" => Ok(Directive::Phase(Phase::Expand)),
            "contract" => Ok(Directive::Phase(Phase::Contract)),
            other => Err(format!("`{PREFIX} phase={other}` is no phase: write `phase=expand` or `phase=contract`")),
        }
    } else if let Some(rest) = body.strip_prefix("allow").filter(|r| r.starts_with(char::is_whitespace)) {
        allow(rest).map(Directive::Allow)
    } else {
        Err(format!("`{PREFIX} {body}` is not understood: write `phase=contract` or `allow RULE because REASON`"))
    })
}

fn allow(rest: &str) -> Result<Allowance, String> {
    let (rule, reason) = match rest.split_once(" because") {
        Some((rule, reason)) => (rule.trim(), reason.split_whitespace().collect::<Vec<_>>().join(" ")),
        None => (rest.trim(), String::new()),
    };
    let known = Rule::from_id(rule).ok_or_else(|| {
        let ids: Vec<&str> = Rule::ALL.iter().filter(|r| r.can_be_allowed()).map(|r| r.id()).collect();
        format!("`allow {rule}` names no rule: the rules are {}", ids.join(", "))
    })?;
    if !known.can_be_allowed() {
        return Err(format!("`{rule}` cannot be allowed: runsheet cannot run such a folder"));
    }
    if reason.is_empty() {
        return Err(format!("`allow {rule}` gives no reason: write `{PREFIX} allow {rule} because …`"));
    }
    Ok(Allowance { rule: rule.to_string(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(rule: &str, reason: &str) -> Option<Result<Directive, String>> {
        Some(Ok(Directive::Allow(Allowance { rule: rule.into(), reason: reason.into() })))
    }

    #[test]
    fn reads_phases_and_allows() {
        assert_eq!(parse(" runsheet: phase=contract"), Some(Ok(Directive::Phase(Phase::Contract))));
        assert_eq!(parse("runsheet: phase = expand "), Some(Ok(Directive::Phase(Phase::Expand))));
        assert_eq!(
            parse("runsheet: allow data-change-in-schema-migration because   twelve rows\n  of reference data"),
            allowed("data-change-in-schema-migration", "twelve rows of reference data")
        );
        assert_eq!(parse("just a comment about runsheet: phases"), None);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        let error = |text: &str| parse(text).unwrap().unwrap_err();
        assert!(error("runsheet: allow set-not-null").contains("gives no reason"));
        assert!(error("runsheet: allow set-not-null because ").contains("gives no reason"));
        assert!(error("runsheet: allow set-not-nul because x").contains("names no rule"));
        assert!(error("runsheet: allow duplicate-version because x").contains("cannot be allowed"));
        assert!(error("runsheet: phase=contarct").contains("is no phase"));
        assert!(error("runsheet: allowed set-not-null because x").contains("not understood"));
    }
}

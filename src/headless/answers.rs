//! `--answers FILE`: the decisions of a headless run, step by step.
//!
//! ```yaml
//! confirm-smoke: confirm                 # a manual step
//! go-no-go: go                           # a gate: ticks every manual item, then Go
//! pre-checks:                            # a gate, in full
//!   decision: no-go                      # go | no-go
//!   reason: P1 incident open             # required for no-go
//!   tick: [backup-verified]              # manual items to tick (default: all for go, none for no-go)
//! no-collisions:                         # a step that fails
//!   on_failure: rollback                 # retry | skip | rollback | abort
//!   reason: collisions found             # required for skip
//! ```
//! Each answer is used once: a step that fails again after `retry` has no answer left.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

use crate::engine::{FailureChoice, GateDecision};
use crate::model::positions::Positions;
use crate::model::{Diagnostic, Diagnostics, Runbook, StepKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Confirm,
    Gate { decision: GateDecision, reason: Option<String>, tick: Option<Vec<String>> },
    Failure { choice: FailureChoice, reason: Option<String> },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    by_step: BTreeMap<String, Answer>,
}

impl Answers {
    /// Takes the answer for `step`, so that it is used once.
    pub fn take(&mut self, step: &str) -> Option<Answer> {
        self.by_step.remove(step)
    }

    /// Reads the file and checks every answer against the runbook's steps.
    pub fn load(path: &Path, runbook: &Runbook) -> Result<Self, Diagnostics> {
        let text = std::fs::read_to_string(path).map_err(|e| one(path, None, None, format!("cannot read: {e}")))?;
        let positions = Positions::index(&text);
        let map: BTreeMap<String, Value> = serde_yaml::from_str(&text).map_err(|e| {
            let position = e.location().map(|l| (l.line(), l.column()));
            one(path, position, None, e.to_string())
        })?;
        let mut diags = Vec::new();
        let mut by_step = BTreeMap::new();
        for (step_id, value) in map {
            let at = |message: String| Diagnostic {
                file: path.to_path_buf(),
                position: positions.get(&step_id).map(|p| (p.line, p.column)),
                step: Some(step_id.clone()),
                message,
            };
            let Some((_, _, step)) = runbook.step(&step_id) else {
                diags.push(at("the runbook has no such step".into()));
                continue;
            };
            match parse(&step.kind, &value) {
                Ok(answer) => {
                    by_step.insert(step_id.clone(), answer);
                }
                Err(message) => diags.push(at(message)),
            }
        }
        if diags.is_empty() { Ok(Answers { by_step }) } else { Err(Diagnostics(diags)) }
    }
}

fn one(path: &Path, position: Option<(usize, usize)>, step: Option<String>, message: String) -> Diagnostics {
    Diagnostics(vec![Diagnostic { file: path.to_path_buf(), position, step, message }])
}

fn parse(kind: &StepKind, value: &Value) -> Result<Answer, String> {
    match value {
        Value::String(word) => match (word.as_str(), kind) {
            ("confirm", StepKind::Manual { .. }) => Ok(Answer::Confirm),
            ("go", StepKind::Gate { .. }) => Ok(Answer::Gate { decision: GateDecision::Go, reason: None, tick: None }),
            ("no-go", StepKind::Gate { .. }) => {
                Err("a no-go answer needs a reason: `{decision: no-go, reason: …}`".into())
            }
            (word, StepKind::Gate { .. }) => {
                Err(format!("`{word}` is not a gate answer: use go, or a map with decision"))
            }
            (word, StepKind::Manual { .. }) => Err(format!("`{word}` is not a manual-step answer: use confirm")),
            (word, _) => Err(format!("`{word}` is not an answer for this step: use a map with on_failure")),
        },
        Value::Mapping(map) => {
            let mut fields = BTreeMap::new();
            for (k, v) in map {
                let Some(key) = k.as_str() else {
                    return Err("answer keys are words".into());
                };
                fields.insert(key, v);
            }
            let text = |key: &str| -> Result<Option<String>, String> {
                match fields.get(key) {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(format!("`{key}` must be text")),
                }
            };
            let allowed: &[&str] = match kind {
                StepKind::Gate { .. } => &["decision", "reason", "tick", "on_failure"],
                _ => &["on_failure", "reason"],
            };
            if let Some(unknown) = fields.keys().find(|k| !allowed.contains(k)) {
                return Err(format!("unknown key `{unknown}` (expected one of {})", allowed.join(", ")));
            }
            let reason = text("reason")?;
            if let Some(choice) = text("on_failure")? {
                if fields.contains_key("decision") {
                    return Err("give either `decision` or `on_failure`".into());
                }
                let choice = match choice.as_str() {
                    "retry" => FailureChoice::Retry,
                    "skip" => FailureChoice::Skip,
                    "rollback" => FailureChoice::Rollback,
                    "abort" => FailureChoice::Abort,
                    other => return Err(format!("`{other}` is not retry, skip, rollback or abort")),
                };
                if choice == FailureChoice::Skip && reason.is_none() {
                    return Err("`on_failure: skip` needs a reason".into());
                }
                return Ok(Answer::Failure { choice, reason });
            }
            let decision = match text("decision")?.as_deref() {
                Some("go") => GateDecision::Go,
                Some("no-go") => GateDecision::NoGo,
                Some(other) => return Err(format!("`{other}` is not go or no-go")),
                None => return Err("give `decision` (a gate) or `on_failure`".into()),
            };
            if decision == GateDecision::NoGo && reason.is_none() {
                return Err("a no-go answer needs a reason".into());
            }
            let tick = match fields.get("tick") {
                None => None,
                Some(Value::Sequence(items)) => Some(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string).ok_or("`tick` lists item ids".to_string()))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(_) => return Err("`tick` lists item ids".into()),
            };
            if let (Some(tick), StepKind::Gate { checklist }) = (&tick, kind) {
                for id in tick {
                    match checklist.items.iter().find(|i| &i.id == id) {
                        None => return Err(format!("`{id}` is not an item of {}", checklist.path.display())),
                        Some(item) if item.check.is_some() => {
                            return Err(format!("`{id}` is decided by its query and cannot be ticked"));
                        }
                        Some(_) => {}
                    }
                }
            }
            Ok(Answer::Gate { decision, reason, tick })
        }
        _ => Err("an answer is a word (confirm, go) or a map".into()),
    }
}

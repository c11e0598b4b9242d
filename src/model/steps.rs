//! Validation of the steps of both branches and of the checklists their gates open: ids,
//! kinds, durations, references, migration versions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde_yaml::Value;

use super::backfill::{Backfill, Fields};
use super::load::{BUILTIN_VARS, ContentHash, parse_duration, required};
use super::locks::{LOCKING_KINDS, LockPolicy, RawLocks};
use super::raw::{KINDS, RawCheck, RawChecklist, RawItem, RawStep};
use super::source::{Parsed, Site, Source};
use super::template::{is_identifier, quoted_refs};
use super::{
    Branch, Check, Checklist, Diagnostic, Expect, FailurePolicy, Item, Migrations, Operand, Ref, Step, StepKind,
    Template,
};

pub(super) struct StepContext<'a> {
    pub source: &'a Source,
    /// The runbook's folder: checklists and migrations are relative to it.
    pub base: &'a Path,
    pub vars: &'a BTreeMap<String, String>,
    /// False when `vars` could not be read: unknown variables are then not reported.
    pub vars_known: bool,
    pub migrations: Option<&'a Migrations>,
    pub migrations_declared: bool,
    /// The runbook's lock settings, which steps override.
    pub locks: LockPolicy,
    pub hash: &'a mut ContentHash,
    pub diags: &'a mut Vec<Diagnostic>,
}

/// A step as read, before its kind is validated.
struct Pending {
    branch: Branch,
    index: usize,
    path: String,
    /// The id as written, for diagnostics, when there is one.
    label: Option<String>,
    /// The kind keys present, in the order written.
    kinds: Vec<String>,
    raw: RawStep,
    damaged: HashSet<String>,
}

/// Where a step sits, for the rule that a snapshot is used only after it is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Scope {
    branch: Branch,
    index: usize,
}

struct Taken {
    scope: Scope,
    step: String,
    line: usize,
}

/// What every step may refer to, known before any step is validated.
struct Names {
    snapshots: HashMap<String, Taken>,
    /// False when a snapshot step could not be read: unknown snapshots are then not reported.
    snapshots_known: bool,
}

impl StepContext<'_> {
    /// The valid steps of each branch; every problem goes to `diags`.
    pub fn load(mut self, main: Vec<Value>, rollback: Vec<Value>) -> (Vec<Step>, Vec<Step>) {
        let mut pending = Vec::new();
        let mut all_read = true;
        for (branch, list) in [(Branch::Main, main), (Branch::Rollback, rollback)] {
            for (index, mut value) in list.into_iter().enumerate() {
                let path = format!("{}.{index}", branch_key(branch));
                // `<<: *anchor` merge keys, e.g. a real backfill that repeats its dry run's
                // definition. A bad merge (not a map) is reported like any other shape error.
                if let Err(e) = value.apply_merge() {
                    let label = value.get("id").and_then(Value::as_str).map(str::to_string);
                    self.diags.push(step_site(self.source, &label).diag(&path, format!("YAML merge key: {e}")));
                    all_read = false;
                    continue;
                }
                let label = value.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_string);
                let kinds: Vec<String> = value
                    .as_mapping()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter_map(Value::as_str)
                    .filter(|k| KINDS.contains(k))
                    .map(str::to_string)
                    .collect();
                match step_site(self.source, &label).deserialize::<RawStep>(value, &path, self.diags) {
                    Some(Parsed { value: raw, damaged }) => {
                        pending.push(Pending { branch, index, path, label, kinds, raw, damaged })
                    }
                    None => all_read = false,
                }
            }
        }
        let names = self.names(&pending, all_read);
        let mut steps = (Vec::new(), Vec::new());
        for p in pending {
            let branch = p.branch;
            if let Some(step) = self.step(&names, p) {
                match branch {
                    Branch::Main => steps.0.push(step),
                    Branch::Rollback => steps.1.push(step),
                }
            }
        }
        steps
    }

    /// Checks step ids and snapshot names across both branches and collects the snapshots.
    fn names(&mut self, pending: &[Pending], all_read: bool) -> Names {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut names = Names { snapshots: HashMap::new(), snapshots_known: all_read };
        for p in pending {
            let site = step_site(self.source, &p.label);
            let id = p.raw.id.as_str();
            let id_path = format!("{}.id", p.path);
            required(site, &p.path, "id", id, &p.damaged, self.diags);
            if !id.is_empty() && !is_identifier(id) {
                self.diags.push(site.diag(&id_path, not_an_identifier("step id", id)));
            }
            let line = self.source.line(&p.path);
            if let Some(first) = ids.get(id) {
                let message = format!("duplicate step id `{id}` (first defined on line {first})");
                self.diags.push(site.diag(&id_path, message));
            } else if !id.is_empty() {
                ids.insert(id, line);
            }

            if p.damaged.contains("snapshot") {
                names.snapshots_known = false;
            }
            for name in p.raw.snapshot.iter().flat_map(|m| m.keys()) {
                let path = format!("{}.snapshot.{name}", p.path);
                if !is_identifier(name) {
                    self.diags.push(site.key_diag(&path, not_an_identifier("snapshot name", name)));
                }
                if let Some(taken) = names.snapshots.get(name) {
                    let message =
                        format!("snapshot `{name}` is already taken by step `{}` on line {}", taken.step, taken.line);
                    self.diags.push(site.key_diag(&path, message));
                } else {
                    let scope = Scope { branch: p.branch, index: p.index };
                    let step = id.to_string();
                    names.snapshots.insert(name.clone(), Taken { scope, step, line });
                }
            }
        }
        names
    }

    fn step(&mut self, names: &Names, p: Pending) -> Option<Step> {
        let Pending { branch, index, path, label, kinds, raw, damaged } = p;
        let site = step_site(self.source, &label);
        let path = path.as_str();
        let scope = Scope { branch, index };
        required(site, path, "title", &raw.title, &damaged, self.diags);
        let duration = |key: &str, value: Option<_>, diags: &mut Vec<Diagnostic>| {
            value.and_then(|v| parse_duration(site, &format!("{path}.{key}"), v, diags))
        };
        let timeout = duration("timeout", raw.timeout, self.diags);
        let target_time = duration("target_time", raw.target_time, self.diags);
        if branch == Branch::Rollback && raw.on_failure == Some(FailurePolicy::Rollback) {
            let message = "`on_failure: rollback` cannot be used in the rollback branch: use ask or abort";
            self.diags.push(site.diag(&format!("{path}.on_failure"), message));
        }

        let kind = match kinds.as_slice() {
            [] => {
                let message = format!("step has no kind: give one of {}", KINDS.join(", "));
                self.diags.push(site.diag(path, message));
                return None;
            }
            [kind] => kind.as_str(),
            [_, second, ..] => {
                let message = format!("step has {} kinds ({}): give exactly one", kinds.len(), kinds.join(", "));
                self.diags.push(site.key_diag(&format!("{path}.{second}"), message));
                return None;
            }
        };
        if damaged.contains(kind) {
            return None;
        }
        if kind == "manual" && timeout.is_some() {
            let message = "`timeout` does not apply to a `manual` step: it waits for a person to confirm";
            self.diags.push(site.key_diag(&format!("{path}.timeout"), message));
        }
        let raw_locks = RawLocks {
            lock_timeout: raw.lock_timeout,
            statement_timeout: raw.statement_timeout,
            lock_retries: raw.lock_retries,
        };
        if !LOCKING_KINDS.contains(&kind) {
            for key in raw_locks.keys() {
                let message = format!(
                    "`{key}` applies only to `migrate`, `revert` and `backfill` steps (their statements wait for \
                     locks the application needs): this is a `{kind}` step"
                );
                self.diags.push(site.key_diag(&format!("{path}.{key}"), message));
            }
        }
        let locks = raw_locks.resolve(site, path, self.locks, self.diags);
        let kind_path = format!("{path}.{kind}");
        // A kind key written without a value (`manual:`); `migrate:` alone means "all".
        let given = |text: Option<String>, diags: &mut Vec<Diagnostic>| match text {
            Some(t) if !t.trim().is_empty() => Some(t),
            _ => {
                diags.push(site.key_diag(&kind_path, format!("`{kind}` needs a value")));
                None
            }
        };
        let kind = match kind {
            "manual" => {
                let text = given(raw.manual, self.diags)?;
                StepKind::Manual { instructions: self.template(site, scope, names, &kind_path, &text)? }
            }
            "command" => {
                let run = given(raw.command, self.diags)?;
                if run.contains("${snapshot.") {
                    let message = "a command cannot use `${snapshot.…}`: it gets the runbook's variables, \
                                   as environment variables, and DATABASE_URL";
                    self.diags.push(site.diag(&kind_path, message));
                }
                StepKind::Command { run }
            }
            "check" => {
                let Some(check) = raw.check else {
                    self.diags.push(site.key_diag(&kind_path, "`check` needs `sql` and `expect`"));
                    return None;
                };
                StepKind::Check(self.check(site, scope, names, &kind_path, check)?)
            }
            "snapshot" => {
                let map = raw.snapshot.unwrap_or_default();
                if map.is_empty() {
                    self.diags.push(site.diag(&kind_path, "`snapshot` names no values"));
                }
                let mut values = Vec::new();
                for (name, sql) in map {
                    if let Some(t) = self.sql(site, scope, names, &format!("{kind_path}.{name}"), &sql) {
                        values.push((name, t));
                    }
                }
                StepKind::Snapshot { values }
            }
            "migrate" => {
                let to = raw.migrate.and_then(|m| m.to);
                self.need_migrations(site, path, "migrate");
                if let Some(to) = to {
                    self.need_version(site, &format!("{kind_path}.to"), to);
                }
                StepKind::Migrate { to }
            }
            "revert" => {
                let Some(revert) = raw.revert else {
                    self.diags.push(site.key_diag(&kind_path, "`revert` needs `to`: a version, or 0 for all"));
                    return None;
                };
                self.need_migrations(site, path, "revert");
                if revert.to != 0 {
                    self.need_version(site, &format!("{kind_path}.to"), revert.to);
                }
                StepKind::Revert { to: revert.to }
            }
            "gate" => {
                let file = given(raw.gate, self.diags)?;
                StepKind::Gate { checklist: self.checklist(site, scope, names, &kind_path, &file)? }
            }
            _ => {
                let Some(raw_backfill) = raw.backfill else {
                    self.diags.push(site.key_diag(&kind_path, "`backfill` needs table, key and set"));
                    return None;
                };
                let mut fields = Fields { site, path: &kind_path, vars: self.vars, diags: self.diags };
                let backfill = fields.check(&raw_backfill);
                let pause_when = match &raw_backfill.pause_when {
                    Some(sql) => Some(self.sql(site, scope, names, &format!("{kind_path}.pause_when"), sql)?),
                    None => None,
                };
                StepKind::Backfill(Box::new(Backfill { pause_when, ..backfill? }))
            }
        };
        Some(Step {
            id: raw.id,
            title: raw.title,
            kind,
            role: raw.role,
            timeout,
            target_time,
            on_failure: raw.on_failure,
            locks,
        })
    }

    fn need_migrations(&mut self, site: Site, path: &str, kind: &str) {
        if !self.migrations_declared {
            let message = format!("a `{kind}` step needs `migrations:` at the top of the runbook");
            self.diags.push(site.key_diag(&format!("{path}.{kind}"), message));
        }
    }

    fn need_version(&mut self, site: Site, path: &str, version: i64) {
        for set in self.migrations.map(Migrations::sets).unwrap_or_default() {
            if set.get(version).is_none() {
                let message = format!("no migration with version {version} in {}", set.dir.display());
                self.diags.push(site.diag(path, message));
            }
        }
    }

    fn check(&mut self, site: Site, scope: Scope, names: &Names, path: &str, raw: RawCheck) -> Option<Check> {
        let sql = self.sql(site, scope, names, &format!("{path}.sql"), &raw.sql);
        let expect_path = format!("{path}.expect");
        let expect = match Expect::parse(&raw.expect.into_text()) {
            Ok(e) => {
                if let Operand::Ref(r) = &e.operand {
                    self.resolve(site, scope, names, &expect_path, r);
                }
                Some(e)
            }
            Err(message) => {
                self.diags.push(site.diag(&expect_path, message));
                None
            }
        };
        Some(Check { sql: sql?, expect: expect? })
    }

    /// SQL whose references become bound parameters.
    fn sql(&mut self, site: Site, scope: Scope, names: &Names, path: &str, text: &str) -> Option<Template> {
        if text.trim().is_empty() {
            self.diags.push(site.diag(path, "the SQL is empty"));
            return None;
        }
        let template = self.template(site, scope, names, path, text)?;
        for r in quoted_refs(text) {
            let message = format!(
                "`{r}` is inside quotes or a comment: a reference is sent as a bound parameter, \
                 so write it outside quotes (`${{n}} * interval '1 minute'`, not `interval '${{n}} minutes'`)"
            );
            self.diags.push(site.diag(path, message));
        }
        Some(template)
    }

    fn template(&mut self, site: Site, scope: Scope, names: &Names, path: &str, text: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => {
                for r in t.refs() {
                    self.resolve(site, scope, names, path, r);
                }
                Some(t)
            }
            Err(message) => {
                self.diags.push(site.diag(path, message));
                None
            }
        }
    }

    /// A reference must name a declared or built-in variable, or a snapshot taken before
    /// this step: earlier in the same branch, or anywhere in the main branch for a rollback
    /// step (the rollback branch may start before that snapshot was taken: the engine then
    /// fails the step that needs it).
    fn resolve(&mut self, site: Site, scope: Scope, names: &Names, path: &str, r: &Ref) {
        let problem = match r {
            Ref::Var(name) => {
                let known = self.vars.contains_key(name) || BUILTIN_VARS.contains(&name.as_str());
                (!known && self.vars_known).then(|| format!("`{r}` is not a variable: declare `{name}` under `vars`"))
            }
            Ref::Snapshot(name) => match names.snapshots.get(name) {
                None => names.snapshots_known.then(|| format!("`{r}` is not taken by any snapshot step")),
                Some(taken) => match (taken.scope.branch, scope.branch) {
                    (Branch::Main, Branch::Rollback) => None,
                    (Branch::Rollback, Branch::Main) => Some(format!(
                        "`{r}` is taken only in the rollback branch (step `{}` on line {})",
                        taken.step, taken.line
                    )),
                    _ if taken.scope.index < scope.index => None,
                    _ => Some(format!("`{r}` is used before step `{}` on line {} takes it", taken.step, taken.line)),
                },
            },
        };
        if let Some(message) = problem {
            self.diags.push(site.diag(path, message));
        }
    }

    /// Loads the checklist a gate opens; its problems are reported in the checklist's file.
    fn checklist(&mut self, site: Site, scope: Scope, names: &Names, path: &str, file: &str) -> Option<Checklist> {
        let file_path = self.base.join(file);
        if !file_path.exists() {
            let message = format!("checklist `{}` does not exist", file_path.display());
            self.diags.push(site.diag(path, message));
            return None;
        }
        let source = Source::read(&file_path, self.diags)?;
        self.hash.add(file, &source.text);
        let document = source.document(self.diags)?;
        let file_site = source.site();
        let Parsed { value: raw, damaged } = file_site.deserialize::<RawChecklist>(document, "", self.diags)?;
        required(file_site, "", "name", &raw.name, &damaged, self.diags);
        required(file_site, "", "title", &raw.title, &damaged, self.diags);
        if raw.items.is_empty() && !damaged.contains("items") {
            self.diags.push(file_site.diag("items", "the checklist has no items"));
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut items = Vec::new();
        for (i, value) in raw.items.into_iter().enumerate() {
            let item_path = format!("items.{i}");
            let label = value.get("id").and_then(Value::as_str).map(str::to_string);
            let item_site = Site { item: label.as_deref().filter(|id| !id.is_empty()), ..file_site };
            let Some(Parsed { value: item, damaged }) = item_site.deserialize::<RawItem>(value, &item_path, self.diags)
            else {
                continue;
            };
            let RawItem { id, text, required: is_required, check } = item;
            required(item_site, &item_path, "id", &id, &damaged, self.diags);
            required(item_site, &item_path, "text", &text, &damaged, self.diags);
            let id_path = format!("{item_path}.id");
            if !id.is_empty() && !is_identifier(&id) {
                self.diags.push(file_site.diag(&id_path, not_an_identifier("item id", &id)));
            }
            if let Some(first) = ids.get(&id) {
                let message = format!("duplicate item id `{id}` (first defined on line {first})");
                self.diags.push(file_site.diag(&id_path, message));
            } else if !id.is_empty() {
                ids.insert(id.clone(), source.line(&item_path));
            }
            let check = match check {
                Some(c) => match self.check(item_site, scope, names, &format!("{item_path}.check"), c) {
                    Some(check) => Some(check),
                    None => continue,
                },
                None => None,
            };
            items.push(Item { id, text, required: is_required, check });
        }
        Some(Checklist { path: file_path, name: raw.name, title: raw.title, items })
    }
}

fn not_an_identifier(what: &str, name: &str) -> String {
    format!("{what} `{name}` must be letters, digits, `-` and `_`, and start with a letter or `_`")
}

fn step_site<'s>(source: &'s Source, label: &'s Option<String>) -> Site<'s> {
    Site { source, step: label.as_deref(), item: None }
}

fn branch_key(branch: Branch) -> &'static str {
    match branch {
        Branch::Main => "steps",
        Branch::Rollback => "rollback",
    }
}

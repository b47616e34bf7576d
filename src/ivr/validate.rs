//! Checks between nodes, once a script has parsed: references, reachability,
//! ways out, categories and topics on every exit, prompts in every language
//! a caller can hear them in. Also loads a directory of flows.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostic, Reporter};
use super::model::{NodeKind, Script};
use super::parse::parse;

/// Where prompts come from. The media side implements it over
/// `prompts/<language>/<prompt>.wav`; tests use texts or a fixed list.
pub trait PromptCatalog {
    fn has_prompt(&self, language: &str, prompt: &str) -> bool;

    /// How to name the prompt in a message, e.g. its file path.
    fn describe(&self, language: &str, prompt: &str) -> String {
        format!("{language}/{prompt}")
    }

    /// A problem with a prompt that exists (e.g. not 8 kHz mono 16-bit WAV),
    /// or `None` when it is usable.
    fn prompt_problem(&self, _language: &str, _prompt: &str) -> Option<String> {
        None
    }
}

/// Checks a prompt file's format; returns why it is unusable.
pub type FormatCheck = fn(&Path) -> Result<(), String>;

/// Prompts as files `<root>/<language>/<prompt>.<extension>`.
#[derive(Debug, Clone)]
pub struct DirCatalog {
    root: PathBuf,
    extension: String,
    format_check: Option<FormatCheck>,
}

impl DirCatalog {
    /// WAV prompts under `root` (the `--prompts-dir`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self::with_extension(root, "wav")
    }

    /// Other files, e.g. the `.txt` sources the WAVs are generated from.
    pub fn with_extension(root: impl Into<PathBuf>, extension: &str) -> Self {
        DirCatalog {
            root: root.into(),
            extension: extension.to_owned(),
            format_check: None,
        }
    }

    /// The hook for the media side's WAV format check (`hound`).
    pub fn with_format_check(mut self, check: FormatCheck) -> Self {
        self.format_check = Some(check);
        self
    }

    pub fn path(&self, language: &str, prompt: &str) -> PathBuf {
        self.root
            .join(language)
            .join(format!("{prompt}.{}", self.extension))
    }
}

impl PromptCatalog for DirCatalog {
    fn has_prompt(&self, language: &str, prompt: &str) -> bool {
        self.path(language, prompt).is_file()
    }

    fn describe(&self, language: &str, prompt: &str) -> String {
        self.path(language, prompt).display().to_string()
    }

    fn prompt_problem(&self, language: &str, prompt: &str) -> Option<String> {
        let check = self.format_check?;
        check(&self.path(language, prompt)).err()
    }
}

/// Accepts every prompt: for `ivr simulate` and tests that are not about prompts.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyPrompt;

impl PromptCatalog for AnyPrompt {
    fn has_prompt(&self, _language: &str, _prompt: &str) -> bool {
        true
    }
}

/// Every problem between nodes, sorted by position. Empty means the script
/// is safe to run.
///
/// Category/topic rule: a node that ends the IVR (queue, agent, callback,
/// hangup) must end up with both a category and a topic, either its own or
/// set by a `set` node on *every* path from the start to it. This lets one
/// submenu serve several callers (applicants and parents share the admission
/// menu, with `category` set before it) without a silent hole on some path.
pub fn validate(script: &Script, prompts: &dyn PromptCatalog) -> Vec<Diagnostic> {
    let file = script.source.path.display().to_string();
    let r = Reporter {
        file: &file,
        text: &script.source.text,
    };
    let mut errors = Vec::new();
    let nodes = &script.nodes;

    let mut seen_numbers = BTreeSet::new();
    for number in &script.flow.numbers {
        if !seen_numbers.insert(number.value.as_str()) {
            errors.push(r.at(
                &number.span,
                format!("number `{}` is listed twice", number.value),
            ));
        }
    }

    if !nodes.contains_key(&script.flow.start.value) {
        errors.push(r.at(
            &script.flow.start.span,
            format!("unknown node `{}`", script.flow.start.value),
        ));
    }
    for node in nodes.values() {
        for target in node.kind.successors() {
            if !nodes.contains_key(&target.value) {
                errors.push(r.at(&target.span, format!("unknown node `{}`", target.value)));
            }
        }
    }

    let graph = Graph::new(script);
    let reachable = graph.reachable_from(&script.flow.start.value);
    for node in nodes.values() {
        if !reachable.contains(node.id.as_str()) {
            errors.push(r.at(
                &node.span,
                format!(
                    "node `{}` is unreachable from start node `{}`",
                    node.id, script.flow.start.value
                ),
            ));
        }
    }

    let can_end = graph.can_reach_terminal();
    for node in nodes.values() {
        if reachable.contains(node.id.as_str()) && !can_end.contains(node.id.as_str()) {
            errors.push(r.at(
                &node.span,
                format!(
                    "{} node `{}` has no way out: no path from it reaches a queue, agent, callback or hangup node",
                    node.kind.name(),
                    node.id
                ),
            ));
        }
    }

    let has_category = graph.always_set(&script.flow.start.value, &reachable, |k| k.sets().0);
    let has_topic = graph.always_set(&script.flow.start.value, &reachable, |k| k.sets().1);
    for node in nodes.values() {
        if !node.kind.is_terminal() || !reachable.contains(node.id.as_str()) {
            continue;
        }
        let (category, topic) = node.kind.sets();
        for (what, own, inherited) in [
            (
                "category",
                category.is_some(),
                has_category.contains(node.id.as_str()),
            ),
            (
                "topic",
                topic.is_some(),
                has_topic.contains(node.id.as_str()),
            ),
        ] {
            if !own && !inherited {
                errors.push(r.at(
                    &node.span,
                    format!(
                        "{} node `{}` ends the IVR without a {what}: give it `{what}` or set one on every path to it",
                        node.kind.name(),
                        node.id
                    ),
                ));
            }
        }
    }

    let languages = graph.languages(script, &reachable);
    for node in nodes.values() {
        let Some(langs) = languages.get(node.id.as_str()) else {
            continue;
        };
        for prompt in node.kind.prompts() {
            for language in langs {
                if !prompts.has_prompt(language, &prompt.value) {
                    errors.push(r.at(
                        &prompt.span,
                        format!(
                            "missing prompt `{}` for language `{language}` ({})",
                            prompt.value,
                            prompts.describe(language, &prompt.value)
                        ),
                    ));
                } else if let Some(problem) = prompts.prompt_problem(language, &prompt.value) {
                    errors.push(r.at(
                        &prompt.span,
                        format!(
                            "prompt `{}` for language `{language}` is unusable ({}): {problem}",
                            prompt.value,
                            prompts.describe(language, &prompt.value)
                        ),
                    ));
                }
            }
        }
    }

    errors.sort();
    errors.dedup();
    errors
}

/// The node graph by id, known targets only.
struct Graph<'a> {
    script: &'a Script,
    successors: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Graph<'a> {
    fn new(script: &'a Script) -> Self {
        let successors = script
            .nodes
            .values()
            .map(|node| {
                let next = node
                    .kind
                    .successors()
                    .into_iter()
                    .map(|t| t.value.as_str())
                    .filter(|id| script.nodes.contains_key(*id))
                    .collect();
                (node.id.as_str(), next)
            })
            .collect();
        Graph { script, successors }
    }

    fn next(&self, id: &str) -> &[&'a str] {
        self.successors.get(id).map_or(&[], Vec::as_slice)
    }

    fn reachable_from(&self, start: &str) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let Some((start, _)) = self.script.nodes.get_key_value(start) else {
            return seen;
        };
        let mut queue = VecDeque::from([start.as_str()]);
        while let Some(id) = queue.pop_front() {
            if seen.insert(id) {
                queue.extend(self.next(id).iter().copied());
            }
        }
        seen
    }

    /// Nodes from which some path reaches a terminal node.
    fn can_reach_terminal(&self) -> BTreeSet<&'a str> {
        let mut done: BTreeSet<&str> = self
            .script
            .nodes
            .values()
            .filter(|n| n.kind.is_terminal())
            .map(|n| n.id.as_str())
            .collect();
        loop {
            let before = done.len();
            for (id, next) in &self.successors {
                if next.iter().any(|n| done.contains(n)) {
                    done.insert(id);
                }
            }
            if done.len() == before {
                return done;
            }
        }
    }

    /// Reachable nodes entered with the value already set on every path
    /// (a must-analysis: greatest fixed point, the start enters unset).
    fn always_set(
        &self,
        start: &str,
        reachable: &BTreeSet<&'a str>,
        sets: impl Fn(&NodeKind) -> Option<&super::model::Located>,
    ) -> BTreeSet<&'a str> {
        let mut set_on_entry: BTreeSet<&str> = reachable
            .iter()
            .copied()
            .filter(|id| *id != start)
            .collect();
        let sets_here = |id: &str| {
            self.script
                .nodes
                .get(id)
                .is_some_and(|n| sets(&n.kind).is_some())
        };
        loop {
            let mut changed = false;
            for id in reachable {
                let set_on_exit = set_on_entry.contains(id) || sets_here(id);
                if set_on_exit {
                    continue;
                }
                for next in self.next(id) {
                    changed |= set_on_entry.remove(next);
                }
            }
            if !changed {
                return set_on_entry;
            }
        }
    }

    /// For each reachable node, the languages a caller may hear it in.
    fn languages(
        &self,
        script: &'a Script,
        reachable: &BTreeSet<&'a str>,
    ) -> HashMap<&'a str, BTreeSet<&'a str>> {
        let mut langs: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        let start = script.flow.start.value.as_str();
        let Some((start, _)) = script.nodes.get_key_value(start) else {
            return langs;
        };
        let mut queue = VecDeque::from([(start.as_str(), script.flow.language.as_str())]);
        while let Some((id, lang)) = queue.pop_front() {
            if !reachable.contains(id) || !langs.entry(id).or_default().insert(lang) {
                continue;
            }
            let out = match script.nodes.get(id).map(|n| &n.kind) {
                Some(NodeKind::Set(s)) => s.language.as_ref().map_or(lang, |l| l.value.as_str()),
                _ => lang,
            };
            queue.extend(self.next(id).iter().map(|n| (*n, out)));
        }
        langs
    }
}

/// Loads every `*.toml` in `dir` (in file-name order), keeping only flows
/// that parse and validate. A flow claiming a number or name that an
/// earlier file already has is refused, so a call can never enter two
/// flows. Returns the usable flows and every problem found.
pub fn load_dir(dir: &Path, prompts: &dyn PromptCatalog) -> (Vec<Arc<Script>>, Vec<Diagnostic>) {
    let mut scripts: Vec<Arc<Script>> = Vec::new();
    let mut errors = Vec::new();
    let whole_file = |path: &Path, message: String| Diagnostic {
        file: path.display().to_string(),
        line: 1,
        col: 1,
        message,
    };
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
            .collect(),
        Err(e) => {
            errors.push(whole_file(dir, format!("cannot read IVR directory: {e}")));
            return (scripts, errors);
        }
    };
    paths.sort();
    let mut numbers: HashMap<String, PathBuf> = HashMap::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(whole_file(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        let script = match parse(&path, &text) {
            Ok(script) => script,
            Err(mut parse_errors) => {
                errors.append(&mut parse_errors);
                continue;
            }
        };
        let mut problems = validate(&script, prompts);
        let file = path.display().to_string();
        let r = Reporter {
            file: &file,
            text: &text,
        };
        if let Some(other) = names.get(&script.flow.name) {
            problems.push(r.at(
                &script.flow.span,
                format!(
                    "flow name `{}` is already used by {}",
                    script.flow.name,
                    other.display()
                ),
            ));
        }
        for number in &script.flow.numbers {
            if let Some(other) = numbers.get(&number.value) {
                problems.push(r.at(
                    &number.span,
                    format!(
                        "number `{}` is already used by {}",
                        number.value,
                        other.display()
                    ),
                ));
            }
        }
        if problems.is_empty() {
            names.insert(script.flow.name.clone(), path.clone());
            for number in &script.flow.numbers {
                numbers.insert(number.value.clone(), path.clone());
            }
            scripts.push(Arc::new(script));
        } else {
            problems.sort();
            errors.append(&mut problems);
        }
    }
    (scripts, errors)
}

//! TOML text → [`Script`], with every structural error positioned.
//!
//! Structural problems (syntax, missing keys, wrong types, unknown kinds or
//! keys, bad option keys, values out of range) are found here, all at once;
//! problems between nodes (unknown ids, unreachable nodes, loops, missing
//! prompts, categories) are the validator's, because they need the whole
//! graph.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::diagnostic::{Diagnostic, Reporter, Span};
use super::model::{
    AgentNode, AgentTarget, CATEGORIES, CallbackNode, Flow, HangupNode, Located, Menu, MenuOption,
    Node, NodeKind, PERSONAL_AREAS, Play, QueueNode, Script, ScriptSource, SetNode,
};
use super::raw::{self, Item, Key, Value};

/// Node kinds in the order they are listed in messages.
pub const NODE_KINDS: &[&str] = &[
    "menu",
    "play",
    "queue",
    "agent",
    "business_hours",
    "set",
    "callback",
    "hangup",
];

/// Longest menu timeout accepted: a caller waiting longer has left.
const MAX_TIMEOUT_S: i64 = 600;
/// More repeats than this only annoys the caller.
const MAX_RETRIES: i64 = 10;

/// Parses one flow. On error returns every structural problem found, sorted
/// by position.
pub fn parse(path: &Path, text: &str) -> Result<Script, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let r = Reporter { file: &file, text };
    let mut errors = Vec::new();
    let doc = match raw::parse_document(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', ": ");
            return Err(vec![r.at(&span, message)]);
        }
    };

    let mut flow_item = None;
    let mut nodes_item = None;
    for (key, item) in &doc {
        match key.name.as_str() {
            "flow" => flow_item = Some((key, item)),
            "nodes" => nodes_item = Some((key, item)),
            other => errors.push(r.at(
                &key_span(key),
                format!("unknown key `{other}` at top level (expected `flow` and `nodes`)"),
            )),
        }
    }

    let flow = match flow_item {
        None => {
            errors.push(r.at(&(0..0), "missing [flow] table"));
            None
        }
        Some((key, item)) => parse_flow(r, key, item, &mut errors),
    };
    let nodes = match nodes_item {
        None => {
            errors.push(r.at(&(0..0), "missing [nodes] table"));
            None
        }
        Some((key, item)) => parse_nodes(r, key, item, &mut errors),
    };

    match (flow, nodes) {
        (Some(flow), Some(nodes)) if errors.is_empty() => Ok(Script {
            flow,
            nodes,
            source: ScriptSource {
                path: path.to_path_buf(),
                text: text.to_owned(),
            },
        }),
        _ => {
            errors.sort();
            errors.dedup();
            Err(errors)
        }
    }
}

fn key_span(key: &Key) -> Span {
    key.span.clone().unwrap_or(0..0)
}

fn parse_flow(r: Reporter, key: &Key, item: &Item, errors: &mut Vec<Diagnostic>) -> Option<Flow> {
    let header = key_span(key);
    let Value::Table(entries) = &item.value else {
        errors.push(r.at(&item_span(key, item), "[flow] must be a table"));
        return None;
    };
    let mut f = Fields::new(r, entries, "[flow]".to_owned(), header.clone());
    let name = f.req_string("name", errors);
    let start = f.req_string("start", errors);
    let language = match f.opt_string("language", errors) {
        Ok(Some(lang)) => {
            check_identifier(r, &lang, "language", errors);
            Some(lang.value)
        }
        Ok(None) => Some("ru".to_owned()),
        Err(()) => None,
    };
    let numbers = f.req_string_list("numbers", errors);
    f.finish(errors);
    if let Some(numbers) = &numbers
        && numbers.is_empty()
    {
        errors.push(r.at(&header, "`numbers` must list at least one number"));
    }
    Some(Flow {
        name: name?.value,
        numbers: numbers?,
        start: start?,
        language: language?,
        span: header,
    })
}

fn parse_nodes(
    r: Reporter,
    key: &Key,
    item: &Item,
    errors: &mut Vec<Diagnostic>,
) -> Option<BTreeMap<String, Node>> {
    let Value::Table(entries) = &item.value else {
        errors.push(r.at(&item_span(key, item), "[nodes] must be a table"));
        return None;
    };
    let mut nodes = BTreeMap::new();
    for (id_key, node_item) in entries {
        if let Some(node) = parse_node(r, id_key, node_item, errors) {
            nodes.insert(node.id.clone(), node);
        }
    }
    Some(nodes)
}

fn parse_node(
    r: Reporter,
    id_key: &Key,
    item: &Item,
    errors: &mut Vec<Diagnostic>,
) -> Option<Node> {
    let id = id_key.name.clone();
    let header = item_span(id_key, item);
    let header = id_key.span.clone().unwrap_or(header);
    let Value::Table(entries) = &item.value else {
        errors.push(r.at(&header, format!("node `{id}` must be a table")));
        return None;
    };
    let mut f = Fields::new(r, entries, format!("node `{id}`"), header.clone());
    let kind = f.req_string("kind", errors)?;
    if !NODE_KINDS.contains(&kind.value.as_str()) {
        errors.push(r.at(
            &kind.span,
            format!(
                "unknown node kind `{}` (expected {})",
                kind.value,
                NODE_KINDS.join(", ")
            ),
        ));
        return None;
    }
    f.what = format!("{} node `{id}`", kind.value);
    let node_kind = match kind.value.as_str() {
        "menu" => parse_menu(r, &mut f, errors).map(NodeKind::Menu),
        "play" => {
            let prompt = f.req_prompt("prompt", errors);
            let next = f.req_string("next", errors);
            let resolves = f.opt_bool("resolves", errors).unwrap_or(None);
            Some(NodeKind::Play(Play {
                prompt: prompt?,
                next: next?,
                resolves: resolves.unwrap_or(false),
            }))
        }
        "queue" => {
            let queue = f.req_string("queue", errors);
            let (category, topic) = f.category_topic(errors);
            let priority = f.opt_int("priority", -1000, 1000, errors);
            Some(NodeKind::Queue(QueueNode {
                queue: queue?,
                category: category?,
                topic: topic?,
                priority: priority?.and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
            }))
        }
        "agent" => parse_agent(r, &mut f, errors).map(NodeKind::Agent),
        "business_hours" => {
            let open = f.req_string("open", errors);
            let closed = f.req_string("closed", errors);
            Some(NodeKind::BusinessHours {
                open: open?,
                closed: closed?,
            })
        }
        "set" => {
            let (category, topic) = f.category_topic(errors);
            let language = f.opt_string("language", errors);
            if let Ok(Some(lang)) = &language {
                check_identifier(r, lang, "language", errors);
            }
            let next = f.req_string("next", errors);
            let (category, topic, language) = (category?, topic?, language.ok()?);
            if category.is_none() && topic.is_none() && language.is_none() {
                errors.push(r.at(
                    &header,
                    format!("set node `{id}` sets nothing: give `category`, `topic` or `language`"),
                ));
            }
            Some(NodeKind::Set(SetNode {
                category,
                topic,
                language,
                next: next?,
            }))
        }
        "callback" => {
            let prompt = f.opt_prompt("prompt", errors);
            let (category, topic) = f.category_topic(errors);
            Some(NodeKind::Callback(CallbackNode {
                prompt: prompt?,
                category: category?,
                topic: topic?,
            }))
        }
        "hangup" => {
            let prompt = f.opt_prompt("prompt", errors);
            let (category, topic) = f.category_topic(errors);
            Some(NodeKind::Hangup(HangupNode {
                prompt: prompt?,
                category: category?,
                topic: topic?,
            }))
        }
        _ => None,
    };
    f.finish(errors);
    Some(Node {
        id,
        span: header,
        kind: node_kind?,
    })
}

fn parse_menu(r: Reporter, f: &mut Fields<'_>, errors: &mut Vec<Diagnostic>) -> Option<Menu> {
    let prompt = f.req_prompt("prompt", errors);
    let timeout = f.req_int("timeout_s", 1, MAX_TIMEOUT_S, errors);
    let retries = f.opt_int("retries", 0, MAX_RETRIES, errors);
    let invalid_prompt = f.opt_prompt("invalid_prompt", errors);
    let timeout_prompt = f.opt_prompt("timeout_prompt", errors);
    let on_timeout = f.opt_string("on_timeout", errors).ok();
    let on_invalid = f.opt_string("on_invalid", errors).ok();
    let options = match f.take("options") {
        None => Some(Vec::new()),
        Some((key, item)) => parse_options(r, key, item, errors),
    };
    Some(Menu {
        prompt: prompt?,
        timeout: Duration::from_secs(u64::try_from(timeout?).ok()?),
        retries: retries?.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        invalid_prompt: invalid_prompt?,
        timeout_prompt: timeout_prompt?,
        on_timeout: on_timeout?,
        on_invalid: on_invalid?,
        options: options?,
    })
}

fn parse_options(
    r: Reporter,
    key: &Key,
    item: &Item,
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<MenuOption>> {
    let Value::Table(entries) = &item.value else {
        errors.push(r.at(
            &item_span(key, item),
            format!(
                "`options` must be a table of key = node, not {}",
                item.value.type_name()
            ),
        ));
        return None;
    };
    let mut options = Vec::new();
    let mut ok = true;
    for (digit, target) in entries {
        let key_span = digit.span.clone().unwrap_or_else(|| item_span(key, item));
        let mut chars = digit.name.chars();
        let key = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
            _ => {
                errors.push(r.at(
                    &key_span,
                    format!(
                        "invalid menu key `{}`: a key is one of 0-9, `*` or `#`",
                        digit.name
                    ),
                ));
                None
            }
        };
        let target = match &target.value {
            Value::String(s) => Some(Located {
                value: s.clone(),
                span: item_span(digit, target),
            }),
            other => {
                errors.push(r.at(
                    &item_span(digit, target),
                    format!(
                        "option `{}` must name a node (a string), not {}",
                        digit.name,
                        other.type_name()
                    ),
                ));
                None
            }
        };
        match (key, target) {
            (Some(key), Some(target)) => options.push(MenuOption {
                key,
                key_span,
                target,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(options)
}

fn parse_agent(r: Reporter, f: &mut Fields<'_>, errors: &mut Vec<Diagnostic>) -> Option<AgentNode> {
    let login = f.opt_string("login", errors);
    let personal = f.opt_string("personal", errors);
    let fallback_queue = f.req_string("fallback_queue", errors);
    let (category, topic) = f.category_topic(errors);
    let target = match (login.ok()?, personal.ok()?) {
        (Some(login), None) => Some(AgentTarget::Login(login.value)),
        (None, Some(area)) => {
            if PERSONAL_AREAS.contains(&area.value.as_str()) {
                Some(AgentTarget::Personal(area.value))
            } else {
                errors.push(r.at(
                    &area.span,
                    format!(
                        "unknown personal manager area `{}` (expected {})",
                        area.value,
                        PERSONAL_AREAS.join(", ")
                    ),
                ));
                None
            }
        }
        (Some(_), Some(personal)) => {
            errors.push(r.at(
                &personal.span,
                format!("{} has both `login` and `personal`: choose one", f.what),
            ));
            None
        }
        (None, None) => {
            errors.push(r.at(&f.header, format!("{} needs `login` or `personal`", f.what)));
            None
        }
    };
    Some(AgentNode {
        target: target?,
        fallback_queue: fallback_queue?,
        category: category?,
        topic: topic?,
    })
}

/// Prompt ids and languages become path components: allow only safe names.
fn check_identifier(
    r: Reporter,
    value: &Located,
    what: &str,
    errors: &mut Vec<Diagnostic>,
) -> bool {
    let ok = !value.value.is_empty()
        && value
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        errors.push(r.at(
            &value.span,
            format!(
                "{what} `{}` may contain only letters, digits, `_` and `-`",
                value.value
            ),
        ));
    }
    ok
}

/// The value's span, else its key's, else the file start.
fn item_span(key: &Key, item: &Item) -> Span {
    item.span
        .clone()
        .or_else(|| key.span.clone())
        .unwrap_or(0..0)
}

/// The keys of one table, consumed one by one; whatever is left is unknown.
struct Fields<'a> {
    r: Reporter<'a>,
    entries: &'a [(Key, Item)],
    used: Vec<bool>,
    /// "menu node `welcome`" or "[flow]", for messages.
    what: String,
    header: Span,
}

impl<'a> Fields<'a> {
    fn new(r: Reporter<'a>, entries: &'a [(Key, Item)], what: String, header: Span) -> Self {
        Fields {
            r,
            entries,
            used: vec![false; entries.len()],
            what,
            header,
        }
    }

    fn take(&mut self, name: &str) -> Option<(&'a Key, &'a Item)> {
        let index = self.entries.iter().position(|(k, _)| k.name == name)?;
        if let Some(used) = self.used.get_mut(index) {
            *used = true;
        }
        self.entries.get(index).map(|(k, v)| (k, v))
    }

    fn missing(&self, name: &str, errors: &mut Vec<Diagnostic>) {
        errors.push(self.r.at(
            &self.header,
            format!("{} is missing required key `{name}`", self.what),
        ));
    }

    fn wrong_type(&self, name: &str, expected: &str, key: &Key, item: &Item) -> Diagnostic {
        self.r.at(
            &item_span(key, item),
            format!(
                "`{name}` must be {expected}, not {}",
                item.value.type_name()
            ),
        )
    }

    /// `Ok(None)` when absent; `Err` when present but wrong (already reported).
    fn opt_string(
        &mut self,
        name: &str,
        errors: &mut Vec<Diagnostic>,
    ) -> Result<Option<Located>, ()> {
        let Some((key, item)) = self.take(name) else {
            return Ok(None);
        };
        match &item.value {
            Value::String(s) if s.is_empty() => {
                errors.push(
                    self.r
                        .at(&item_span(key, item), format!("`{name}` must not be empty")),
                );
                Err(())
            }
            Value::String(s) => Ok(Some(Located {
                value: s.clone(),
                span: item_span(key, item),
            })),
            _ => {
                errors.push(self.wrong_type(name, "a string", key, item));
                Err(())
            }
        }
    }

    fn req_string(&mut self, name: &str, errors: &mut Vec<Diagnostic>) -> Option<Located> {
        match self.opt_string(name, errors) {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                self.missing(name, errors);
                None
            }
            Err(()) => None,
        }
    }

    fn opt_prompt(&mut self, name: &str, errors: &mut Vec<Diagnostic>) -> Option<Option<Located>> {
        let prompt = self.opt_string(name, errors).ok()?;
        if let Some(p) = &prompt
            && !check_identifier(self.r, p, "prompt id", errors)
        {
            return None;
        }
        Some(prompt)
    }

    fn req_prompt(&mut self, name: &str, errors: &mut Vec<Diagnostic>) -> Option<Located> {
        match self.opt_prompt(name, errors)? {
            Some(p) => Some(p),
            None => {
                self.missing(name, errors);
                None
            }
        }
    }

    fn req_string_list(
        &mut self,
        name: &str,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<Vec<Located>> {
        let Some((key, item)) = self.take(name) else {
            self.missing(name, errors);
            return None;
        };
        let Value::Array(items) = &item.value else {
            errors.push(self.wrong_type(name, "an array of strings", key, item));
            return None;
        };
        let mut out = Vec::new();
        for element in items {
            match &element.value {
                Value::String(s) if !s.is_empty() => out.push(Located {
                    value: s.clone(),
                    span: item_span(key, element),
                }),
                _ => {
                    errors.push(self.r.at(
                        &item_span(key, element),
                        format!("`{name}` must contain only non-empty strings"),
                    ));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn opt_bool(&mut self, name: &str, errors: &mut Vec<Diagnostic>) -> Result<Option<bool>, ()> {
        let Some((key, item)) = self.take(name) else {
            return Ok(None);
        };
        match item.value {
            Value::Boolean(b) => Ok(Some(b)),
            _ => {
                errors.push(self.wrong_type(name, "true or false", key, item));
                Err(())
            }
        }
    }

    /// `Some(None)` when absent; `None` when present but wrong (reported).
    fn opt_int(
        &mut self,
        name: &str,
        min: i64,
        max: i64,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<Option<i64>> {
        let Some((key, item)) = self.take(name) else {
            return Some(None);
        };
        match item.value {
            Value::Integer(n) if (min..=max).contains(&n) => Some(Some(n)),
            Value::Integer(_) => {
                errors.push(self.r.at(
                    &item_span(key, item),
                    format!("`{name}` must be between {min} and {max}"),
                ));
                None
            }
            _ => {
                errors.push(self.wrong_type(name, "an integer", key, item));
                None
            }
        }
    }

    fn req_int(
        &mut self,
        name: &str,
        min: i64,
        max: i64,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<i64> {
        match self.opt_int(name, min, max, errors)? {
            Some(n) => Some(n),
            None => {
                self.missing(name, errors);
                None
            }
        }
    }

    /// Optional `category` (one of [`CATEGORIES`]) and `topic`.
    #[allow(clippy::type_complexity)]
    fn category_topic(
        &mut self,
        errors: &mut Vec<Diagnostic>,
    ) -> (Option<Option<Located>>, Option<Option<Located>>) {
        let category = self
            .opt_string("category", errors)
            .ok()
            .and_then(|c| match c {
                Some(c) if !CATEGORIES.contains(&c.value.as_str()) => {
                    errors.push(self.r.at(
                        &c.span,
                        format!(
                            "unknown category `{}` (expected {})",
                            c.value,
                            CATEGORIES.join(", ")
                        ),
                    ));
                    None
                }
                other => Some(other),
            });
        let topic = self.opt_string("topic", errors).ok();
        (category, topic)
    }

    /// Reports every key nobody asked for: a typo must not silently fall
    /// back to a default.
    fn finish(&self, errors: &mut Vec<Diagnostic>) {
        for ((key, _), used) in self.entries.iter().zip(&self.used) {
            if !used {
                errors.push(self.r.at(
                    &key_span(key),
                    format!("unknown key `{}` in {}", key.name, self.what),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_flow_with_positions() {
        let text = r#"[flow]
name = "t"
numbers = ["100"]
start = "m"

[nodes.m]
kind = "menu"
prompt = "main_menu"
timeout_s = 5
retries = 2
on_timeout = "q"
options = { "1" = "q", "*" = "m" }

[nodes.q]
kind = "queue"
queue = "general"
category = "other"
topic = "general"
"#;
        let script = parse(Path::new("t.toml"), text).unwrap();
        assert_eq!(script.flow.language, "ru");
        let NodeKind::Menu(menu) = &script.nodes["m"].kind else {
            panic!()
        };
        assert_eq!(menu.timeout, Duration::from_secs(5));
        assert_eq!(menu.options.len(), 2);
        assert_eq!(&text[menu.options[1].key_span.clone()], "\"*\"");
        assert_eq!(&text[script.nodes["q"].span.clone()], "q");
    }

    #[test]
    fn reports_every_structural_error_at_once() {
        let text = "[flow]\nname = 1\nnumbers = []\nstart = \"m\"\n[nodes.m]\nkind = \"menu\"\ntimeout_s = \"5\"\nfoo = 1\n";
        let errors = parse(Path::new("t.toml"), text).unwrap_err();
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "t.toml:1:2: `numbers` must list at least one number",
                "t.toml:2:8: `name` must be a string, not an integer",
                "t.toml:5:8: menu node `m` is missing required key `prompt`",
                "t.toml:7:13: `timeout_s` must be an integer, not a string",
                "t.toml:8:1: unknown key `foo` in menu node `m`",
            ]
        );
    }
}

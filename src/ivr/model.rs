//! The typed, immutable form of one IVR flow.
//!
//! A [`Script`] is parsed once and shared as `Arc<Script>` by every call that
//! enters the flow; a call keeps the `Arc` it started with, so a hot reload
//! never changes a walk in progress. Every reference (node id, prompt id,
//! option key) keeps its source span so the validator can point at it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::diagnostic::Span;

/// The inquiry categories of ARCHITECTURE §6.
pub const CATEGORIES: &[&str] = &[
    "applicant",
    "student",
    "listener",
    "graduate",
    "parent",
    "other",
];

/// One flow: its header, its nodes by id, and the text it came from.
#[derive(Debug, Clone)]
pub struct Script {
    pub flow: Flow,
    /// Ordered by id so listings and diagnostics are deterministic.
    pub nodes: BTreeMap<String, Node>,
    pub source: ScriptSource,
}

impl Script {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }
}

/// Where a script came from, kept for diagnostics and for the API's "get".
#[derive(Debug, Clone)]
pub struct ScriptSource {
    pub path: PathBuf,
    pub text: String,
}

/// The `[flow]` table.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    /// Request-URI users that enter this flow.
    pub numbers: Vec<Located>,
    pub start: NodeRef,
    /// Default prompt language: `prompts/<language>/<prompt>.wav`.
    pub language: String,
    /// The `[flow]` header, for errors about the flow as a whole.
    pub span: Span,
}

/// A string from the script with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub span: Span,
}

/// A reference to a node by id (`next = "welcome"`), positioned at the value.
pub type NodeRef = Located;

/// A reference to a prompt by id (`prompt = "main_menu"`), positioned at the value.
pub type PromptRef = Located;

/// One node: its id, where its table starts, and what it does.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    /// The id in `[nodes.<id>]`, where node-level errors point.
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Menu(Menu),
    Play(Play),
    Queue(QueueNode),
    Agent(AgentNode),
    BusinessHours { open: NodeRef, closed: NodeRef },
    Set(SetNode),
    Callback(CallbackNode),
    Hangup(HangupNode),
}

impl NodeKind {
    /// The `kind = "…"` spelling.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Menu(_) => "menu",
            NodeKind::Play(_) => "play",
            NodeKind::Queue(_) => "queue",
            NodeKind::Agent(_) => "agent",
            NodeKind::BusinessHours { .. } => "business_hours",
            NodeKind::Set(_) => "set",
            NodeKind::Callback(_) => "callback",
            NodeKind::Hangup(_) => "hangup",
        }
    }

    /// Nodes where the IVR ends (the call is routed, recorded or hung up).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            NodeKind::Queue(_) | NodeKind::Agent(_) | NodeKind::Callback(_) | NodeKind::Hangup(_)
        )
    }

    /// The category and topic this node writes to the inquiry, if any.
    pub fn sets(&self) -> (Option<&Located>, Option<&Located>) {
        match self {
            NodeKind::Queue(n) => (n.category.as_ref(), n.topic.as_ref()),
            NodeKind::Agent(n) => (n.category.as_ref(), n.topic.as_ref()),
            NodeKind::Set(n) => (n.category.as_ref(), n.topic.as_ref()),
            NodeKind::Callback(n) => (n.category.as_ref(), n.topic.as_ref()),
            NodeKind::Hangup(n) => (n.category.as_ref(), n.topic.as_ref()),
            NodeKind::Menu(_) | NodeKind::Play(_) | NodeKind::BusinessHours { .. } => (None, None),
        }
    }

    /// Every node this one can lead to, with the reference's position.
    pub fn successors(&self) -> Vec<&NodeRef> {
        match self {
            NodeKind::Menu(m) => m
                .options
                .iter()
                .map(|o| &o.target)
                .chain(m.on_timeout.iter())
                .chain(m.on_invalid.iter())
                .collect(),
            NodeKind::Play(p) => vec![&p.next],
            NodeKind::BusinessHours { open, closed } => vec![open, closed],
            NodeKind::Set(s) => vec![&s.next],
            NodeKind::Queue(_)
            | NodeKind::Agent(_)
            | NodeKind::Callback(_)
            | NodeKind::Hangup(_) => Vec::new(),
        }
    }

    /// Every prompt this node plays.
    pub fn prompts(&self) -> Vec<&PromptRef> {
        match self {
            NodeKind::Menu(m) => std::iter::once(&m.prompt)
                .chain(m.invalid_prompt.iter())
                .chain(m.timeout_prompt.iter())
                .collect(),
            NodeKind::Play(p) => vec![&p.prompt],
            NodeKind::Callback(c) => c.prompt.iter().collect(),
            NodeKind::Hangup(h) => h.prompt.iter().collect(),
            NodeKind::Queue(_)
            | NodeKind::Agent(_)
            | NodeKind::BusinessHours { .. }
            | NodeKind::Set(_) => Vec::new(),
        }
    }
}

/// Plays `prompt`, then waits `timeout` for one key.
///
/// Tries: the prompt is heard once plus up to `retries` repeats; every
/// invalid key or silence uses one try. When no try is left the caller goes
/// to `on_invalid` (if the last try was an invalid key and it is set) or
/// `on_timeout`.
#[derive(Debug, Clone)]
pub struct Menu {
    pub prompt: PromptRef,
    pub timeout: Duration,
    pub retries: u32,
    pub invalid_prompt: Option<PromptRef>,
    pub timeout_prompt: Option<PromptRef>,
    pub on_timeout: Option<NodeRef>,
    pub on_invalid: Option<NodeRef>,
    /// In source order.
    pub options: Vec<MenuOption>,
}

impl Menu {
    pub fn option(&self, key: char) -> Option<&MenuOption> {
        self.options.iter().find(|o| o.key == key)
    }
}

/// `"1" = "applicants"` inside `options`.
#[derive(Debug, Clone)]
pub struct MenuOption {
    pub key: char,
    /// The key's position (at its opening quote, if quoted).
    pub key_span: Span,
    pub target: NodeRef,
}

/// Plays `prompt`, then goes to `next`.
#[derive(Debug, Clone)]
pub struct Play {
    pub prompt: PromptRef,
    pub next: NodeRef,
    /// A self-service answer: a caller who hangs up after reaching it got
    /// what they called for (`resolved_in_ivr`), not abandoned.
    pub resolves: bool,
}

/// Hands the call to an ACD queue; the IVR ends.
#[derive(Debug, Clone)]
pub struct QueueNode {
    pub queue: Located,
    pub category: Option<Located>,
    pub topic: Option<Located>,
    /// Higher is served first; 0 when absent.
    pub priority: i32,
}

/// Hands the call to one manager, or the queue if they are not available.
#[derive(Debug, Clone)]
pub struct AgentNode {
    pub target: AgentTarget,
    pub fallback_queue: Located,
    pub category: Option<Located>,
    pub topic: Option<Located>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentTarget {
    /// A fixed manager by login.
    Login(String),
    /// The caller's own personal manager for this area (`admission` or
    /// `education`), looked up by the caller's number.
    Personal(String),
}

/// The areas a client can have a personal manager for.
pub const PERSONAL_AREAS: &[&str] = &["admission", "education"];

/// Writes category, topic and/or language, then goes to `next`.
#[derive(Debug, Clone)]
pub struct SetNode {
    pub category: Option<Located>,
    pub topic: Option<Located>,
    pub language: Option<Located>,
    pub next: NodeRef,
}

/// Records a callback request for the caller's number, plays `prompt`
/// (a confirmation) and hangs up.
#[derive(Debug, Clone)]
pub struct CallbackNode {
    pub prompt: Option<PromptRef>,
    pub category: Option<Located>,
    pub topic: Option<Located>,
}

/// Plays `prompt` (if any) and hangs up; the call counts as resolved in the IVR.
#[derive(Debug, Clone)]
pub struct HangupNode {
    pub prompt: Option<PromptRef>,
    pub category: Option<Located>,
    pub topic: Option<Located>,
}

//! IVR: scripts (TOML, ARCHITECTURE §4), their validator, and the sans-IO
//! interpreter that walks one caller through a flow.
//!
//! Life of a script:
//! 1. [`load_dir`] (or [`parse`] + [`validate`]) turns `ivr-scripts/*.toml`
//!    into `Arc<Script>`s, refusing any with a [`Diagnostic`]
//!    (`file:line:col: message`, what `hotline check` prints).
//! 2. For each call entering a flow's number, the call layer creates a
//!    [`Session`] over the flow's current `Arc<Script>` (a reload never
//!    changes a call in progress), feeds it [`Input`]s and performs its
//!    [`Output`]s; [`Session::outcome`] says how the IVR part ended.
//! 3. [`ScriptRegistry`] is the runtime around 1 and 2: the live flows by
//!    number, hot reload of the directory, and the shared prompt cache.
//! 4. [`simulate`] runs a session with a key list for `hotline ivr simulate`.
//!
//! Prompts are checked through [`PromptCatalog`]; [`DirCatalog`] looks for
//! `<prompts>/<language>/<id>.wav` and takes the media side's WAV format
//! check as a hook.
pub mod calendar;
pub mod diagnostic;
pub mod interpreter;
pub mod model;
pub mod parse;
pub mod raw;
pub mod registry;
pub mod simulate;
pub mod validate;

pub use calendar::{Calendar, CalendarTime};
pub use diagnostic::Diagnostic;
pub use interpreter::{Input, Outcome, Output, RouteTarget, Session, TimerId};
pub use model::*;
pub use parse::parse;
pub use registry::{ReloadReport, ScriptRegistry, spawn_watcher};
pub use simulate::simulate;
pub use validate::{AnyPrompt, DirCatalog, PromptCatalog, load_dir, validate};

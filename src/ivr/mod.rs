//! IVR: scripts (TOML), their validator and the sans-IO interpreter.
pub mod calendar;
pub mod diagnostic;
pub mod interpreter;
pub mod model;
pub mod parse;
pub mod raw;
pub mod simulate;
pub mod validate;

pub use calendar::{Calendar, CalendarTime};
pub use diagnostic::Diagnostic;
pub use interpreter::{Input, Outcome, Output, RouteTarget, Session, TimerId};
pub use model::*;
pub use parse::parse;
pub use simulate::simulate;
pub use validate::{AnyPrompt, DirCatalog, PromptCatalog, load_dir, validate};

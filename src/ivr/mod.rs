//! IVR: scripts (TOML), their validator and the sans-IO interpreter.
pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod raw;

pub use diagnostic::Diagnostic;
pub use model::*;
pub use parse::parse;

//! Errors in a script, reported as `file:line:col: message`.

use std::fmt;
use std::ops::Range;

/// One problem in a script, positioned at the offending key or value.
///
/// `line` and `col` are 1-based; `col` counts characters, not bytes, so an
/// editor's column matches even after Cyrillic comments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for Diagnostic {}

/// A byte range in a script's text. `0..0` means "the start of the file",
/// used when the TOML parser gave no position.
pub type Span = Range<usize>;

/// 1-based line and character column of byte `offset` in `text`.
///
/// Offsets past the end or inside a multi-byte character are clamped, so a
/// bad span can never panic.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset = offset.saturating_sub(1);
    }
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count().saturating_add(1);
    let line_start = before.rfind('\n').map_or(0, |i| i.saturating_add(1));
    let col = before
        .get(line_start..)
        .unwrap_or("")
        .chars()
        .count()
        .saturating_add(1);
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// Builds diagnostics for one file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reporter<'a> {
    pub file: &'a str,
    pub text: &'a str,
}

impl Reporter<'_> {
    pub fn at(&self, span: &Span, message: impl Into<String>) -> Diagnostic {
        let (line, col) = line_col(self.text, span.start);
        Diagnostic {
            file: self.file.to_owned(),
            line,
            col,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "# привет\nab = 1\n# ё x";
        assert_eq!(line_col(text, 0), (1, 1));
        let x = text.rfind('x').unwrap();
        assert_eq!(line_col(text, x), (3, 5));
        assert_eq!(line_col(text, text.find("ab").unwrap()), (2, 1));
        assert_eq!(line_col(text, 10_000), (3, 6));
    }
}

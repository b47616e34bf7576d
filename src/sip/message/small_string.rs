//! An immutable string that stores short text inline, for the components of
//! typed header values (hosts, users, tags, branches, parameter names).
//!
//! Why: typing the common headers of one request used to allocate some thirty
//! `String`s (every Via/URI/parameter component), and the allocator was the
//! largest single cost of the hot path (issue 3 asks ≥ 1 M messages/s). Almost
//! all of these components are shorter than 23 bytes, so keeping them inside
//! the value removes nearly every allocation while the value still owns its
//! text (no lifetimes tying typed headers to the message). Longer text falls
//! back to one heap allocation.
//!
//! It dereferences to `str` and compares with `str`, `&str` and `String`, so
//! callers use it like a `String` they do not mutate.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes stored inline by the default [`SmallString`]: 22 keeps it the size
/// of a `String` (24 bytes).
pub const INLINE_CAPACITY: usize = 22;

/// Immutable UTF-8 text, inline up to `N` bytes (`N` ≤ 255), else boxed.
#[derive(Clone)]
pub struct SmallString<const N: usize = INLINE_CAPACITY>(Repr<N>);

#[derive(Clone)]
enum Repr<const N: usize> {
    /// Invariant: `bytes[..len]` is valid UTF-8 (it is only ever filled from
    /// a `&str`, or from one with ASCII letters re-cased).
    Inline {
        len: u8,
        bytes: [u8; N],
    },
    Heap(Box<str>),
}

impl<const N: usize> SmallString<N> {
    pub fn new() -> Self {
        SmallString(Repr::Inline {
            len: 0,
            bytes: [0; N],
        })
    }

    /// Copies the concatenation of `parts`, inline when it fits.
    pub fn from_parts(parts: &[&str]) -> Self {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        match Self::inline_len(total) {
            Some(len) => {
                let mut bytes = [0u8; N];
                let mut at = 0usize;
                for part in parts {
                    let end = at + part.len();
                    if let Some(dst) = bytes.get_mut(at..end) {
                        dst.copy_from_slice(part.as_bytes());
                    }
                    at = end;
                }
                SmallString(Repr::Inline { len, bytes })
            }
            None => SmallString(Repr::Heap(parts.concat().into_boxed_str())),
        }
    }

    /// `s` with ASCII letters lower-cased (host names, schemes).
    pub fn from_ascii_lowercase(s: &str) -> Self {
        let mut out = Self::from(s);
        out.recase(false);
        out
    }

    /// `s` with ASCII letters upper-cased (Via transports).
    pub fn from_ascii_uppercase(s: &str) -> Self {
        let mut out = Self::from(s);
        out.recase(true);
        out
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The invariant makes this always Ok; checking keeps the type free
            // of `unsafe` for the cost of a short ASCII scan.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(bytes.get(..usize::from(*len)).unwrap_or(&[])).unwrap_or("")
            }
            Repr::Heap(s) => s,
        }
    }

    fn inline_len(len: usize) -> Option<u8> {
        if len <= N {
            u8::try_from(len).ok()
        } else {
            None
        }
    }

    /// Re-cases ASCII letters in place; changing ASCII letters keeps UTF-8
    /// valid, so the inline invariant holds.
    fn recase(&mut self, upper: bool) {
        match &mut self.0 {
            Repr::Inline { len, bytes } => {
                if let Some(text) = bytes.get_mut(..usize::from(*len)) {
                    if upper {
                        text.make_ascii_uppercase();
                    } else {
                        text.make_ascii_lowercase();
                    }
                }
            }
            Repr::Heap(s) if upper => s.make_ascii_uppercase(),
            Repr::Heap(s) => s.make_ascii_lowercase(),
        }
    }
}

impl<const N: usize> Default for SmallString<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> From<&str> for SmallString<N> {
    /// The common case, kept free of `from_parts`' loop over pieces.
    fn from(s: &str) -> Self {
        match (Self::inline_len(s.len()), s.len()) {
            (Some(len), n) => {
                let mut bytes = [0u8; N];
                if let Some(dst) = bytes.get_mut(..n) {
                    dst.copy_from_slice(s.as_bytes());
                }
                SmallString(Repr::Inline { len, bytes })
            }
            (None, _) => SmallString(Repr::Heap(Box::from(s))),
        }
    }
}

impl<const N: usize> From<String> for SmallString<N> {
    fn from(s: String) -> Self {
        if s.len() <= N {
            Self::from(s.as_str())
        } else {
            SmallString(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl<const N: usize> From<Cow<'_, str>> for SmallString<N> {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(b) => Self::from(b),
            Cow::Owned(o) => Self::from(o),
        }
    }
}

impl<const N: usize> From<SmallString<N>> for String {
    fn from(s: SmallString<N>) -> Self {
        match s.0 {
            Repr::Heap(b) => b.into_string(),
            Repr::Inline { .. } => s.as_str().to_owned(),
        }
    }
}

impl<const N: usize> Deref for SmallString<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> AsRef<str> for SmallString<N> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> Borrow<str> for SmallString<N> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> PartialEq for SmallString<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl<const N: usize> Eq for SmallString<N> {}

impl<const N: usize> PartialOrd for SmallString<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for SmallString<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl<const N: usize> Hash for SmallString<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl<const N: usize> PartialEq<str> for SmallString<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for SmallString<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<String> for SmallString<N> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<SmallString<N>> for str {
    fn eq(&self, other: &SmallString<N>) -> bool {
        self == other.as_str()
    }
}

impl<const N: usize> PartialEq<SmallString<N>> for &str {
    fn eq(&self, other: &SmallString<N>) -> bool {
        *self == other.as_str()
    }
}

impl<const N: usize> PartialEq<SmallString<N>> for String {
    fn eq(&self, other: &SmallString<N>) -> bool {
        self == other.as_str()
    }
}

impl<const N: usize> fmt::Debug for SmallString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for SmallString<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_inline_and_long_text_round_trips() {
        let short: SmallString = "z9hG4bK776asdhds".into();
        assert!(matches!(short.0, Repr::Inline { .. }));
        assert_eq!(short, "z9hG4bK776asdhds");
        let long_text = "a-very-long-host-name.example.com";
        let long: SmallString = long_text.into();
        assert!(matches!(long.0, Repr::Heap(_)));
        assert_eq!(long.as_str(), long_text);
        assert_eq!(String::from(long), long_text);
        let exact = "x".repeat(INLINE_CAPACITY);
        assert_eq!(SmallString::<INLINE_CAPACITY>::from(exact.as_str()), exact);
    }

    #[test]
    fn casing_and_parts() {
        assert_eq!(
            SmallString::<22>::from_ascii_lowercase("Atlanta.COM"),
            "atlanta.com"
        );
        assert_eq!(SmallString::<22>::from_ascii_uppercase("tcp"), "TCP");
        let long = "Sub.Domain.Of.A.Long.Example.ORG";
        assert_eq!(
            SmallString::<22>::from_ascii_lowercase(long),
            long.to_ascii_lowercase()
        );
        assert_eq!(
            SmallString::<22>::from_ascii_uppercase(long),
            long.to_ascii_uppercase()
        );
        assert_eq!(
            SmallString::<22>::from_parts(&["SIP", "/", "2.0"]),
            "SIP/2.0"
        );
        assert_eq!(SmallString::<22>::from_parts(&["é", "ß"]).as_str(), "éß");
        assert_eq!(SmallString::<22>::new(), "");
    }
}

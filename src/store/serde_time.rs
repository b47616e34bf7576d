//! Serde helpers: stored Unix milliseconds appear in API JSON as RFC 3339
//! strings, through the API's single conversion function.

use crate::api::rfc3339_from_ms;
use serde::Serializer;

pub(super) fn ms<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_from_ms(*ms))
}

pub(super) fn opt_ms<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&rfc3339_from_ms(*ms)),
        None => s.serialize_none(),
    }
}

//! Keyset paging shared by the newest-first lists (inquiries, audit): the
//! cursor names the last row of a page by its sort key `(time, id)`, so rows
//! inserted while someone pages never shift or repeat the rows they still
//! have to see. Also the bind values of queries whose WHERE clause is built
//! from optional filters.

use super::StoreError;

/// `<ms>.<id>` of the last row of a page.
pub(super) fn encode_cursor(ms: i64, id: &str) -> String {
    format!("{ms}.{id}")
}

/// The `(ms, id)` of a cursor from [`encode_cursor`]; a 422 on `cursor`
/// for anything else.
pub(super) fn decode_cursor(cursor: &str) -> Result<(i64, &str), StoreError> {
    cursor
        .split_once('.')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id)))
        .filter(|(_, id)| !id.is_empty())
        .ok_or_else(|| StoreError::Invalid {
            field: "cursor",
            message: "is not a cursor returned by this list".into(),
        })
}

/// A value for one `$N` placeholder of a query built at run time.
pub(super) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// Binds `params` in order to `sql`.
pub(super) fn bind_all<'q>(
    sql: &'q str,
    params: Vec<Param<'q>>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = sqlx::query(sql);
    for p in params {
        query = match p {
            Param::Text(s) => query.bind(s),
            Param::Int(n) => query.bind(n),
        };
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor(1_740_819_600_000, "01JN0000000000000000000000");
        assert_eq!(
            decode_cursor(&c).unwrap(),
            (1_740_819_600_000, "01JN0000000000000000000000")
        );
        for bad in ["", "abc", "12.", ".id", "x.id"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
    }
}

//! Keyset paging shared by the newest-first lists (inquiries, audit): the
//! cursor names the last row of a page by its sort key `(time, id)`, so rows
//! inserted while someone pages never shift or repeat the rows they still
//! have to see. Also the bind values of queries whose WHERE clause is built
//! from optional filters.

use super::StoreError;

/// `<ms>.<id>` of the last row of a page.
fn encode_cursor(ms: i64, id: &str) -> String {
    format!("{ms}.{id}")
}

/// The `(ms, id)` of a cursor from [`encode_cursor`]; a 422 on `cursor`
/// for anything else.
fn decode_cursor(cursor: &str) -> Result<(i64, &str), StoreError> {
    cursor
        .split_once('.')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id)))
        .filter(|(_, id)| !id.is_empty())
        .ok_or_else(|| StoreError::Invalid {
            field: "cursor",
            message: "is not a cursor returned by this list".into(),
        })
}

/// `WHERE a AND b ...`, or nothing when no filter applies.
pub(super) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// The tail of a newest-first keyset query on `(time_column, id)`: adds the
/// condition for the rows after `cursor` and the limit (one row more than
/// the page, which tells whether another page exists). Returns the WHERE
/// clause and the placeholder number of the limit.
pub(super) fn newest_first_page<'a>(
    time_column: &str,
    cursor: Option<&'a str>,
    limit: i64,
    conditions: &mut Vec<String>,
    params: &mut Vec<Param<'a>>,
) -> Result<(String, usize), StoreError> {
    if let Some(cursor) = cursor {
        let (ms, id) = decode_cursor(cursor)?;
        params.push(Param::Int(ms));
        let ms_n = params.len();
        params.push(Param::Text(id));
        let id_n = params.len();
        conditions.push(format!(
            "({time_column} < ${ms_n} OR ({time_column} = ${ms_n} AND id < ${id_n}))"
        ));
    }
    params.push(Param::Int(limit.saturating_add(1)));
    Ok((where_clause(conditions), params.len()))
}

/// Cuts the extra row [`newest_first_page`] asked for off `items` and
/// returns the cursor of the page's last row when another page follows.
pub(super) fn finish_page<T>(
    items: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (i64, &str),
) -> Option<String> {
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    if items.len() <= page {
        return None;
    }
    items.truncate(page);
    items.last().map(|last| {
        let (ms, id) = key(last);
        encode_cursor(ms, id)
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

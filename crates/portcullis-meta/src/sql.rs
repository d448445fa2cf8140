//! Queries built at run time (filters, `IN` lists, multi-row inserts) and the macros that
//! run one query body against whichever backend the store holds.
//!
//! Every query uses `$n` placeholders, which both SQLite and PostgreSQL accept, so the
//! same text runs on both; the macros expand the body once per backend so that sqlx's
//! generic types resolve to the concrete driver.

/// A value bound to a placeholder of a [`Sql`] query.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    OptI64(Option<i64>),
    Time(crate::dbtime::DbTime),
}

/// A query text and its arguments, numbered as they are added.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends query text.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        let n = self.args.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends `(… , …)` with one placeholder per item; an empty list yields `(NULL)`,
    /// which matches nothing.
    pub fn bind_list<I: IntoIterator<Item = Arg>>(&mut self, items: I) -> &mut Self {
        self.text.push('(');
        let mut first = true;
        for item in items {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(item);
        }
        if first {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }
}

/// A `LIKE` pattern matching `needle` anywhere, with its wildcards escaped (`ESCAPE '\'`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// LIMIT and OFFSET for a 1-based page; page 0 reads as page 1, page size 0 as 1.
pub(crate) fn limit_offset(page: u64, page_size: u64) -> (i64, i64) {
    let size = page_size.clamp(1, i64::MAX as u64);
    let offset = page.max(1).saturating_sub(1).saturating_mul(size);
    (size as i64, i64::try_from(offset).unwrap_or(i64::MAX))
}

/// Binds every argument of a [`Sql`] to a sqlx query (`query`, `query_as` or `query_scalar`).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                $crate::sql::Arg::I64(v) => q.bind(v),
                $crate::sql::Arg::Text(v) => q.bind(v),
                $crate::sql::Arg::OptText(v) => q.bind(v),
                $crate::sql::Arg::Bool(v) => q.bind(v),
                $crate::sql::Arg::OptI64(v) => q.bind(v),
                $crate::sql::Arg::Time(v) => q.bind(v),
            };
        }
        q
    }};
}

/// Runs `$body` with `$pool` bound to the backend's read pool (`read`) or write pool (`write`).
/// `$store` is one of the store's facets, whose `meta` field holds the [`crate::MetaStore`].
macro_rules! with_pool {
    ($store:expr, read, |$pool:ident| $body:expr) => {
        match &$store.meta.backend {
            $crate::Backend::Sqlite { reader, .. } => {
                let $pool = reader;
                $body
            }
            $crate::Backend::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
    ($store:expr, write, |$pool:ident| $body:expr) => {
        match &$store.meta.backend {
            $crate::Backend::Sqlite { writer, .. } => {
                let $pool = writer;
                $body
            }
            $crate::Backend::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Runs `$body` inside one write transaction bound to `$tx`, committing when the body yields
/// its value. An early `return` or `?` in the body drops the transaction, which rolls it back.
///
/// SQLite transactions begin `IMMEDIATE`, taking the write lock up front, so that a
/// transaction that reads before it writes cannot fail to upgrade its lock.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        match &$store.meta.backend {
            $crate::Backend::Sqlite { writer, .. } => {
                let mut $tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Backend::Postgres(pg) => {
                let mut $tx = pg.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

pub(crate) use {bind_args, in_tx, with_pool};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut q = Sql::new("SELECT 1 WHERE a = ");
        q.bind(Arg::I64(1))
            .push(" AND b IN ")
            .bind_list([Arg::I64(2), Arg::I64(3)]);
        assert_eq!(q.text, "SELECT 1 WHERE a = $1 AND b IN ($2, $3)");
        assert_eq!(q.args.len(), 3);
        let mut empty = Sql::new("x IN ");
        empty.bind_list(Vec::new());
        assert_eq!(empty.text, "x IN (NULL)");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Ab_c%d\\"), "%ab\\_c\\%d\\\\%");
    }

    #[test]
    fn pages_are_one_based() {
        assert_eq!(limit_offset(1, 10), (10, 0));
        assert_eq!(limit_offset(0, 10), (10, 0));
        assert_eq!(limit_offset(3, 25), (25, 50));
        assert_eq!(limit_offset(2, 0), (1, 1));
        assert_eq!(limit_offset(u64::MAX, u64::MAX).0, i64::MAX);
    }
}

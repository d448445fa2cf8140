//! Timestamps as stored: `TIMESTAMPTZ` on PostgreSQL, fixed-width UTC text on SQLite.
//!
//! sqlx writes `OffsetDateTime` to SQLite as RFC 3339 with a variable number of fraction
//! digits, which does not sort as text ("…:00Z" sorts after "…:00.5Z"). Ordering by
//! push time and comparing pull times happen in SQL, so SQLite gets a fixed-width
//! microsecond format instead. Both backends then keep microseconds, which makes a
//! round trip exact on either.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const SQLITE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The current time, truncated to what both backends store.
pub(crate) fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// `t` in UTC with whole microseconds.
pub(crate) fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let micros = t.nanosecond() / 1_000 * 1_000;
    t.replace_nanosecond(micros)
        .expect("a truncated nanosecond is in range")
}

/// A timestamp column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub OffsetDateTime);

impl From<OffsetDateTime> for DbTime {
    fn from(t: OffsetDateTime) -> Self {
        DbTime(truncate(t))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty) || <OffsetDateTime as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        let text = truncate(self.0).format(SQLITE_FORMAT)?;
        Encode::<Sqlite>::encode(text, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        let t = PrimitiveDateTime::parse(text, SQLITE_FORMAT)?;
        Ok(DbTime(t.assume_utc()))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode(truncate(self.0), buf)
    }

    fn size_hint(&self) -> usize {
        std::mem::size_of::<i64>()
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(<OffsetDateTime as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_sorts_like_time() {
        let times = [
            datetime!(2026-01-02 03:04:05 UTC),
            datetime!(2026-01-02 03:04:05.5 UTC),
            datetime!(2026-01-02 03:04:05.500001 UTC),
            datetime!(2026-01-02 03:04:06 UTC),
            datetime!(2026-01-02 05:04:05.1 +02:00),
        ];
        let mut texts: Vec<String> = times
            .iter()
            .map(|t| truncate(*t).format(SQLITE_FORMAT).unwrap())
            .collect();
        let mut sorted_times = times;
        sorted_times.sort();
        let expected: Vec<String> = sorted_times
            .iter()
            .map(|t| truncate(*t).format(SQLITE_FORMAT).unwrap())
            .collect();
        texts.sort();
        assert_eq!(texts, expected);
        assert!(texts.iter().all(|t| t.len() == texts[0].len()));
    }

    #[test]
    fn truncation_keeps_microseconds_in_utc() {
        let t = truncate(datetime!(2026-01-02 05:04:05.123456789 +02:00));
        assert_eq!(t, datetime!(2026-01-02 03:04:05.123456 UTC));
        assert_eq!(t.offset(), UtcOffset::UTC);
        let text = t.format(SQLITE_FORMAT).unwrap();
        assert_eq!(text, "2026-01-02T03:04:05.123456Z");
        assert_eq!(
            PrimitiveDateTime::parse(&text, SQLITE_FORMAT)
                .unwrap()
                .assume_utc(),
            t
        );
    }
}

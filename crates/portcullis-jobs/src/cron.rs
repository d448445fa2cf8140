//! Cron expressions: five fields, or six with seconds first as Harbor writes them
//! (`"0 0 * * * *"` is hourly), and aliases such as `@daily`. Times are UTC.

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::CronParser;
use time::OffsetDateTime;

use crate::{Error, Result};

fn parse(expression: &str) -> Result<Cron> {
    CronParser::new()
        .parse(expression)
        .map_err(|e| Error::InvalidCron {
            expression: expression.to_string(),
            reason: e.to_string(),
        })
}

/// Checks that `expression` parses.
pub fn validate_cron(expression: &str) -> Result<()> {
    parse(expression).map(|_| ())
}

/// The first time strictly after `after` that `expression` names.
pub fn next_run_after(expression: &str, after: OffsetDateTime) -> Result<OffsetDateTime> {
    let cron = parse(expression)?;
    let invalid = |reason: String| Error::InvalidCron {
        expression: expression.to_string(),
        reason,
    };
    // Cron has whole seconds: the next one strictly after `after` is also strictly after
    // `after` rounded down to its second.
    let start: DateTime<Utc> = Utc
        .timestamp_opt(after.unix_timestamp(), 0)
        .single()
        .ok_or_else(|| invalid("time out of range".to_string()))?;
    let next = cron
        .find_next_occurrence(&start, false)
        .map_err(|e| invalid(e.to_string()))?;
    let nanos = next
        .timestamp_nanos_opt()
        .ok_or_else(|| invalid("time out of range".to_string()))?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn six_fields_have_seconds_first() {
        let t = datetime!(2026-03-04 05:06:07.5 UTC);
        assert_eq!(
            next_run_after("0 0 * * * *", t).unwrap(),
            datetime!(2026-03-04 06:00:00 UTC)
        );
        assert_eq!(
            next_run_after("* * * * * *", t).unwrap(),
            datetime!(2026-03-04 05:06:08 UTC)
        );
        assert_eq!(
            next_run_after("0 30 2 * * *", t).unwrap(),
            datetime!(2026-03-05 02:30:00 UTC)
        );
    }

    #[test]
    fn five_fields_and_aliases_work() {
        let t = datetime!(2026-03-04 05:06:07 UTC);
        assert_eq!(
            next_run_after("*/15 * * * *", t).unwrap(),
            datetime!(2026-03-04 05:15:00 UTC)
        );
        assert_eq!(
            next_run_after("@daily", t).unwrap(),
            datetime!(2026-03-05 00:00:00 UTC)
        );
        // Strictly after: a due time equal to `after` is not returned again.
        let on = datetime!(2026-03-04 06:00:00 UTC);
        assert_eq!(
            next_run_after("0 0 * * * *", on).unwrap(),
            datetime!(2026-03-04 07:00:00 UTC)
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["", "every day", "61 * * * *", "* * * * * * * *"] {
            assert!(
                matches!(validate_cron(bad), Err(Error::InvalidCron { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_cron("0 0 0 * * 0").is_ok());
    }
}

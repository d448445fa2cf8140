//! Storage quota arithmetic: sizes as Harbor prints them, its refusal text, and when a
//! commit reaches the warning threshold.

/// A byte count as Harbor prints it (Docker's `BytesSize`: four significant digits and
/// a binary unit, e.g. `1.465KiB`, `100B`, `2GiB`).
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    // `%.4g`: four significant digits, trailing zeros dropped.
    let int_digits = if v < 1.0 {
        1
    } else {
        v.log10().floor() as usize + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", UNITS[unit])
}

/// Harbor's text refusing a commit that would take usage from `used` to `requested`
/// bytes over the limit `hard`.
pub fn exceeded_message(hard: i64, used: i64, requested: i64) -> String {
    format!(
        "Quota exceeded when processing the request of adding {} of storage resource, \
         which when updated to current usage of {} will exceed the configured upper \
         limit of {}.",
        format_bytes(requested - used),
        format_bytes(used),
        format_bytes(hard)
    )
}

/// Whether a commit that took usage from `before` to `after` under a finite limit `hard`
/// calls for a warning: it grew usage, and usage is now at `warning_percent` of the limit
/// or more. Every such commit warns, as in Harbor, so that a full project keeps saying so;
/// an unlimited quota (`hard` ≤ 0) never warns.
pub fn warning_reached(hard: i64, before: i64, after: i64, warning_percent: u8) -> bool {
    hard > 0
        && after > before
        && i128::from(after) * 100 >= i128::from(hard) * i128::from(warning_percent)
}

/// Whether `hard` is a valid storage limit: -1 (unlimited) or a size in bytes.
pub fn valid_limit(hard: i64) -> bool {
    hard >= -1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_like_harbor() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(100), "100B");
        assert_eq!(format_bytes(1024), "1KiB");
        assert_eq!(format_bytes(1500), "1.465KiB");
        assert_eq!(format_bytes(10 * 1024 * 1024), "10MiB");
        assert_eq!(format_bytes(1023), "1023B");
        assert_eq!(format_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5GiB");
    }

    #[test]
    fn exceeded_text() {
        assert_eq!(
            exceeded_message(1024, 1000, 1100),
            "Quota exceeded when processing the request of adding 100B of storage resource, \
             which when updated to current usage of 1000B will exceed the configured upper \
             limit of 1KiB."
        );
    }

    #[test]
    fn warnings() {
        assert!(!warning_reached(-1, 0, 10_000, 85));
        assert!(!warning_reached(100, 0, 84, 85));
        assert!(warning_reached(100, 0, 85, 85));
        // Deletes and re-pushes that add nothing stay quiet.
        assert!(!warning_reached(100, 90, 90, 85));
        assert!(!warning_reached(100, 95, 90, 85));
        assert!(warning_reached(i64::MAX, 0, i64::MAX, 100));
    }

    #[test]
    fn limits() {
        assert!(valid_limit(-1));
        assert!(valid_limit(0));
        assert!(valid_limit(1 << 40));
        assert!(!valid_limit(-2));
    }
}

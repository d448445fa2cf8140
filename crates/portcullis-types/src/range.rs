//! Byte ranges from request headers: `Range` on a blob GET and `Content-Range` on an
//! upload chunk. Both come straight from clients, so they are parsed here, without I/O,
//! where they can be fuzzed apart from the server.

use std::ops::Range;

/// Why a range header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("malformed range")]
    Malformed,
    /// The range does not overlap the blob (`Range`).
    #[error("requested range not satisfiable")]
    Unsatisfiable,
    /// The chunk's range and its `Content-Length` disagree (`Content-Range`).
    #[error("Content-Range does not match Content-Length")]
    LengthMismatch,
}

/// Parses a single `bytes=` range of a `Range` header against a blob of `size` bytes
/// into the half-open range of bytes to send. Several ranges are refused: blobs are
/// fetched whole or resumed, never in pieces.
pub fn parse_range(value: &str, size: u64) -> Result<Range<u64>, RangeError> {
    let spec = value
        .trim()
        .strip_prefix("bytes=")
        .ok_or(RangeError::Malformed)?;
    if spec.contains(',') {
        return Err(RangeError::Malformed);
    }
    let (a, b) = spec.split_once('-').ok_or(RangeError::Malformed)?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| RangeError::Malformed);
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n = number(suffix)?;
            if n == 0 {
                return Err(RangeError::Unsatisfiable);
            }
            (size.saturating_sub(n), size)
        }
        (s, "") => (number(s)?, size),
        (s, e) => {
            let (s, e) = (number(s)?, number(e)?);
            if e < s {
                return Err(RangeError::Malformed);
            }
            // `e` is inclusive and may be u64::MAX, whose successor does not exist.
            (s, e.saturating_add(1).min(size))
        }
    };
    if start >= size {
        return Err(RangeError::Unsatisfiable);
    }
    Ok(start..end)
}

/// Parses the `Content-Range` of an upload chunk, `[bytes ]<start>-<end>[/<total>]` with
/// `end` inclusive, and checks it against the request's `Content-Length` when there is
/// one. Returns `(start, end)`.
pub fn parse_content_range(
    value: &str,
    content_length: Option<u64>,
) -> Result<(u64, u64), RangeError> {
    let s = value.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or(RangeError::Malformed)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| RangeError::Malformed);
    let (start, end) = (number(a)?, number(b)?);
    if end < start {
        return Err(RangeError::Malformed);
    }
    // `0-18446744073709551615` spans 2^64 bytes, which no Content-Length can state.
    if let Some(len) = content_length
        && (end - start).checked_add(1) != Some(len)
    {
        return Err(RangeError::LengthMismatch);
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-3", 10), Ok(0..4));
        assert_eq!(parse_range("bytes=5-", 10), Ok(5..10));
        assert_eq!(parse_range("bytes=-3", 10), Ok(7..10));
        assert_eq!(parse_range("bytes=8-100", 10), Ok(8..10));
        assert!(parse_range("bytes=10-", 10).is_err());
        assert!(parse_range("bytes=4-2", 10).is_err());
        assert!(parse_range("bytes=0-1,3-4", 10).is_err());
        assert!(parse_range("items=0-1", 10).is_err());
    }

    /// The inclusive end `u64::MAX` used to overflow (a panic in debug builds) when made
    /// exclusive.
    #[test]
    fn range_ending_at_u64_max_is_clamped_to_the_blob() {
        assert_eq!(parse_range("bytes=0-18446744073709551615", 10), Ok(0..10));
        assert_eq!(
            parse_range("bytes=18446744073709551615-18446744073709551615", 10),
            Err(RangeError::Unsatisfiable)
        );
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-9", None), Ok((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*", Some(10)), Ok((10, 19)));
        assert_eq!(
            parse_content_range("0-9", Some(5)),
            Err(RangeError::LengthMismatch)
        );
        assert_eq!(parse_content_range("9-0", None), Err(RangeError::Malformed));
        assert_eq!(parse_content_range("x-1", None), Err(RangeError::Malformed));
        assert_eq!(parse_content_range("12", None), Err(RangeError::Malformed));
    }

    /// The length of `0-u64::MAX` used to overflow before being compared.
    #[test]
    fn content_range_spanning_all_of_u64_matches_no_length() {
        let whole = "0-18446744073709551615";
        assert_eq!(parse_content_range(whole, None), Ok((0, u64::MAX)));
        assert_eq!(
            parse_content_range(whole, Some(u64::MAX)),
            Err(RangeError::LengthMismatch)
        );
        assert_eq!(
            parse_content_range(whole, Some(0)),
            Err(RangeError::LengthMismatch)
        );
    }
}

//! `Authorization: Basic …` as clients send it. Parsed here, without HTTP types, so that
//! the parser can be fuzzed apart from the server.

use base64::Engine as _;

/// Splits the value of an `Authorization` header of the Basic scheme into username and
/// password; `None` for any other scheme or a malformed value.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_basic;

    #[test]
    fn basic_values() {
        let pair = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
        assert_eq!(
            parse_basic("Basic YWRtaW46czNjcjN0"),
            pair("admin", "s3cr3t")
        );
        assert_eq!(parse_basic("basic  YTpiOmM= "), pair("a", "b:c"));
        assert_eq!(parse_basic("Bearer YTpi"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic YWJj"), None, "no colon");
        assert_eq!(parse_basic("Basic"), None);
    }
}

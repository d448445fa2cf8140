//! Harbor's rules for query and header values. Harbor reads booleans the way Go's
//! `strconv.ParseBool` does, and clients rely on it: the Python client sends `True`.

use std::collections::HashMap;

use portcullis_types::ErrorCode;

use crate::error::{ApiError, ApiResult};

/// Every spelling Go's `strconv.ParseBool` accepts, and nothing else.
pub fn go_bool(name: &str, value: &str) -> ApiResult<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid {name} {value:?}: use true or false"),
        )),
    }
}

/// The boolean query parameter `name`, or `default` when it is absent or empty.
pub fn flag(params: &HashMap<String, String>, name: &str, default: bool) -> ApiResult<bool> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(default),
        Some(v) => go_bool(name, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_parse_bool_table() {
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(go_bool("x", v).unwrap(), "{v}");
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(!go_bool("x", v).unwrap(), "{v}");
        }
        for v in ["tRUE", "yes", "on", "2", " true", "falsE", ""] {
            let e = go_bool("with_tag", v).unwrap_err();
            assert_eq!(e.error.code, ErrorCode::BadRequest, "{v}");
            assert!(e.error.message.contains("with_tag"), "{v}");
        }
    }

    #[test]
    fn absent_and_empty_take_the_default() {
        let mut p = HashMap::new();
        assert!(flag(&p, "with_tag", true).unwrap());
        p.insert("with_tag".to_string(), String::new());
        assert!(!flag(&p, "with_tag", false).unwrap());
        p.insert("with_tag".to_string(), "False".to_string());
        assert!(!flag(&p, "with_tag", true).unwrap());
    }
}

//! Request bodies decoded the way Harbor's Go decoder does: a JSON key names a struct
//! field when it matches exactly, else when it matches ignoring ASCII case. Tools
//! written against Harbor rely on it (the Terraform provider sends `"Schedule"` and
//! `"Cron"`); serde alone would drop those keys and act on an empty body.

use axum::extract::{FromRequest, Request};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use crate::error::ApiError;
use portcullis_types::ErrorCode;

/// Largest JSON body the Harbor API reads; its bodies are small documents.
const MAX_BODY: usize = 1 << 20;

/// A Harbor API request body. Rejections are Harbor's `400` naming the problem.
pub struct HarborJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for HarborJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bad = |m: String| ApiError::new(ErrorCode::BadRequest, m);
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        if !is_json {
            return Err(bad(
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| bad(format!("reading the request body failed: {e}")))?;
        from_slice(&bytes).map(HarborJson).map_err(bad)
    }
}

/// Decodes `bytes` into `T` with Go's key matching.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("Failed to parse the request body as JSON: {e}"))?;
    T::deserialize(GoValue(value))
        .map_err(|e| format!("Failed to deserialize the JSON body into the target type: {e}"))
}

/// Renames the keys of `map` to the struct's field names they match: exact matches
/// win, then a case-insensitive match to a field no other key has claimed.
fn match_fields(map: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let exact: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| map.contains_key(*f))
        .collect();
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let name = if exact.contains(&k.as_str()) {
            k
        } else {
            match fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&k) && !exact.contains(f))
            {
                Some(f) if !out.contains_key(*f) => f.to_string(),
                _ => k,
            }
        };
        out.insert(name, v);
    }
    out
}

struct GoValue(Value);

impl<'de> de::Deserializer<'de> for GoValue {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Seq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Fields {
                iter: map.into_iter(),
                value: None,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(GoValue(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Fields {
                iter: match_fields(map, fields).into_iter(),
                value: None,
            }),
            other => GoValue(other).deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = serde_json::Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(GoValue(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    iter: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = serde_json::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(GoValue(v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Schedule {
        #[serde(rename = "type")]
        kind: Option<String>,
        cron: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        schedule: Option<Schedule>,
        parameters: Option<BTreeMap<String, Value>>,
        list: Vec<Schedule>,
        #[serde(default)]
        count: i64,
    }

    #[test]
    fn keys_match_fields_ignoring_case_at_every_depth() {
        let b: Body = from_slice(
            br#"{"Schedule":{"Type":"Custom","CRON":"0 0 * * * *"},
                "PARAMETERS":{"Keep":"As sent"},
                "List":[{"tYpE":"Daily"}],"count":3}"#,
        )
        .unwrap();
        let s = b.schedule.unwrap();
        assert_eq!(s.kind.as_deref(), Some("Custom"));
        assert_eq!(s.cron.as_deref(), Some("0 0 * * * *"));
        // Map keys are data, not field names: they stay as sent.
        assert!(b.parameters.unwrap().contains_key("Keep"));
        assert_eq!(b.list[0].kind.as_deref(), Some("Daily"));
        assert_eq!(b.count, 3);
    }

    #[test]
    fn an_exact_key_wins_over_a_differently_cased_one() {
        for body in [
            br#"{"cron":"exact","Cron":"other"}"#.as_slice(),
            br#"{"Cron":"other","cron":"exact"}"#.as_slice(),
        ] {
            let s: Schedule = from_slice(body).unwrap();
            assert_eq!(s.cron.as_deref(), Some("exact"));
        }
    }

    #[test]
    fn type_errors_still_refuse() {
        let e = from_slice::<Body>(br#"{"list":[],"count":"three"}"#).unwrap_err();
        assert!(e.contains("invalid type"), "{e}");
        let e = from_slice::<Body>(b"{not json").unwrap_err();
        assert!(e.contains("parse"), "{e}");
    }
}

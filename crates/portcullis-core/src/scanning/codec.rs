//! Report documents and layer inventories are stored gzip-compressed JSON.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` as gzip-compressed JSON.
pub fn pack<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(&json);
    gz.finish().unwrap_or_default()
}

/// The value packed by [`pack`].
pub fn unpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("undecodable stored document: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("unreadable stored document: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = serde_json::json!({"a": [1, 2, 3], "b": "text"});
        let packed = pack(&v);
        assert_eq!(unpack::<serde_json::Value>(&packed).unwrap(), v);
        assert!(unpack::<serde_json::Value>(b"not gzip").is_err());
    }
}

//! portcullis-scan

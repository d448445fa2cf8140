//! portcullis-core

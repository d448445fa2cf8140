//! portcullis-meta

//! portcullis-blob

//! portcullis-vulndb

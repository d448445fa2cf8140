//! The built-in scanner served as a Harbor scanner adapter under `/api/v1`.

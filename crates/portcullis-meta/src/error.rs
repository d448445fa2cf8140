//! The store's error type.

use portcullis_types::Digest;

/// Every way a [`crate::MetaStore`] call can fail.
///
/// `Database` and `Migrate` carry internal causes: log them, never show them to clients.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row the call names (or one it depends on) does not exist.
    #[error("not found")]
    NotFound,
    /// A unique name is already taken, or the change would break a reference.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The project still holds repositories.
    #[error("project is not empty")]
    NotEmpty,
    /// A manifest names blobs that are not linked to its repository.
    #[error("blobs unknown to the repository: {0:?}")]
    MissingBlobs(Vec<Digest>),
    /// An index names manifests that are not artifacts of its repository.
    #[error("manifests unknown to the repository: {0:?}")]
    MissingManifests(Vec<Digest>),
    /// The manifest is still listed by these indexes of the repository.
    #[error("manifest is referenced by {0:?}")]
    Referenced(Vec<Digest>),
    /// The commit would grow the project's storage past its limit (bytes: the limit, the
    /// usage before and the usage the commit would have led to).
    #[error("quota exceeded: {requested} bytes over the limit of {hard}")]
    QuotaExceeded {
        hard: i64,
        used: i64,
        requested: i64,
    },
    /// The push would move a tag that an immutable tag rule protects.
    #[error("tag {0} is immutable")]
    Immutable(String),
    /// The caller passed a value the store cannot accept (bad URL, bad metadata value).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The database failed or returned something unexpected.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Shorthand for results of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// True when the database refused a write because a unique key already exists.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// True when the database refused a write because of a foreign key.
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// An error for a stored value that no longer parses (a corrupted or hand-edited row).
pub(crate) fn corrupt(what: &str, value: &str) -> Error {
    Error::Database(sqlx::Error::Decode(
        format!("stored {what} is invalid: {value:?}").into(),
    ))
}

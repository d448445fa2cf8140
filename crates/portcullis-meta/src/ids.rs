//! Typed row ids, so that a project id can never be passed where a repository id is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(v: i64) -> Self {
                $name(v)
            }
        }
    };
}

id_type!(
    /// A user's id (Harbor `user_id`).
    UserId
);
id_type!(
    /// A project's id (Harbor `project_id`).
    ProjectId
);
id_type!(
    /// A repository's id.
    RepositoryId
);
id_type!(
    /// An artifact's id: one manifest in one repository.
    ArtifactId
);
id_type!(
    /// A tag's id.
    TagId
);

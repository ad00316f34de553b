//! Ids of accounts and notices as types of their own, so that one cannot be passed
//! where the other is meant. Both are database row ids: positive, and written as
//! strings on Mastodon's wire.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// An id as stored in the database.
            pub const fn new(id: i64) -> Self {
                $name(id)
            }

            /// An id a client sent in a path or a field: positive digits, or `None`.
            pub fn parse(s: &str) -> Option<Self> {
                s.parse::<i64>().ok().filter(|i| *i > 0).map($name)
            }

            /// As stored and bound in SQL.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account's id.
    AccountId
);
id_type!(
    /// A notice's id (a reblog is a notice of its own).
    StatusId
);
id_type!(
    /// A list's id.
    ListId
);

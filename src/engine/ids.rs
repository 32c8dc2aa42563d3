//! Identifiers of cases, commands and actors.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::RoleId;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Cloning is cheap (a reference count).
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(
            #[serde(deserialize_with = "crate::model::deserialize_arc_str")] Arc<str>,
        );

        impl $name {
            /// Wraps an id chosen by the embedding application.
            pub fn new(id: impl Into<String>) -> Self {
                $name(Arc::from(id.into()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(Arc::from(id))
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(Arc::from(id))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_id!(
    /// The id of a case (a ticket): chosen by the application, unique in its store.
    CaseId
);
text_id!(
    /// The id of a command, chosen by the sender. Sending the same id twice applies the
    /// command once: retries after a timeout are safe.
    CommandId
);
text_id!(
    /// Who acts: a user id of the embedding application.
    ActorId
);

/// Someone acting on a case, with the roles they hold. The engine trusts the roles given
/// here; authenticating the actor is the embedding application's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Who.
    pub id: ActorId,
    /// The SOP roles they hold.
    pub roles: Vec<RoleId>,
}

impl Actor {
    /// An actor holding `roles`.
    pub fn new(id: impl Into<String>, roles: impl IntoIterator<Item = RoleId>) -> Actor {
        Actor {
            id: ActorId::new(id),
            roles: roles.into_iter().collect(),
        }
    }

    /// Whether the actor holds `role`.
    pub fn holds(&self, role: &RoleId) -> bool {
        self.roles.contains(role)
    }
}

//! Typed identities: which instance, which task, which tenant, which role.
//!
//! Every one of them was a bare `Uuid` or `String`, so `claim(instance.id)` or a tenant passed
//! where a role was expected compiled and failed at run time, if at all. Each is now its own
//! type. They serialise exactly as before (`#[serde(transparent)]`): the JSON of the API, the
//! sealed history and the database columns do not change. The store binds the inner value at
//! its edge ([`InstanceId::uuid`], [`Tenant::as_str`]).

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The bare id, for the store's binds and for derivations.
            pub const fn uuid(self) -> Uuid {
                self.0
            }

            pub fn nil() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl PartialEq<Uuid> for $name {
            fn eq(&self, other: &Uuid) -> bool {
                self.0 == *other
            }
        }
    };
}

uuid_id!(
    /// An instance (a case): one run of one definition version.
    InstanceId
);
uuid_id!(
    /// A user task of an instance.
    TaskId
);

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(name: impl Into<String>) -> Self {
                Self(name.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                Self(name)
            }
        }

        impl From<&$name> for $name {
            fn from(name: &$name) -> Self {
                name.clone()
            }
        }

        impl From<&String> for $name {
            fn from(name: &String) -> Self {
                Self(name.clone())
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self(name.to_string())
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

name_id!(
    /// A tenant: a Province, a Comune, the platform (`"platform"`), by its registry id.
    Tenant
);
name_id!(
    /// A role of a tenant's officials (`"rup"`, `"admin"`), as named in the workflows.
    Role
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_the_bare_value_so_no_contract_changes() {
        let id = Uuid::now_v7();
        assert_eq!(
            serde_json::to_string(&InstanceId::from(id)).ok(),
            serde_json::to_string(&id).ok()
        );
        assert_eq!(
            serde_json::to_string(&Tenant::new("comune-a"))
                .ok()
                .as_deref(),
            Some("\"comune-a\"")
        );
        let back: TaskId = serde_json::from_str(&format!("\"{id}\"")).expect("a task id");
        assert_eq!(back.uuid(), id);
    }

    #[test]
    fn an_id_parses_from_its_text_and_refuses_anything_else() {
        let id = Uuid::now_v7();
        assert_eq!(id.to_string().parse::<InstanceId>().ok(), Some(id.into()));
        assert!("not-a-uuid".parse::<TaskId>().is_err());
    }
}

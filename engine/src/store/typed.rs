//! The typed ids and names ([`crate::ids`]) as database values: each is stored exactly as its
//! inner value (a UUID, a text), so no column changed when the types came in.

use crate::ids::{InstanceId, Role, TaskId, Tenant};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! as_inner {
    ($name:ty, $inner:ty, $get:expr, $make:expr) => {
        impl<DB: Database> Type<DB> for $name
        where
            $inner: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$inner as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$inner as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            $inner: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                let inner: $inner = $get(self);
                inner.encode(buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            $inner: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                <$inner as Decode<'r, DB>>::decode(value).map($make)
            }
        }

        impl super::embedded::FromColumn<'_> for $name {
            fn from_column(
                value: rusqlite::types::ValueRef<'_>,
            ) -> std::result::Result<Self, String> {
                <$inner as super::embedded::FromColumn<'_>>::from_column(value).map($make)
            }
        }
    };
}

/// A name binds as the `&str` it holds (no copy) and reads as a `String`.
macro_rules! as_text {
    ($name:ident) => {
        impl<DB: Database> Type<DB> for $name
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            for<'a> &'a str: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, DB>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                <String as Decode<'r, DB>>::decode(value).map($name::new)
            }
        }

        impl super::embedded::FromColumn<'_> for $name {
            fn from_column(
                value: rusqlite::types::ValueRef<'_>,
            ) -> std::result::Result<Self, String> {
                <String as super::embedded::FromColumn<'_>>::from_column(value).map($name::new)
            }
        }
    };
}

as_inner!(
    InstanceId,
    uuid::Uuid,
    |id: &InstanceId| id.uuid(),
    InstanceId::from_uuid
);
as_inner!(
    TaskId,
    uuid::Uuid,
    |id: &TaskId| id.uuid(),
    TaskId::from_uuid
);
as_text!(Tenant);
as_text!(Role);

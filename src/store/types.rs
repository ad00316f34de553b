//! The domain's typed values as SQL values: ids and positions are bound and read as the
//! `BIGINT`s they are stored as, without a cast at each query.

use crate::domain::{AccountId, ListId, Position, StatusId};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! as_bigint {
    ($name:ty, $from:expr) => {
        impl<DB: Database> Type<DB> for $name
        where
            i64: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            i64: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <i64 as Encode<'q, DB>>::encode_by_ref(&self.get(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            i64: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let v = <i64 as Decode<'r, DB>>::decode(value)?;
                $from(v)
            }
        }
    };
}

as_bigint!(AccountId, |v| Ok::<_, BoxDynError>(AccountId::new(v)));
as_bigint!(StatusId, |v| Ok::<_, BoxDynError>(StatusId::new(v)));
as_bigint!(ListId, |v| Ok::<_, BoxDynError>(ListId::new(v)));
as_bigint!(Position, |v: i64| Position::new(v).ok_or_else(|| {
    BoxDynError::from(format!("stored position {v} is negative"))
}));

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} id")]
pub struct MalformedId {
    /// What kind of id was expected (`video`, `comment`, ...).
    pub kind: &'static str,
}

/// Parses a random UUID in its canonical hyphenated form, nothing else: a path segment
/// either names exactly one record or is refused before any I/O.
fn parse_uuid(s: &str, kind: &'static str) -> Result<Uuid, MalformedId> {
    if s.len() != 36 {
        return Err(MalformedId { kind });
    }
    Uuid::try_parse(s).map_err(|_| MalformedId { kind })
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Parses the canonical hyphenated form.
            pub fn parse(s: &str) -> Result<Self, MalformedId> {
                parse_uuid(s, $kind).map(Self)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = MalformedId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = MalformedId;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

uuid_id!(
    /// A user's id.
    UserId,
    "user"
);
uuid_id!(
    /// A video's id.
    VideoId,
    "video"
);
uuid_id!(
    /// A comment's id.
    CommentId,
    "comment"
);

/// A session id: 128 random bits as 32 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A new random session id from the operating system's CSPRNG.
    pub fn random() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(hex::encode(bytes))
    }

    /// Parses 32 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Self, MalformedId> {
        let well_formed = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(MalformedId { kind: "session" })
        }
    }

    /// The id as sent to the client. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored of this id: its SHA-256.
    pub fn key(&self) -> SessionKey {
        use sha2::Digest;
        SessionKey(hex::encode(sha2::Sha256::digest(self.0.as_bytes())))
    }
}

/// What the database and the session cache hold of a session id: the SHA-256 of it,
/// as 64 lowercase hex digits. Whoever reads them cannot present these as a session
/// (the server would hash them again); only the client holds the id itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

impl SessionKey {
    /// Parses 64 lowercase hex digits, as stored.
    pub fn parse(s: &str) -> Result<Self, MalformedId> {
        let well_formed = s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(MalformedId {
                kind: "session key",
            })
        }
    }

    /// The hex digits, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Short, like a session id's, to keep logs tidy.
impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", &self.0[..8])
    }
}

/// Session ids are secrets: `Debug` shows only a short prefix.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", &self.0[..4])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_and_refuse_other_forms() {
        let id = VideoId::random();
        assert_eq!(VideoId::parse(&id.to_string()), Ok(id));
        let simple = id.as_uuid().simple().to_string();
        assert!(VideoId::parse(&simple).is_err());
        assert!(VideoId::parse("not-a-uuid").is_err());
        assert!(VideoId::parse("").is_err());
        assert_eq!(
            CommentId::parse("zz").unwrap_err().to_string(),
            "malformed comment id"
        );
    }

    #[test]
    fn uuid_ids_serialize_as_strings() {
        let id = UserId::random();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert!(serde_json::from_str::<UserId>("\"x\"").is_err());
    }

    #[test]
    fn session_ids_are_128_bit_hex_and_hidden_in_debug() {
        let a = SessionId::random();
        let b = SessionId::random();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
        assert_eq!(SessionId::parse(a.expose()), Ok(a.clone()));
        assert!(!format!("{a:?}").contains(a.expose()));
        assert!(SessionId::parse("ABCDEF0123456789abcdef0123456789").is_err());
        assert!(SessionId::parse("abc").is_err());
    }

    #[test]
    fn session_keys_are_the_sha256_of_the_id() {
        let id = SessionId::parse("0123456789abcdef0123456789abcdef").unwrap();
        // sha256sum of the 32 ASCII digits.
        assert_eq!(
            id.key().as_str(),
            "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9"
        );
        assert_ne!(id.key().as_str(), id.expose());
        assert_eq!(SessionKey::parse(id.key().as_str()), Ok(id.key()));
        assert!(SessionKey::parse(id.expose()).is_err());
    }
}

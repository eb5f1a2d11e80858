use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// Input that breaks a rule of the domain; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A user name: 3–64 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct UserName(String);

impl TryFrom<String> for UserName {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Self::parse(&s)
    }
}

impl UserName {
    /// Validates a user name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !(3..=64).contains(&s.len()) || !ok_chars {
            return Err(Invalid(
                "user name must be 3 to 64 characters of letters, digits, '_', '.' or '-'".into(),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: 8–256 bytes. Hidden from `Debug`.
#[derive(Debug, Clone)]
pub struct Password(Secret<String>);

impl Password {
    /// Validates a password's length.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if !(8..=256).contains(&s.len()) {
            return Err(Invalid("password must be 8 to 256 bytes long".into()));
        }
        Ok(Self(Secret::new(s.to_owned())))
    }

    /// The password's bytes, for hashing only.
    pub fn expose(&self) -> &[u8] {
        self.0.expose().as_bytes()
    }
}

/// Checks that `s` has between `min` and `max` characters (not bytes) and is not blank.
fn char_count_between(s: &str, min: usize, max: usize, what: &str) -> Result<(), Invalid> {
    let n = s.chars().count();
    if n < min || n > max || s.trim().is_empty() {
        return Err(Invalid(format!(
            "{what} must be {min} to {max} characters and not blank"
        )));
    }
    Ok(())
}

/// A video's title: 1–200 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoName(String);

impl VideoName {
    /// Validates a title.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        char_count_between(s, 1, 200, "video name")?;
        Ok(Self(s.to_owned()))
    }

    /// The title as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A comment's text: 1–10,000 characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    /// Validates a comment.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        char_count_between(s, 1, 10_000, "comment")?;
        Ok(Self(s.to_owned()))
    }

    /// The comment as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a video is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VideoStatus {
    /// Created; its bytes have not arrived yet.
    AwaitingUpload,
    /// Its bytes arrived; processing has not started yet.
    Uploaded,
    /// Uploaded; being probed and made playable.
    Processing,
    /// Playable by everyone.
    Ready,
    /// Processing failed; the reason is kept with the video.
    Failed,
}

impl VideoStatus {
    /// The name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingUpload => "awaiting_upload",
            Self::Uploaded => "uploaded",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored status.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "awaiting_upload" => Self::AwaitingUpload,
            "uploaded" => Self::Uploaded,
            "processing" => Self::Processing,
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// Who may watch a video.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone, and it is listed.
    #[default]
    Public,
    /// Anyone with its link; in no listing.
    Unlisted,
    /// Its owner (and moderators and admins) only; its bytes need a playback grant.
    Private,
}

impl Visibility {
    /// The name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }

    /// Reads a stored visibility.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => Self::Public,
            "unlisted" => Self::Unlisted,
            "private" => Self::Private,
            _ => return None,
        })
    }

    /// Whether this is the default, [`Visibility::Public`].
    pub fn is_public(&self) -> bool {
        *self == Self::Public
    }
}

/// A video's description: 0–5,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoDescription(String);

impl VideoDescription {
    /// Validates a description.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.chars().count() > 5_000 {
            return Err(Invalid(
                "description must be at most 5000 characters".into(),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many items a page holds: 1–100, 20 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The page size used when the client names none.
    pub const DEFAULT: Self = Self(20);

    /// Validates a page size.
    pub fn new(n: i64) -> Result<Self, Invalid> {
        if !(1..=100).contains(&n) {
            return Err(Invalid("limit must be between 1 and 100".into()));
        }
        Ok(Self(n as u32))
    }

    /// The size as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_rules() {
        assert!(UserName::parse("ab").is_err());
        assert!(UserName::parse("abc").is_ok());
        assert!(UserName::parse(&"a".repeat(64)).is_ok());
        assert!(UserName::parse(&"a".repeat(65)).is_err());
        assert!(UserName::parse("a b c").is_err());
        assert!(UserName::parse("zoë_x").is_err());
        assert!(UserName::parse("A.b-c_9").is_ok());
    }

    #[test]
    fn passwords_are_8_to_256_bytes_and_hidden() {
        assert!(Password::parse("1234567").is_err());
        let p = Password::parse("12345678").unwrap();
        assert!(!format!("{p:?}").contains("12345678"));
        assert!(Password::parse(&"x".repeat(256)).is_ok());
        assert!(Password::parse(&"x".repeat(257)).is_err());
    }

    #[test]
    fn names_and_comments_count_characters() {
        assert!(VideoName::parse("").is_err());
        assert!(VideoName::parse("   ").is_err());
        assert!(VideoName::parse(&"é".repeat(200)).is_ok());
        assert!(VideoName::parse(&"é".repeat(201)).is_err());
        assert!(CommentText::parse(&"x".repeat(10_000)).is_ok());
        assert!(CommentText::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            VideoStatus::AwaitingUpload,
            VideoStatus::Uploaded,
            VideoStatus::Processing,
            VideoStatus::Ready,
            VideoStatus::Failed,
        ] {
            assert_eq!(VideoStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(VideoStatus::parse("gone"), None);
    }

    #[test]
    fn visibilities_round_trip_and_descriptions_are_bounded() {
        for v in [
            Visibility::Public,
            Visibility::Unlisted,
            Visibility::Private,
        ] {
            assert_eq!(Visibility::parse(v.as_str()), Some(v));
        }
        assert_eq!(Visibility::parse("secret"), None);
        assert!(VideoDescription::parse("").is_ok());
        assert!(VideoDescription::parse(&"é".repeat(5_000)).is_ok());
        assert!(VideoDescription::parse(&"é".repeat(5_001)).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PageLimit::new(0).is_err());
        assert!(PageLimit::new(101).is_err());
        assert_eq!(PageLimit::new(100).unwrap().get(), 100);
    }
}

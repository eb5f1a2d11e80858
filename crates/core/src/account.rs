//! What an account may do on a public site: its role, and the limits on what it stores
//! (docs/architecture.md, "Running a public site").

use serde::{Deserialize, Serialize};

/// What an account may do. Moderators handle reports and ban users; admins also
/// change roles, approve registrations, set quotas and read the audit log.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Uploads, watches, comments and reports.
    User,
    /// Also handles reports, bans users, and deletes any video or comment.
    Moderator,
    /// Also administers accounts and reads the audit log.
    Admin,
}

impl Role {
    /// The name stored in the database and sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }

    /// Reads a stored or typed role.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "moderator" => Self::Moderator,
            "admin" => Self::Admin,
            _ => return None,
        })
    }

    /// Whether this role moderates (moderators and admins).
    pub fn is_staff(self) -> bool {
        self >= Self::Moderator
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s).ok_or_else(|| format!("{s:?} is not a role: user, moderator or admin"))
    }
}

/// A limit in bytes, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many bytes.
    Bytes(u64),
    /// No limit.
    Unlimited,
}

impl Limit {
    /// Reads `unlimited` or a size with an optional unit (`10GiB`, `500MB`, `1024`).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        text.parse::<bytesize::ByteSize>()
            .map(|b| Self::Bytes(b.as_u64()))
            .map_err(|e| format!("{e} (or `unlimited`)"))
    }

    /// The limit as JSON shows it: bytes, or null when unlimited.
    pub fn bytes(self) -> Option<i64> {
        match self {
            Self::Bytes(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
            Self::Unlimited => None,
        }
    }

    /// A stored per-user override: NULL keeps the site's default, -1 is unlimited.
    pub fn from_override(stored: Option<i64>, default: Self) -> Self {
        match stored {
            None => default,
            Some(n) if n < 0 => Self::Unlimited,
            Some(n) => Self::Bytes(n as u64),
        }
    }

    /// The stored form of an override (see [`Limit::from_override`]).
    pub fn to_override(self) -> i64 {
        self.bytes().unwrap_or(-1)
    }
}

/// Bans `user` (or lets them back) and, for a ban, ends every session of theirs on
/// every node at once. The change and its audit entry are one transaction; the
/// sessions end after it, so that a log-in racing the ban either sees the ban or left
/// a session that this ends.
pub async fn set_banned(
    db: &crate::db::Db,
    sessions: &crate::session::SessionStore,
    user: &crate::db::UserRecord,
    banned: bool,
    actor: &crate::db::Actor<'_>,
) -> Result<crate::db::UserRecord, crate::session::SessionError> {
    let changed = db
        .change_account(user, crate::db::AccountChange::Banned(banned), actor)
        .await?;
    if banned {
        sessions.end_all_of(user.id).await?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_rank() {
        for r in [Role::User, Role::Moderator, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(Role::parse("root").is_none());
        assert!(!Role::User.is_staff());
        assert!(Role::Moderator.is_staff() && Role::Admin.is_staff());
    }

    #[test]
    fn limits_read_sizes_and_unlimited() {
        assert_eq!(Limit::parse("10GiB"), Ok(Limit::Bytes(10 << 30)));
        assert_eq!(Limit::parse("unlimited"), Ok(Limit::Unlimited));
        assert!(Limit::parse("lots").is_err());
        assert_eq!(Limit::Unlimited.bytes(), None);
        assert_eq!(Limit::from_override(None, Limit::Bytes(5)), Limit::Bytes(5));
        assert_eq!(
            Limit::from_override(Some(-1), Limit::Bytes(5)),
            Limit::Unlimited
        );
        assert_eq!(
            Limit::from_override(Some(7), Limit::Unlimited),
            Limit::Bytes(7)
        );
        assert_eq!(Limit::Unlimited.to_override(), -1);
    }
}

use std::fmt;

/// A value that must never be printed: its `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the few places that must use it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A URL fit for logs and messages: its password, if any, replaced by `***`.
pub fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((user_info, host)) = rest.split_once('@')
        && let Some((user, _)) = user_info.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::{Secret, without_password};

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            without_password("postgres://u:secret@h:5432"),
            "postgres://u:***@h:5432"
        );
        assert_eq!(without_password("redis://:secret@h"), "redis://:***@h");
        assert_eq!(
            without_password("mysql://root@127.0.0.1:3306"),
            "mysql://root@127.0.0.1:3306"
        );
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter22".to_string());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter22");
    }
}

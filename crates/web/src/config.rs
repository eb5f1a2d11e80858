//! The settings of `reel web`: where the API and the stream server are. They come from
//! the operator only; nothing in a request can change where the proxy connects.

use std::fmt;
use std::time::Duration;

use clap::Args;
use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// The options of `reel web`, the split-mode front: where the API and the stream
/// server are.
#[derive(Debug, Clone, Args)]
// clap names a struct's argument group after it, and every service calls its
// options `Config`: the groups would clash where `reel serve` flattens several.
#[group(skip)]
pub struct Config {
    /// Base URL of the API service (`reel api`), where /api/* is forwarded without its
    /// /api prefix. Run the API with an empty --stream-public-url so that uploads come
    /// through here, and, unless both run on one host, with this proxy's address in its
    /// --trusted-proxies.
    #[arg(long = "api-url", env = "REEL_API_URL", default_value = "http://127.0.0.1:8000", value_parser = Upstream::parse)]
    pub api: Upstream,
    /// Base URL of the stream server (`reel stream`), where /videos/* and /upload/* are
    /// forwarded with their paths unchanged.
    #[arg(long = "stream-url", env = "REEL_STREAM_URL", default_value = "http://127.0.0.1:9000", value_parser = Upstream::parse)]
    pub stream: Upstream,
    /// How long to wait for a connection to the API or the stream server before
    /// answering 502.
    #[arg(long, env = "REEL_CONNECT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        reel_core::config::defaults()
    }
}

/// A base URL the proxy forwards to, validated once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `host:port` to connect to.
    authority: Authority,
    /// A path prefix without its trailing slash (often empty).
    base_path: String,
}

/// A base URL that cannot be used as an upstream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not a URL at all.
    #[error("{url:?} is not a URL: {reason}")]
    Malformed {
        /// What was given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A URL the proxy cannot reach: it needs `http://host[:port][/prefix]`.
    #[error(
        "{0:?}: an upstream must be http://host[:port][/prefix] (plain HTTP on a private \
         network, with no query string)"
    )]
    Unsupported(String),
}

impl Upstream {
    /// Parses `http://host[:port][/prefix]`. HTTPS is refused: the services of one site
    /// talk on a private network, and TLS is the front proxy's job.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let uri: Uri =
            url.trim()
                .parse()
                .map_err(|e: http::uri::InvalidUri| ConfigError::Malformed {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        let unsupported = || ConfigError::Unsupported(url.to_owned());
        if uri.scheme() != Some(&Scheme::HTTP) || uri.query().is_some() {
            return Err(unsupported());
        }
        let authority = uri.authority().cloned().ok_or_else(unsupported)?;
        if authority.as_str().contains('@') {
            return Err(unsupported());
        }
        Ok(Self {
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URI of `path_and_query` (which starts with `/`) on this upstream. The scheme
    /// and authority always come from the configuration, so no request path, however
    /// odd (`//evil.example/x`, `http://evil.example/x`), can name another host.
    pub(crate) fn uri_for(&self, path_and_query: &str) -> Result<Uri, http::Error> {
        let joined = format!("{}{path_and_query}", self.base_path);
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(PathAndQuery::try_from(joined)?)
            .build()
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_are_plain_http_base_urls() {
        let api = Upstream::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(api.to_string(), "http://127.0.0.1:8000");
        let prefixed = Upstream::parse("http://api.internal/reel/").unwrap();
        assert_eq!(
            prefixed.uri_for("/user/a?x=1").unwrap().to_string(),
            "http://api.internal/reel/user/a?x=1"
        );
        for bad in [
            "https://api.internal",
            "api.internal:8000",
            "http://user:pw@api.internal",
            "http://api.internal/?q=1",
            "/relative",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(matches!(
            Upstream::parse("http://exa mple"),
            Err(ConfigError::Malformed { .. })
        ));
    }

    #[test]
    fn a_request_path_cannot_name_another_host() {
        let api = Upstream::parse("http://127.0.0.1:8000").unwrap();
        let uri = api.uri_for("//evil.example/x").unwrap();
        assert_eq!(uri.authority().unwrap().as_str(), "127.0.0.1:8000");
        assert_eq!(uri.path(), "//evil.example/x");
    }
}

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use reel_core::account::Role;
use reel_core::db::{SessionRecord, UserRecord};
use reel_core::ids::SessionId;

use crate::error::{ApiError, ResultExt};
use crate::state::ApiState;

/// The cookie that carries the session for browsers.
pub const SESSION_COOKIE: &str = "reel_session";
/// The header that carries the session for API clients.
pub const SESSION_HEADER: &str = "x-session-id";

/// `axum::Json` whose rejections are JSON 400s (or 413 over the size limit).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections are JSON 400s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

/// `axum::extract::Query` whose rejections are JSON 400s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

/// Where the session id came from: a cookie needs a CSRF check, a header does not (a
/// cross-site page cannot set it without the browser asking us first).
enum Carrier {
    Header,
    Cookie,
}

/// The session id a request carries, if any. A malformed one counts as none.
fn presented_session(parts: &Parts) -> Option<(SessionId, Carrier)> {
    if let Some(value) = parts.headers.get(SESSION_HEADER) {
        let id = value.to_str().ok().and_then(|v| SessionId::parse(v).ok())?;
        return Some((id, Carrier::Header));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let id = SessionId::parse(jar.get(SESSION_COOKIE)?.value()).ok()?;
    Some((id, Carrier::Cookie))
}

/// A live session and its account as it is now. The account is read on every
/// authenticated request (one primary-key read), so that a ban or a new role applies
/// at the next request on every node, even when made by `reel user` in another process
/// while this one caches sessions in memory.
pub struct Authenticated {
    pub session: SessionRecord,
    pub account: UserRecord,
}

impl Authenticated {
    pub fn role(&self) -> Role {
        self.account.role
    }

    /// Whether this user moderates (moderators and admins).
    pub fn is_staff(&self) -> bool {
        self.account.role.is_staff()
    }
}

impl std::ops::Deref for Authenticated {
    type Target = SessionRecord;

    fn deref(&self) -> &SessionRecord {
        &self.session
    }
}

/// The session behind `id` with its account; `None` when there is none, or when the
/// account is banned (its sessions are then ended, in case a ban made elsewhere left
/// one in this node's cache).
async fn authenticate(state: &ApiState, id: &SessionId) -> Result<Option<Authenticated>, ApiError> {
    let Some(session) = state.sessions().lookup(id).await? else {
        return Ok(None);
    };
    let account = state.db().user_by_id(session.user_id).await.optional()?;
    match account {
        Some(account) if !account.banned => Ok(Some(Authenticated { session, account })),
        Some(account) => {
            state.sessions().end_all_of(account.id).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The logged-in user; 401 without a live session, 403 for a cookie-authenticated
/// write from another site.
pub struct SessionUser(pub Authenticated);

impl FromRequestParts<ApiState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let (id, carrier) = presented_session(parts).ok_or(ApiError::Unauthorized)?;
        if matches!(carrier, Carrier::Cookie)
            && !parts.method.is_safe()
            && !same_site(&parts.headers, &state.config().allowed_origins)
        {
            return Err(ApiError::Forbidden("cross-site request refused"));
        }
        let user = authenticate(state, &id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self(user))
    }
}

/// A moderator or an admin; 401 without a session, 403 for anyone else.
pub struct Staff(pub Authenticated);

impl FromRequestParts<ApiState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let SessionUser(user) = SessionUser::from_request_parts(parts, state).await?;
        if !user.is_staff() {
            return Err(ApiError::Forbidden("moderators and admins only"));
        }
        Ok(Self(user))
    }
}

/// An admin; 401 without a session, 403 for anyone else.
pub struct Admin(pub Authenticated);

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let SessionUser(user) = SessionUser::from_request_parts(parts, state).await?;
        if user.role() != Role::Admin {
            return Err(ApiError::Forbidden("admins only"));
        }
        Ok(Self(user))
    }
}

/// The reader, logged in or not: reads that show more to owners use it. An unknown or
/// expired session is just an anonymous reader here.
pub struct Viewer(pub Option<Authenticated>);

impl FromRequestParts<ApiState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some((id, _)) = presented_session(parts) else {
            return Ok(Self(None));
        };
        Ok(Self(authenticate(state, &id).await?))
    }
}

/// The origin (`scheme://host[:port]`) of a URL, or of an `Origin` header value.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    Some(match parsed.port() {
        Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
        None => format!("{}://{host}", parsed.scheme()),
    })
}

/// Whether a request comes from our own pages: its `Origin` (or, failing that, its
/// `Referer`) names the host the request was sent to, or an allowed origin. A request
/// with neither is refused: browsers send `Origin` on every cross-site write.
fn same_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(origin_of);
    let Some(origin) = claimed else {
        return false;
    };
    if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_site_accepts_own_host_and_allowed_origins_only() {
        let own = headers(&[
            ("host", "example.com:8080"),
            ("origin", "http://example.com:8080"),
        ]);
        assert!(same_site(&own, &[]));
        let evil = headers(&[("host", "example.com:8080"), ("origin", "http://evil.test")]);
        assert!(!same_site(&evil, &[]));
        assert!(same_site(&evil, &["http://evil.test/".into()]));
        let referer = headers(&[
            ("host", "example.com"),
            ("referer", "https://example.com/watch/1?x=2"),
        ]);
        assert!(same_site(&referer, &[]));
        let neither = headers(&[("host", "example.com")]);
        assert!(!same_site(&neither, &[]));
        let null = headers(&[("host", "example.com"), ("origin", "null")]);
        assert!(!same_site(&null, &[]));
    }
}

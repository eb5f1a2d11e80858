use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use reel_core::account::Role;
use reel_core::client_addr::ClientAddr;
use reel_core::db::{NewAccount, UserRecord};
use reel_core::domain::{Password, UserName};
use reel_core::error_body::ErrorBody;
use reel_core::ids::{SessionId, UserId};
use reel_core::quota::quota_for;

use crate::config::Registration;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Json, PathParams, SESSION_COOKIE, SessionUser};
use crate::state::ApiState;
use crate::wire::{Credentials, LoginBody, PendingSignUp, SignedIn, UserPath, UserView};

/// The session cookie: HttpOnly (page scripts never see it), SameSite=Lax, for the
/// whole site; a browser-session cookie, since the server renews the session itself.
fn session_cookie(state: &ApiState, value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config().secure_cookies)
        .path("/")
        .build()
}

fn signed_in(state: &ApiState, jar: CookieJar, id: &SessionId) -> (CookieJar, Json<SignedIn>) {
    (
        jar.add(session_cookie(state, id.expose().to_owned())),
        Json(SignedIn {
            success: true,
            session_id: id.expose().to_owned(),
        }),
    )
}

/// Register a user: logged in at once on an open site; on a site that approves
/// registrations, able to log in once an admin approves the account.
#[utoipa::path(
    post, path = "/user", tag = "users",
    request_body = Credentials,
    responses(
        (status = 201, description = "Registered and logged in; sets the session cookie", body = SignedIn),
        (status = 202, description = "Registered; the account awaits an admin's approval (no session)", body = PendingSignUp),
        (status = 400, description = "Bad body, name or password", body = ErrorBody),
        (status = 403, description = "Registration is closed (`registration_closed`)", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 429, description = "Too many log-ins and registrations from this address",
            headers(("Retry-After" = u64, description = "Seconds to wait")), body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot is taken",
            headers(("Retry-After" = u64, description = "Seconds to wait")), body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = tracing::field::Empty), err(level = "debug"))]
pub async fn register(
    State(state): State<ApiState>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let mode = state.config().registration;
    if mode == Registration::Closed {
        return Err(ApiError::RegistrationClosed);
    }
    let name = UserName::parse(&body.user_name)?;
    let password = Password::parse(&body.pwd)?;
    tracing::Span::current().record("user", name.as_str());
    state
        .limits()
        .on_address(client)
        .map_err(ApiError::TooManyRequests)?;
    // A taken name costs no hash (the insert below still settles a race).
    if state
        .db()
        .user_by_name(name.as_str())
        .await
        .optional()?
        .is_some()
    {
        return Err(ApiError::Conflict("user name is taken"));
    }
    let hash = state.hasher().hash(password).await?;
    let approved = mode == Registration::Open;
    let user = state
        .db()
        .create_account(&NewAccount {
            id: UserId::random(),
            name: name.as_str(),
            pwd_hash: &hash,
            role: Role::User,
            approved,
            now_ms: state.now_ms(),
        })
        .await
        .or_conflict("user name is taken")?;
    if !approved {
        tracing::info!("registration awaits approval");
        let pending = PendingSignUp {
            success: true,
            pending: true,
        };
        return Ok((StatusCode::ACCEPTED, Json(pending)).into_response());
    }
    let (id, _) = state.sessions().create(user.id, &user.name).await?;
    let (jar, body) = signed_in(&state, jar, &id);
    Ok((StatusCode::CREATED, jar, body).into_response())
}

/// Log in.
#[utoipa::path(
    post, path = "/user/{username}", tag = "users",
    params(UserPath),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; sets the session cookie", body = SignedIn),
        (status = 400, description = "Bad body or name", body = ErrorBody),
        (status = 401, description = "Wrong name or password", body = ErrorBody),
        (status = 403, description = "The account is banned (`banned`) or awaits approval (`pending_approval`)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address, or on this account",
            headers(("Retry-After" = u64, description = "Seconds to wait")), body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
        (status = 503, description = "Every password-hashing slot is taken",
            headers(("Retry-After" = u64, description = "Seconds to wait")), body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %name), err(level = "debug"))]
pub async fn login(
    State(state): State<ApiState>,
    PathParams(UserPath { username: name }): PathParams<UserPath>,
    ClientAddr(client): ClientAddr,
    jar: CookieJar,
    Json(body): Json<LoginBody>,
) -> Result<(CookieJar, Json<SignedIn>), ApiError> {
    if body
        .user_name
        .as_deref()
        .is_some_and(|n| n != name.as_str())
    {
        return Err(ApiError::BadRequest(
            "user_name in the body differs from the path".into(),
        ));
    }
    let password = Password::parse(&body.pwd)?;
    let limits = state.limits();
    limits
        .on_address(client)
        .map_err(ApiError::TooManyRequests)?;
    let user = state.db().user_by_name(name.as_str()).await.optional()?;
    if let Some(user) = &user {
        limits
            .on_account(user.id)
            .map_err(ApiError::TooManyRequests)?;
    }
    let stored = user.as_ref().map(|u| u.pwd_hash.clone());
    let (true, Some(user)) = (state.hasher().verify(password, stored).await?, user) else {
        return Err(ApiError::WrongCredentials);
    };
    limits.backoff.succeeded(user.id);
    if !user.approved {
        return Err(ApiError::PendingApproval);
    }
    if user.banned {
        return Err(ApiError::Banned);
    }
    let (id, session) = state.sessions().create(user.id, &user.name).await?;
    // A ban that landed since the check above ended the sessions it found, perhaps
    // before this one was stored: read the account again so none survives a ban.
    if state.db().user_by_id(user.id).await?.banned {
        state.sessions().remove(&session.key).await?;
        return Err(ApiError::Banned);
    }
    Ok(signed_in(&state, jar, &id))
}

/// An account's information: for the user themself and admins, with the quota.
#[utoipa::path(
    get, path = "/user/{username}", tag = "users",
    params(UserPath),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Malformed name", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Another user's account (for all but admins)", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn user_info(
    State(state): State<ApiState>,
    PathParams(UserPath { username: name }): PathParams<UserPath>,
    SessionUser(me): SessionUser,
) -> Result<Json<UserView>, ApiError> {
    if me.user_name == name.as_str() {
        return Ok(Json(account_view(&state, me.account, true).await?));
    }
    let user = state
        .db()
        .user_by_name(name.as_str())
        .await
        .or_not_found("user")?;
    if me.role() != Role::Admin {
        return Err(ApiError::Forbidden("this is another user's account"));
    }
    Ok(Json(account_view(&state, user, true).await?))
}

/// The JSON of an account, with its quota when `with_quota` (the user themself and
/// admins).
pub(super) async fn account_view(
    state: &ApiState,
    user: UserRecord,
    with_quota: bool,
) -> Result<UserView, ApiError> {
    let quota = if with_quota {
        let site = &state.config().quota;
        Some(quota_for(state.db(), &user, site, state.now_ms()).await?)
    } else {
        None
    };
    Ok(UserView::new(user, quota))
}

/// Log out: ends the session the request carries.
#[utoipa::path(
    delete, path = "/user/{username}", tag = "users",
    params(UserPath),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 204, description = "Logged out; clears the session cookie"),
        (status = 400, description = "Malformed name", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "The session is another user's, or a cross-site request", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<ApiState>,
    PathParams(UserPath { username: name }): PathParams<UserPath>,
    SessionUser(session): SessionUser,
    jar: CookieJar,
) -> Result<(StatusCode, CookieJar), ApiError> {
    if session.user_name != name.as_str() {
        return Err(ApiError::Forbidden("this session is another user's"));
    }
    state.sessions().remove(&session.key).await?;
    // Sent even when the session came in a header: the browser may hold the cookie too.
    let mut expired = session_cookie(&state, String::new());
    expired.make_removal();
    Ok((StatusCode::NO_CONTENT, jar.add(expired)))
}

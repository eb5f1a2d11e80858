use axum::extract::State;
use reel_core::account::{self, Role};
use reel_core::db::{AccountChange, Actor, UserRecord};
use reel_core::error_body::ErrorBody;

use super::page_of;
use super::reports::short_text;
use super::users::account_view;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Admin, Authenticated, Json, PathParams, QueryParams, Staff};
use crate::moderation_wire::{
    AdminUserPath, AuditList, AuditView, LimitInput, UserList, UserPatch, UsersQuery,
};
use crate::state::ApiState;
use crate::wire::{PageQuery, UserView, next_cursor};

/// Whether `me` may ban (or let back) `user`: nobody themself, moderators plain users
/// only, admins anyone else.
pub(super) fn may_ban(me: &Authenticated, user: &UserRecord) -> Result<(), ApiError> {
    if user.id == me.user_id {
        return Err(ApiError::Forbidden("you cannot ban yourself"));
    }
    if me.role() != Role::Admin && user.role != Role::User {
        return Err(ApiError::Forbidden(
            "only admins may ban moderators and admins",
        ));
    }
    Ok(())
}

/// The stored override of a quota as sent: bytes, null for unlimited, or "default".
fn limit_override(input: Option<LimitInput>) -> Result<Option<i64>, ApiError> {
    match input {
        None => Ok(Some(-1)),
        Some(LimitInput::Bytes(n)) if n >= 0 => Ok(Some(n)),
        Some(LimitInput::Word(w)) if w == "default" => Ok(None),
        Some(LimitInput::Word(w)) if w == "unlimited" => Ok(Some(-1)),
        Some(_) => Err(ApiError::BadRequest(
            "a quota is a number of bytes ≥ 0, null (unlimited) or \"default\"".into(),
        )),
    }
}

/// Accounts, newest first, optionally those whose name contains `q`.
#[utoipa::path(
    get, path = "/admin/users", tag = "moderation",
    params(UsersQuery),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "A page of accounts; admins also see each one's quota", body = UserList),
        (status = 400, description = "Malformed search, cursor or limit", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a moderator or admin", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn list_users(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<UsersQuery>,
    Staff(me): Staff,
) -> Result<Json<UserList>, ApiError> {
    let q = query.q.as_deref().filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 64) {
        return Err(ApiError::BadRequest("q is at most 64 characters".into()));
    }
    let (cursor, limit) = page_of(PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })?;
    let page = state.db().users(q, &cursor, limit.get()).await?;
    let with_quota = me.role() == Role::Admin;
    let next_cursor = next_cursor(&page);
    let mut users = Vec::with_capacity(page.items.len());
    for user in page.items {
        users.push(account_view(&state, user, with_quota).await?);
    }
    Ok(Json(UserList { users, next_cursor }))
}

/// Change an account: admins any field; moderators `banned` alone. A ban ends the
/// user's sessions at once on every node. Every change is written to the audit log.
#[utoipa::path(
    patch, path = "/admin/users/{name}", tag = "moderation",
    params(AdminUserPath),
    request_body = UserPatch,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "The account as it is now", body = UserView),
        (status = 400, description = "Malformed name or body, or nothing to change", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not allowed for this role or on oneself, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(target = %name), err(level = "debug"))]
pub async fn patch_user(
    State(state): State<ApiState>,
    PathParams(AdminUserPath { name }): PathParams<AdminUserPath>,
    Staff(me): Staff,
    Json(patch): Json<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    if let Some(note) = &patch.note {
        short_text(note, "note")?;
    }
    let admin_fields = patch.role.is_some()
        || patch.approved.is_some()
        || patch.bytes_limit.is_some()
        || patch.daily_bytes_limit.is_some();
    if !admin_fields && patch.banned.is_none() {
        return Err(ApiError::BadRequest("nothing to change".into()));
    }
    if admin_fields && me.role() != Role::Admin {
        return Err(ApiError::Forbidden("moderators may only ban and unban"));
    }
    let mut user = state
        .db()
        .user_by_name(name.as_str())
        .await
        .or_not_found("user")?;
    if patch.role.is_some() && user.id == me.user_id {
        return Err(ApiError::Forbidden("you cannot change your own role"));
    }
    if patch.banned.is_some() {
        may_ban(&me, &user)?;
    }
    let actor = Actor {
        name: &me.user_name,
        note: patch.note.as_deref(),
        now_ms: state.now_ms(),
    };
    let mut changes = Vec::new();
    if let Some(role) = patch.role {
        changes.push(AccountChange::Role(role));
    }
    if let Some(approved) = patch.approved {
        changes.push(AccountChange::Approved(approved));
    }
    if let Some(limit) = patch.bytes_limit {
        changes.push(AccountChange::BytesLimit(limit_override(limit)?));
    }
    if let Some(limit) = patch.daily_bytes_limit {
        changes.push(AccountChange::DailyBytesLimit(limit_override(limit)?));
    }
    for change in changes {
        user = state.db().change_account(&user, change, &actor).await?;
    }
    if let Some(banned) = patch.banned {
        user = account::set_banned(state.db(), state.sessions(), &user, banned, &actor).await?;
        state.listings().forget_user(&user.name);
        state.records().forget_all();
        tracing::info!(banned, "ban changed");
    }
    let with_quota = me.role() == Role::Admin;
    Ok(Json(account_view(&state, user, with_quota).await?))
}

/// The audit log: every action of an admin or moderator, newest first.
#[utoipa::path(
    get, path = "/admin/audit", tag = "moderation",
    params(PageQuery),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "A page of the log", body = AuditList),
        (status = 400, description = "Malformed cursor or limit", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn audit_log(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<PageQuery>,
    Admin(_admin): Admin,
) -> Result<Json<AuditList>, ApiError> {
    let (cursor, limit) = page_of(query)?;
    let page = state.db().audit_entries(&cursor, limit.get()).await?;
    Ok(Json(AuditList {
        next_cursor: next_cursor(&page),
        entries: page.items.into_iter().map(AuditView::from).collect(),
    }))
}

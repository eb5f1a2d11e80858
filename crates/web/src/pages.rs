//! The pages. Each is a template that renders the frame of the page (layout, headings,
//! forms, empty lists with placeholders) and names its page script, which fills it
//! with data from the API in the browser (docs/architecture.md, "Compatibility with the
//! first design").
//! Paths are validated here, so a malformed user name or video id is a 404 page before
//! any script runs.

use std::sync::LazyLock;

use askama::Template;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use reel_core::domain::UserName;
use reel_core::ids::VideoId;

use crate::WebState;
use crate::assets::Assets;

/// The embedded static files, indexed once per process: the fallback page needs them
/// without a state.
pub(crate) static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::embedded);

/// Pages load only this site's own scripts, styles and media (no CDN, no inline
/// script); `blob:` is for hls.js, which feeds the player through Media Source
/// Extensions and runs its demuxer in a worker made from a blob.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
    connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Shown if even the error template cannot be rendered.
const BARE_ERROR_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
    <title>Error · reel</title><h1>Something went wrong</h1><p><a href=\"/\">Home</a></p></html>";

/// The page and static-file routes.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/register", get(register))
        .route("/u/{name}", get(user))
        .route("/watch/{name}/{vid}", get(watch))
        .route("/static/{version}/{*path}", get(asset))
        .method_not_allowed_fallback(method_not_allowed)
}

/// What the layout of every page needs.
struct Layout {
    /// The URL prefix of the static files.
    assets: &'static str,
    /// The page's title, before " · reel".
    title: String,
    /// The page script, as a path under `js/` without `.js`.
    script: &'static str,
}

impl Layout {
    fn new(title: impl Into<String>, script: &'static str) -> Self {
        Self {
            assets: ASSETS.base(),
            title: title.into(),
            script,
        }
    }
}

/// `/`: the most recent videos.
#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

/// `/login` and `/register`: one form, two modes.
#[derive(Template)]
#[template(path = "auth.html")]
struct AuthPage {
    layout: Layout,
    /// Registration rather than log-in.
    register: bool,
}

/// `/u/{name}`: a user's videos, and for their owner the upload form.
#[derive(Template)]
#[template(path = "user.html")]
struct UserPage<'a> {
    layout: Layout,
    /// The user's name.
    name: &'a str,
    /// The first letter of the name, for the avatar.
    initial: char,
}

/// `/watch/{name}/{vid}`: the player and the comments.
#[derive(Template)]
#[template(path = "watch.html")]
struct WatchPage<'a> {
    layout: Layout,
    /// The author's name.
    name: &'a str,
    /// The first letter of the author's name, for the avatar.
    initial: char,
    /// The video's id.
    vid: VideoId,
}

/// Any path no route takes.
#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    layout: Layout,
    /// The path asked for, shown (escaped) to the reader.
    path: &'a str,
}

/// A failure of ours, or a method a page does not take.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    /// The status code, shown large.
    status: u16,
    /// The headline.
    heading: &'static str,
    /// What the reader can do.
    message: &'static str,
}

async fn home() -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            layout: Layout::new("Recent videos", "pages/home"),
        },
    )
}

async fn login(uri: Uri) -> Response {
    if let Some(home) = crate::next::send_home_instead(&uri) {
        return home;
    }
    render(
        StatusCode::OK,
        &AuthPage {
            layout: Layout::new("Log in", "pages/auth"),
            register: false,
        },
    )
}

async fn register(uri: Uri) -> Response {
    if let Some(home) = crate::next::send_home_instead(&uri) {
        return home;
    }
    render(
        StatusCode::OK,
        &AuthPage {
            layout: Layout::new("Create your account", "pages/auth"),
            register: true,
        },
    )
}

async fn user(path: Result<Path<String>, PathRejection>, uri: Uri) -> Response {
    let Some(name) = path.ok().and_then(|Path(n)| UserName::parse(&n).ok()) else {
        return not_found_page(uri).await;
    };
    render(
        StatusCode::OK,
        &UserPage {
            layout: Layout::new(name.as_str(), "pages/user"),
            name: name.as_str(),
            initial: initial(&name),
        },
    )
}

async fn watch(path: Result<Path<(String, String)>, PathRejection>, uri: Uri) -> Response {
    let parsed = path
        .ok()
        .and_then(|Path((n, v))| Some((UserName::parse(&n).ok()?, VideoId::parse(&v).ok()?)));
    let Some((name, vid)) = parsed else {
        return not_found_page(uri).await;
    };
    render(
        StatusCode::OK,
        &WatchPage {
            layout: Layout::new("Watch", "pages/watch"),
            name: name.as_str(),
            initial: initial(&name),
            vid,
        },
    )
}

async fn asset(
    State(state): State<WebState>,
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    state
        .assets
        .respond(&version, &path, &headers)
        .unwrap_or_else(|| (StatusCode::NOT_FOUND, "no such file").into_response())
}

/// The 404 page, in the site's look. Set it as the fallback of the router the pages
/// are merged into.
pub async fn not_found_page(uri: Uri) -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            layout: Layout::new("Page not found", "layout"),
            path: uri.path(),
        },
    )
}

async fn method_not_allowed() -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This page cannot do that",
        "The page exists, but not for this kind of request.",
    )
}

fn initial(name: &UserName) -> char {
    name.as_str()
        .chars()
        .next()
        .map_or('?', |c| c.to_ascii_uppercase())
}

/// A page as an HTML response with the headers every page has.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be shown. Try again in a moment.",
            )
        }
    }
}

fn error_page(status: StatusCode, heading: &'static str, message: &'static str) -> Response {
    let page = ErrorPage {
        layout: Layout::new(heading, "layout"),
        status: status.as_u16(),
        heading,
        message,
    };
    let body = page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the error page failed to render");
        BARE_ERROR_PAGE.to_owned()
    });
    html(status, body)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages name the static files of the running build: always revalidate them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#![forbid(unsafe_code)]
//! The shared core of reel: what the api, stream, scheduler and web services have in common.

/// Roles and byte limits of accounts.
pub mod account;
/// The client's address behind trusted proxies, and the key per-client limits count under.
pub mod client_addr;
/// Wall-clock time behind a trait, so expiry logic can be tested with a controlled clock.
pub mod clock;
/// Conditional requests: `If-None-Match` and the other validators' headers.
pub mod conditional;
/// The options every service of a site shares, and the defaults of any options struct.
pub mod config;
/// The database layer: one repository over SQLite, MySQL/MariaDB and PostgreSQL.
pub mod db;
/// Validated domain values: user names, passwords, video names, comments, statuses.
pub mod domain;
/// The JSON error body every service answers with.
pub mod error_body;
/// HTTP plumbing every service shares: the listener, request ids, access logs, metrics,
/// health.
pub mod http;
/// Typed identifiers (users, videos, comments, sessions) that validate on parse.
pub mod ids;
/// Media types by file extension.
pub mod media_type;
/// The open-files limit a server needs.
pub mod open_files;
/// Playback grants: signed proof that a reader may watch a private video.
pub mod playback_grant;
/// Quotas: the site's limits, each user's overrides and use, and the allowance an
/// upload grant carries.
pub mod quota;
/// Secrets that never show in `Debug` output or logs.
pub mod secret;
/// Sessions: a write-through cache (in-process or Redis) in front of the database.
pub mod session;
/// HMAC-signed tokens: upload tokens for the stream server and service-to-service auth.
pub mod signing;
/// What the services of one site share, opened once per process.
pub mod site;
/// Recognising the video containers reel accepts from an upload's first bytes.
pub mod sniff;
/// Where video bytes live: local disk or any S3-compatible object store.
pub mod storage;

//! The API suite: every endpoint's success and listed errors, on SQLite, MariaDB and
//! PostgreSQL, each test on a fresh database and a server on port 0.

mod helpers;

mod accounts;
mod admin;
mod comments;
mod csrf;
mod limits;
mod migrations;
mod moderated_media;
mod moderation;
mod openapi;
mod public_media;
mod quotas;
mod sessions;
mod users;
mod videos;
mod watch_cache;

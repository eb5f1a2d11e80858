//! The scheduler's test suite: one binary, a fresh database and data dir per test.

mod delete;
mod deleted_playback;
mod first_rendition;
mod helpers;
mod hostile_media;
mod intake;
mod mem_queue;
mod migrations;
mod process;
mod process_storage;
mod queue;
mod reconcile;
mod runner;
mod stream_keys;
mod sweep;
mod visibility;

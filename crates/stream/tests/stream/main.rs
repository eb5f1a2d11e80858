//! Integration tests of the stream server, each storage-touching one run against both
//! stores (`reel_testkit::per_backend!`): a temp dir and a real S3-compatible server
//! (moto) on loopback.

mod deleted;
mod helpers;
mod hostile;
mod limiter;
mod notifier;
mod playback;
mod public_media;
mod staging;
mod storage;
mod tus;
mod tus_expiry;
mod upload;

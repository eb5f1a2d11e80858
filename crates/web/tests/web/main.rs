//! HTTP-level tests of the web service: the pages and static files, and the split-mode
//! proxy against small upstream servers. One test binary, so it builds once.

/// Spawning servers on port 0 and the requests the tests share.
mod helpers;
/// The pages, the 404 page, the static files.
mod pages;
/// Forwarding to the API and the stream server.
mod proxy;

use std::net::SocketAddr;

use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `router` on a free port of 127.0.0.1 (with the peer address available, as
/// `reel` serves it) until the test ends.
pub async fn spawn(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A whole site served by `reel serve`'s own router on a fresh SQLite database and
/// data dir; shown as its base URL.
pub struct Site {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database and the stored videos, removed with the site.
    _data: tempfile::TempDir,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

/// The pages as `reel serve` mounts them: its router, with the API and the stream
/// server behind it.
pub async fn spawn_pages() -> Site {
    let data = tempfile::tempdir().unwrap();
    let mut config = reel_core::config::SiteConfig::default();
    config.db.data_dir = data.path().to_owned();
    let site = reel_core::site::Site::new(config);
    let api = reel_api::ApiState::build(reel_api::Config::default(), &site)
        .await
        .unwrap();
    let stream = reel_stream::StreamState::build(
        reel_stream::Config::default(),
        &site,
        std::sync::Arc::new(reel_stream::LogOnly),
    )
    .await
    .unwrap();
    let addr = spawn(reel::site::router(api, stream)).await;
    Site {
        base: format!("http://{addr}"),
        _data: data,
    }
}

/// A client that neither follows redirects nor decompresses, so tests see the answers
/// exactly as sent.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// A port nothing listens on.
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// Sends `request` as raw bytes (for request forms a client library would not send)
/// and reads the whole answer.
pub async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

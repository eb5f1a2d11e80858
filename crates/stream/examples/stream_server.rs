//! A stand-alone stream server over a data dir, for the benchmarks in `bench/`.
//!
//! `stream_server DATA_DIR [ADDR]` serves `DATA_DIR/storage` and prints its address;
//! `stream_server DATA_DIR token VIDEO_ID` prints an hour-long upload token for the video.
//! The signing key is `DATA_DIR/signing.key`.

use std::sync::Arc;

use reel_core::clock::Clock;
use reel_core::config::SiteConfig;
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::{SigningKey, UploadGrant};
use reel_core::site::Site;
use reel_stream::{LogOnly, StreamState};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let data_dir = args.next().unwrap_or_else(|| "./data".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let key = SigningKey::load_or_generate(std::path::Path::new(&data_dir))?;
    if addr == "token" {
        let video = VideoId::parse(&args.next().unwrap_or_default())?;
        let grant = UploadGrant {
            video,
            user: UserId::random(),
            expires_ms: reel_core::clock::SystemClock.now_ms() + 3_600_000,
            allowance: None,
        };
        println!("{}", grant.sign(&key));
        return Ok(());
    }
    let mut site = SiteConfig::default();
    site.db.data_dir = data_dir.into();
    site.signing_key = Some(key);
    let config = reel_stream::Config::default();
    let state = StreamState::build(config, &Site::new(site), Arc::new(LogOnly)).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    reel_stream::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

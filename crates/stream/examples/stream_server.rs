//! A stand-alone stream server over a data dir, for benchmarks: prints its address.
//!
//! `cargo run --release -p reel-stream --example stream_server -- DATA_DIR [ADDR]`
//! Storage is `DATA_DIR/storage`; the signing key is `DATA_DIR/signing.key`.

use reel_core::signing::SigningKey;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let data_dir = args.next().unwrap_or_else(|| "./data".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let key = SigningKey::load_or_generate(std::path::Path::new(&data_dir))?;
    let config = reel_stream::Config::new(&data_dir, key);
    let state = reel_stream::build_state(&config, None).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    reel_stream::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

//! `reel serve` under a low open-files soft limit (systemd's default is 1,024) against
//! a crowd of connections that send their request heads a line at a time, while a
//! viewer on another address keeps loading pages.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Reel;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

const SOFT_LIMIT: u64 = 128;
const ATTACKERS: usize = 200;

async fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse().unwrap(), 0))?;
    socket.connect(addr).await
}

/// One slow client until `until`: a request line, then a header line each second;
/// it reconnects whenever the server closes it.
async fn dribble(addr: SocketAddr, i: usize, until: Instant) {
    while Instant::now() < until {
        let Ok(mut tcp) = connect_from("127.0.0.2", addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut line = format!("GET /?{i} HTTP/1.1\r\nHost: x\r\n");
        let mut n = 0;
        while Instant::now() < until && tcp.write_all(line.as_bytes()).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            n += 1;
            line = format!("X-Slow-{n}: {n}\r\n");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_starve_no_descriptors_under_a_low_soft_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let reel = Reel::start_with_soft_nofile(
        &["serve", "--data-dir", data, "--header-read-timeout", "3s"],
        &[],
        SOFT_LIMIT,
    );
    reel.wait_for_log("open-files limit");
    let addr: SocketAddr = reel.base.trim_start_matches("http://").parse().unwrap();
    let until = Instant::now() + Duration::from_secs(8);
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| tokio::spawn(dribble(addr, i, until)))
        .collect();
    // A fresh connection each time: each needs a descriptor of the server's.
    let viewer = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .local_address(Some("127.0.0.1".parse().unwrap()))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut served = 0;
    while Instant::now() < until {
        for path in ["/", "/healthz"] {
            let r = viewer
                .get(format!("{}{path}", reel.base))
                .send()
                .await
                .unwrap_or_else(|e| panic!("the viewer is answered: {e}"));
            assert!(r.status().is_success(), "{path}: {}", r.status());
            served += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attacker in attackers {
        attacker.await.unwrap();
    }
    assert!(served > 10);
    assert!(
        !reel.log_text().contains("accept error"),
        "the server ran out of descriptors"
    );
}

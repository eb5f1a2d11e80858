//! The listener's limits against slow clients, beside a viewer whose requests must keep
//! succeeding: heads that dribble in, idle keep-alive connections, oversized heads.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use reel_core::http::{Listener, ListenerConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// Serves a one-route app with `config` on 127.0.0.1:0 until the sender is dropped.
async fn start(config: ListenerConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let app = Router::new().route("/hello", get(|| async { "hi" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(Listener::new(tcp, config), app, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the server closed `tcp`, reading (and dropping) what it sent, within `wait`.
async fn closed_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, read_to_end).await.is_ok()
}

/// One request of the viewer on its keep-alive client.
async fn view(client: &reqwest::Client, addr: SocketAddr) {
    let r = client
        .get(format!("http://{addr}/hello"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the viewer is answered");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hi");
}

#[tokio::test]
async fn heads_that_dribble_in_are_cut_off_while_viewers_are_served() {
    let header_timeout = Duration::from_millis(800);
    let (addr, _stop) = start(ListenerConfig {
        header_read_timeout: header_timeout,
        ..ListenerConfig::default()
    })
    .await;
    let started = Instant::now();
    let mut attackers = Vec::new();
    for i in 0..50 {
        let mut tcp = connect_from("127.0.0.2", addr).await;
        tcp.write_all(format!("GET /hello?{i} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .await
            .unwrap();
        attackers.push(tcp);
    }
    let dribble = async {
        // A header line each 200 ms, as long as the server keeps the connection.
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            n += 1;
            let mut open = 0;
            for tcp in &mut attackers {
                if tcp
                    .write_all(format!("X-Slow-{n}: {n}\r\n").as_bytes())
                    .await
                    .is_ok()
                {
                    open += 1;
                }
            }
            if open == 0 {
                return n;
            }
        }
        panic!("the dribbling connections were kept for 20 s");
    };
    let viewer = async {
        let client = reqwest::Client::new();
        for _ in 0..20 {
            view(&client, addr).await;
        }
    };
    let (lines, ()) = tokio::join!(dribble, viewer);
    assert!(
        lines >= 3,
        "cut off after the header timeout, not before ({lines} lines)"
    );
    for tcp in &mut attackers {
        assert!(closed_within(tcp, Duration::from_secs(5)).await);
    }
}

#[tokio::test]
async fn idle_connections_wait_for_the_idle_timeout_not_the_header_one() {
    let (addr, _stop) = start(ListenerConfig {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(1500),
        ..ListenerConfig::default()
    })
    .await;
    let mut tcp = connect_from("127.0.0.1", addr).await;
    let request = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    tcp.write_all(request).await.unwrap();
    let mut answer = [0u8; 1024];
    let n = tcp.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    // Idle for longer than the header timeout: the connection is still there.
    tokio::time::sleep(Duration::from_millis(700)).await;
    tcp.write_all(request).await.unwrap();
    let n = tcp.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "kept while idle");
    let idle_from = Instant::now();
    assert!(closed_within(&mut tcp, Duration::from_secs(30)).await);
    assert!(
        idle_from.elapsed() >= Duration::from_millis(1000),
        "closed after the idle timeout, not the header one"
    );
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let (addr, _stop) = start(ListenerConfig {
        max_header_bytes: 16 * 1024,
        ..ListenerConfig::default()
    })
    .await;
    let mut tcp = connect_from("127.0.0.2", addr).await;
    let mut head = b"GET /hello HTTP/1.1\r\nHost: x\r\n".to_vec();
    while head.len() < 64 * 1024 {
        head.extend(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // The server may close before it has read everything.
    let _ = tcp.write_all(&head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    view(&reqwest::Client::new(), addr).await;
}

#[test]
fn the_header_bound_has_a_floor() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        listener: ListenerConfig,
    }
    assert!(Cli::try_parse_from(["x", "--max-header-bytes", "4KiB"]).is_err());
    let cli = Cli::try_parse_from(["x", "--max-header-bytes", "32KiB"]).unwrap();
    assert_eq!(cli.listener.max_header_bytes, 32 * 1024);
    let defaults = ListenerConfig::default();
    assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
    assert_eq!(defaults.idle_timeout, Duration::from_secs(60));
}

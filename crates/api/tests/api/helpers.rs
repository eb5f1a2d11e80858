use std::sync::Arc;
use std::time::Duration;

use reel_api::{ApiState, Config};
use reel_core::clock::ManualClock;
use reel_core::db::Db;
use reel_core::ids::VideoId;
use reel_core::signing::SigningKey;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// Every test of the suite runs once per backend.
pub use reel_testkit::Backend;
use reel_testkit::ScratchDb;

/// Generates, for each listed `async fn name(app: TestApp)`, one `#[tokio::test]` per
/// backend: `sqlite::name`, `mysql::name`, `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                super::$name(&app).await;
                app.finish().await;
            })*
        }
        mod mysql {
            $(#[tokio::test] async fn $name() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::MySql).await;
                super::$name(&app).await;
                app.finish().await;
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                super::$name(&app).await;
                app.finish().await;
            })*
        }
    };
}

/// A running API on a fresh database, with a clock the test moves.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// A client without a cookie store: tests choose what each request carries.
    pub client: reqwest::Client,
    /// The clock the server reads.
    pub clock: Arc<ManualClock>,
    /// The server's state, to look behind the API.
    pub state: ApiState,
    /// The key upload tokens are signed with.
    pub key: SigningKey,
    /// Stops the server.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server task.
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Dropped last.
    _db: ScratchDb,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = ScratchDb::new(backend).await;
        let key = SigningKey::random();
        let mut config = Config::new(db.url(), key.clone());
        config.max_db_connections = 5;
        // Tests change statuses behind the API's back; the cache has its own test.
        config.listing_cache_ttl = Duration::ZERO;
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let state = ApiState::build(config, clock.clone())
            .await
            .unwrap_or_else(|e| {
                panic!("cannot start the API on {backend:?} ({}): {e:#}", db.url())
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(reel_api::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            clock,
            state,
            key,
            stop: Some(stop),
            server: Some(server),
            _db: db,
        }
    }

    /// Stops the server and closes the pool, so the scratch database can be dropped.
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(60), server).await;
        }
        self.state.db().close().await;
    }

    pub fn db(&self) -> &Db {
        self.state.db()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// A request carrying a session in the `X-Session-Id` header.
    pub fn as_user(&self, method: Method, path: &str, session: &str) -> RequestBuilder {
        self.request(method, path).header("x-session-id", session)
    }

    pub async fn register(&self, name: &str, pwd: &str) -> Response {
        self.request(Method::POST, "/user")
            .json(&json!({"user_name": name, "pwd": pwd}))
            .send()
            .await
            .unwrap()
    }

    /// Registers `name` and returns its session id.
    pub async fn signup(&self, name: &str) -> String {
        let res = self.register(name, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "registering {name}");
        res.json::<Value>().await.unwrap()["session_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn login(&self, name: &str, pwd: &str) -> Response {
        self.request(Method::POST, &format!("/user/{name}"))
            .json(&json!({"user_name": name, "pwd": pwd}))
            .send()
            .await
            .unwrap()
    }

    /// Creates a video for `name` and returns it.
    pub async fn create_video(&self, name: &str, session: &str, title: &str) -> Value {
        let res = self
            .as_user(Method::POST, &format!("/user/{name}/videos"), session)
            .json(&json!({"name": title}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// Marks a video ready, as the scheduler does once it is playable.
    pub async fn mark_ready(&self, video: &Value) {
        let id = VideoId::parse(video["id"].as_str().unwrap()).unwrap();
        sqlx::query(
            self.db()
                .sql("UPDATE video_info SET status = 'ready' WHERE id = ?"),
        )
        .bind(id.to_string())
        .execute(self.db().pool())
        .await
        .unwrap();
    }

    /// Posts a comment and returns it.
    pub async fn comment(&self, video_id: &str, session: &str, text: &str) -> Value {
        let res = self
            .as_user(
                Method::POST,
                &format!("/videos/{video_id}/comments"),
                session,
            )
            .json(&json!({"content": text}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }
}

/// Checks a response's status and that its body is the JSON error shape with `code`.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "url {}", res.url());
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "body {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "body {body}"
    );
    body
}

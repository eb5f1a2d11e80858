use std::sync::Arc;
use std::time::Duration;

use reel_api::{ApiState, Config};
use reel_core::account::Role;
use reel_core::clock::{Clock, ManualClock};
use reel_core::config::SiteConfig;
use reel_core::db::{AccountChange, Actor, COMMAND_LINE, Db};
use reel_core::ids::VideoId;
use reel_core::signing::SigningKey;
use reel_core::site::Site;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub use reel_testkit::DbKind;
use reel_testkit::ScratchDb;

/// The harness of `reel_testkit::per_backend!`: a running API on a fresh database of
/// this kind for the test, stopped after it.
pub async fn with_app(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn(kind).await;
    test(&app).await;
    app.finish().await;
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
    /// The database and key, for another node of the same site.
    site: SiteConfig,
    /// Stops the server.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server task.
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Dropped last.
    _db: ScratchDb,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn spawn(backend: DbKind) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: DbKind, adjust: impl FnOnce(&mut Config)) -> Self {
        let db = ScratchDb::new(backend).await;
        let key = SigningKey::random();
        let mut site = SiteConfig::default();
        site.db.database_url = Some(db.url().to_owned());
        site.db.max_db_connections = 5;
        site.signing_key = Some(key.clone());
        let mut config = Config {
            // Tests change statuses behind the API's back; the cache has its own test.
            listing_cache_ttl: Duration::ZERO,
            ..Config::default()
        };
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let node = Site::new(site.clone()).with_clock(clock.clone());
        let state = ApiState::build(config, &node).await.unwrap_or_else(|e| {
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
            site,
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

    /// Another API node of the same site (its own pool on the same database), on the
    /// test's clock.
    pub async fn another_node(&self) -> ApiState {
        let site = Site::new(self.site.clone()).with_clock(self.clock.clone());
        let config = self.state.config().clone();
        ApiState::build(config, &site).await.unwrap()
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

    /// Gives `name` a role, as `reel user set-role` does.
    pub async fn set_role(&self, name: &str, role: Role) {
        let user = self.db().user_by_name(name).await.unwrap();
        let actor = Actor {
            name: COMMAND_LINE,
            note: None,
            now_ms: self.clock.now_ms(),
        };
        self.db()
            .change_account(&user, AccountChange::Role(role), &actor)
            .await
            .unwrap();
    }

    /// Registers `name` with `role` and returns its session id.
    pub async fn signup_as(&self, name: &str, role: Role) -> String {
        let sid = self.signup(name).await;
        self.set_role(name, role).await;
        sid
    }

    /// Sends `method path` with the session (if any) and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.request(method, path);
        if let Some(sid) = session {
            req = req.header("x-session-id", sid);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// Sends a request that must succeed with `status`; returns its JSON body.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        session: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let res = self.call(method.clone(), path, session, body).await;
        let got = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
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

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [cookie_writes_need_our_origin]
);

async fn cookie_writes_need_our_origin(app: &TestApp) {
    let sid = app.signup("alice").await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let with_cookie = |method: Method, path: &str| {
        app.request(method, path)
            .header("cookie", format!("reel_session={sid}"))
    };
    // Another site's page posting with the user's cookie is refused, and nothing changes.
    let res = with_cookie(Method::POST, "/user/alice/videos")
        .header("origin", "http://evil.example")
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = with_cookie(Method::POST, "/user/alice/videos")
        .header("referer", "http://evil.example/page")
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = with_cookie(Method::POST, "/user/alice/videos")
        .json(&json!({"name": "no origin at all"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = with_cookie(Method::DELETE, "/user/alice")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let list: serde_json::Value = with_cookie(Method::GET, "/user/alice/videos")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["videos"].as_array().unwrap().is_empty());

    // Our own pages pass; so does the header, which other sites cannot send.
    let res = with_cookie(Method::POST, "/user/alice/videos")
        .header("origin", format!("http://{host}"))
        .json(&json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .as_user(Method::POST, "/user/alice/videos", &sid)
        .header("origin", "http://evil.example")
        .json(&json!({"name": "api client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

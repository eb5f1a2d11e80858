use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [every_route_is_documented_and_served]
);

/// Every operation of the API, with a path that reaches its handler.
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("post", "/user", "/user"),
    ("post", "/user/{username}", "/user/alice"),
    ("get", "/user/{username}", "/user/alice"),
    ("delete", "/user/{username}", "/user/alice"),
    ("get", "/user/{username}/videos", "/user/alice/videos"),
    ("post", "/user/{username}/videos", "/user/alice/videos"),
    (
        "get",
        "/user/{username}/videos/{vid}",
        "/user/alice/videos/x",
    ),
    (
        "delete",
        "/user/{username}/videos/{vid}",
        "/user/alice/videos/x",
    ),
    (
        "patch",
        "/user/{username}/videos/{vid}",
        "/user/alice/videos/x",
    ),
    ("get", "/videos", "/videos"),
    ("get", "/videos/{vid}/comments", "/videos/x/comments"),
    ("post", "/videos/{vid}/comments", "/videos/x/comments"),
    (
        "delete",
        "/videos/{vid}/comments/{cid}",
        "/videos/x/comments/y",
    ),
    ("post", "/videos/{vid}/reports", "/videos/x/reports"),
    ("get", "/admin/reports", "/admin/reports?limit=0"),
    ("patch", "/admin/reports/{id}", "/admin/reports/x"),
    ("get", "/admin/users", "/admin/users?limit=0"),
    ("patch", "/admin/users/{name}", "/admin/users/x"),
    ("get", "/admin/audit", "/admin/audit?limit=0"),
];

async fn every_route_is_documented_and_served(app: &TestApp) {
    let doc: Value = app
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        OPERATIONS.len(),
        "documented operations: {paths:?}"
    );
    for (method, template, concrete) in OPERATIONS {
        let op = &doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not documented");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.contains_key("400"),
            "{method} {template} documents no 400"
        );
        // The route exists: the answer is the handler's, not the fallback's.
        let res = app
            .request(method.to_uppercase().parse().unwrap(), concrete)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}"
        );
        let body = json_answer(res).await;
        assert_ne!(body["error"], "route not found", "{method} {concrete}");
        assert!(
            responses.contains_key(status.as_str()),
            "{method} {concrete}: undocumented status {status}: {body}"
        );
        let code = error_status_is_documented(responses, &body);
        assert!(code, "{method} {concrete}: undocumented answer {body}");
    }
    // The document is also the one the library hands out.
    assert_eq!(serde_json::to_value(reel_api::openapi()).unwrap(), doc);
}

/// The answer's JSON body (`Null` for an empty success). An error must come as the
/// JSON error shape, whatever went wrong.
async fn json_answer(res: reqwest::Response) -> Value {
    let status = res.status();
    let url = res.url().clone();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.bytes().await.unwrap();
    if status.is_success() && bytes.is_empty() {
        return Value::Null;
    }
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{url}: {status} answered {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{url}: {status} answered a body that is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    if !status.is_success() {
        assert!(
            body["code"].as_str().is_some_and(|c| !c.is_empty())
                && body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{url}: {status} without the error shape: {body}"
        );
    }
    body
}

/// Whether the error code in `body` maps to a status the operation documents.
fn error_status_is_documented(responses: &serde_json::Map<String, Value>, body: &Value) -> bool {
    let status = match body["code"].as_str() {
        Some("bad_request") => "400",
        Some("unauthorized") | Some("wrong_credentials") => "401",
        Some("forbidden")
        | Some("banned")
        | Some("pending_approval")
        | Some("registration_closed") => "403",
        Some("not_found") => "404",
        Some("conflict") => "409",
        Some(_) => return false,
        None => return true,
    };
    responses.contains_key(status)
}

/// The video's fields for visibility and playback, and the owner's edit, are in the
/// document with their types.
#[test]
fn visibility_playback_and_edits_are_documented() {
    let doc = serde_json::to_value(reel_api::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let view = &schemas["VideoView"]["properties"];
    for field in ["visibility", "description", "playback"] {
        assert!(view[field].is_object(), "VideoView.{field}: {view}");
    }
    let playback = &schemas["Playback"]["properties"];
    for field in ["mp4", "hls", "poster"] {
        assert!(playback[field].is_object(), "Playback.{field}");
    }
    let visibility = schemas["Visibility"]["enum"].as_array().unwrap();
    assert_eq!(visibility, &["public", "unlisted", "private"]);
    let statuses = schemas["VideoStatus"]["enum"].as_array().unwrap();
    assert!(statuses.contains(&Value::from("uploaded")));
    for schema in ["NewVideo", "VideoPatch"] {
        let props = &schemas[schema]["properties"];
        for field in ["visibility", "description"] {
            assert!(props[field].is_object(), "{schema}.{field}");
        }
    }
    let create = &doc["paths"]["/user/{username}/videos"]["post"]["responses"]["403"];
    assert!(
        create["description"]
            .as_str()
            .unwrap()
            .contains("quota_exceeded")
    );
    let edit = &doc["paths"]["/user/{username}/videos/{vid}"]["patch"];
    assert!(edit["requestBody"].is_object());
    assert!(edit["responses"]["200"].is_object());
}

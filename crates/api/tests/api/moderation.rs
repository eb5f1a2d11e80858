//! Reports, the moderators' queue and its actions, for every kind of reader:
//! anonymous, user, owner, moderator, admin, banned.

use reel_core::account::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        reports_are_taken_once_from_logged_in_readers,
        the_queue_is_for_moderators_and_admins,
        dismissing_closes_one_report,
        hiding_shows_the_video_to_its_owner_and_the_staff_alone,
        deleting_from_the_queue_removes_the_video,
        banning_the_author_ends_sessions_and_hides_everything,
        moderators_delete_any_video_or_comment_and_are_audited,
    ]
);

/// A site with a ready video of `owner`, a moderator, an admin and another user.
struct Cast {
    owner: String,
    other: String,
    moderator: String,
    admin: String,
    video: Value,
}

async fn cast(app: &TestApp) -> Cast {
    let owner = app.signup("owner").await;
    let other = app.signup("other").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let admin = app.signup_as("root", Role::Admin).await;
    let video = app.create_video("owner", &owner, "clip").await;
    app.mark_ready(&video).await;
    // What the test does comes after the set-up in the audit log.
    app.clock.advance(1);
    Cast {
        owner,
        other,
        moderator,
        admin,
        video,
    }
}

fn vid(video: &Value) -> &str {
    video["id"].as_str().unwrap()
}

async fn report(app: &TestApp, video: &Value, session: &str) -> Value {
    let path = format!("/videos/{}/reports", vid(video));
    let body = json!({"reason": "spam"});
    app.ok(
        Method::POST,
        &path,
        Some(session),
        Some(body),
        StatusCode::CREATED,
    )
    .await
}

async fn resolve(app: &TestApp, report: &Value, session: &str, action: &str) -> reqwest::Response {
    let path = format!("/admin/reports/{}", report["id"].as_str().unwrap());
    let body = json!({"action": action, "note": "checked"});
    app.call(Method::PATCH, &path, Some(session), Some(body))
        .await
}

async fn reports_are_taken_once_from_logged_in_readers(app: &TestApp) {
    let c = cast(app).await;
    let path = format!("/videos/{}/reports", vid(&c.video));
    let body = || Some(json!({"reason": "spam"}));
    let res = app.call(Method::POST, &path, None, body()).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let made = report(app, &c.video, &c.other).await;
    assert_eq!(made["reporter"], "other");
    assert_eq!(made["state"], "open");
    assert_eq!(made["video_id"], c.video["id"]);
    assert_eq!(made["author"], "owner");
    let res = app.call(Method::POST, &path, Some(&c.other), body()).await;
    assert_error(res, StatusCode::CONFLICT, "conflict").await;
    // Others, the owner and the staff may report too.
    for session in [&c.owner, &c.moderator, &c.admin] {
        report(app, &c.video, session).await;
    }
    for bad in [
        json!({"reason": ""}),
        json!({"reason": "x".repeat(1001)}),
        json!({}),
    ] {
        let res = app
            .call(Method::POST, &path, Some(&c.other), Some(bad))
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = app
        .call(Method::POST, "/videos/nope/reports", Some(&c.other), body())
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    // A video the reader cannot see cannot be reported.
    let pending = app.create_video("owner", &c.owner, "not yet").await;
    let path = format!("/videos/{}/reports", vid(&pending));
    let res = app.call(Method::POST, &path, Some(&c.other), body()).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // Once resolved, the same user may report the video again.
    resolve(app, &made, &c.moderator, "dismiss").await;
    report(app, &c.video, &c.other).await;
}

async fn the_queue_is_for_moderators_and_admins(app: &TestApp) {
    let c = cast(app).await;
    let first = report(app, &c.video, &c.other).await;
    report(app, &c.video, &c.owner).await;
    let res = app.call(Method::GET, "/admin/reports", None, None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for session in [&c.other, &c.owner] {
        let res = app
            .call(Method::GET, "/admin/reports", Some(session), None)
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    for session in [&c.moderator, &c.admin] {
        let queue = app
            .ok(
                Method::GET,
                "/admin/reports?limit=1",
                Some(session),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(queue["reports"].as_array().unwrap().len(), 1);
        let next = queue["next_cursor"].as_str().unwrap();
        let rest = app
            .ok(
                Method::GET,
                &format!("/admin/reports?state=open&cursor={next}"),
                Some(session),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(rest["reports"].as_array().unwrap().len(), 1);
        assert_eq!(rest["next_cursor"], Value::Null);
    }
    resolve(app, &first, &c.moderator, "dismiss").await;
    let resolved = app
        .ok(
            Method::GET,
            "/admin/reports?state=resolved",
            Some(&c.moderator),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(resolved["reports"][0]["id"], first["id"]);
    for bad in ["?state=closed", "?limit=0", "?cursor=zzz"] {
        let path = format!("/admin/reports{bad}");
        let res = app.call(Method::GET, &path, Some(&c.moderator), None).await;
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

async fn dismissing_closes_one_report(app: &TestApp) {
    let c = cast(app).await;
    let first = report(app, &c.video, &c.other).await;
    let second = report(app, &c.video, &c.admin).await;
    assert_error(
        resolve(app, &first, &c.other, "dismiss").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let path = format!("/admin/reports/{}", first["id"].as_str().unwrap());
    let res = app
        .call(
            Method::PATCH,
            &path,
            None,
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .call(
            Method::PATCH,
            &path,
            Some(&c.moderator),
            Some(json!({"action": "burn"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = resolve(app, &first, &c.moderator, "dismiss").await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "resolved");
    assert_eq!(done["action"], "dismiss");
    assert_eq!(done["resolved_by"], "mod");
    assert_eq!(done["note"], "checked");
    assert_error(
        resolve(app, &first, &c.admin, "dismiss").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    // The other report stays open.
    let queue = app
        .ok(
            Method::GET,
            "/admin/reports",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(queue["reports"][0]["id"], second["id"]);
    let unknown = format!("/admin/reports/{}", uuid::Uuid::new_v4());
    let res = app
        .call(
            Method::PATCH,
            &unknown,
            Some(&c.admin),
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .call(
            Method::PATCH,
            "/admin/reports/x",
            Some(&c.admin),
            Some(json!({"action": "dismiss"})),
        )
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    // The admin reads the moderator's action in the audit log, by names.
    let log = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    let entry = &log["entries"][0];
    assert_eq!(entry["actor"], "mod");
    assert_eq!(entry["action"], "dismiss_report");
    assert_eq!(entry["target"], "clip");
    assert!(
        entry["note"].as_str().unwrap().contains("checked"),
        "{entry}"
    );
}

async fn hiding_shows_the_video_to_its_owner_and_the_staff_alone(app: &TestApp) {
    let c = cast(app).await;
    let first = report(app, &c.video, &c.other).await;
    let second = report(app, &c.video, &c.admin).await;
    assert_eq!(
        resolve(app, &first, &c.moderator, "hide_video")
            .await
            .status(),
        StatusCode::OK
    );
    // Every open report of the video is settled with it.
    let second = app
        .ok(
            Method::GET,
            "/admin/reports?state=resolved",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == second["id"])
        .cloned()
        .unwrap();
    assert_eq!(second["action"], "hide_video");
    let path = format!("/user/owner/videos/{}", vid(&c.video));
    let seen = app
        .ok(Method::GET, &path, Some(&c.owner), None, StatusCode::OK)
        .await;
    assert_eq!(seen["hidden"], true);
    for session in [&c.moderator, &c.admin] {
        app.ok(Method::GET, &path, Some(session), None, StatusCode::OK)
            .await;
    }
    for session in [Some(c.other.as_str()), None] {
        let res = app.call(Method::GET, &path, session, None).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let list = app
            .ok(
                Method::GET,
                "/user/owner/videos",
                session,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(list["videos"], json!([]));
        let comments = format!("/videos/{}/comments", vid(&c.video));
        let res = app.call(Method::GET, &comments, session, None).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    }
    let home = app
        .ok(Method::GET, "/videos", None, None, StatusCode::OK)
        .await;
    assert_eq!(home["videos"], json!([]));
    let staff_list = app
        .ok(
            Method::GET,
            "/user/owner/videos",
            Some(&c.moderator),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(staff_list["videos"][0]["hidden"], true);
    let log = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(log["entries"][0]["action"], "hide_video");
    assert_eq!(log["entries"][0]["actor"], "mod");
}

async fn deleting_from_the_queue_removes_the_video(app: &TestApp) {
    let c = cast(app).await;
    let first = report(app, &c.video, &c.other).await;
    let res = resolve(app, &first, &c.admin, "delete_video").await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["action"], "delete_video");
    assert_eq!(done["video_name"], Value::Null);
    let path = format!("/user/owner/videos/{}", vid(&c.video));
    let res = app.call(Method::GET, &path, Some(&c.owner), None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let log = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(log["entries"][0]["action"], "delete_video");
    assert_eq!(log["entries"][0]["actor"], "root");
    assert_eq!(log["entries"][0]["target"], "clip");

    // An owner's own deletion settles the open reports of the video.
    let other_video = app.create_video("owner", &c.owner, "second").await;
    app.mark_ready(&other_video).await;
    report(app, &other_video, &c.other).await;
    let path = format!("/user/owner/videos/{}", vid(&other_video));
    app.ok(
        Method::DELETE,
        &path,
        Some(&c.owner),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let queue = app
        .ok(
            Method::GET,
            "/admin/reports",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(queue["reports"], json!([]));
}

async fn banning_the_author_ends_sessions_and_hides_everything(app: &TestApp) {
    let c = cast(app).await;
    let on_own = app.comment(vid(&c.video), &c.owner, "by the owner").await;
    let theirs = app.create_video("other", &c.other, "theirs").await;
    app.mark_ready(&theirs).await;
    app.comment(vid(&theirs), &c.owner, "elsewhere").await;
    let made = report(app, &c.video, &c.other).await;
    // A second log-in of the owner, as from another device.
    let second = app
        .login("owner", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        resolve(app, &made, &c.moderator, "ban_author")
            .await
            .status(),
        StatusCode::OK
    );
    for session in [&c.owner, &second] {
        let res = app
            .call(Method::GET, "/user/owner", Some(session), None)
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let res = app
            .call(
                Method::POST,
                "/user/owner/videos",
                Some(session),
                Some(json!({"name": "x"})),
            )
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_error(
        app.login("owner", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "banned",
    )
    .await;
    // Their videos and comments are gone for everyone but the staff.
    let path = format!("/user/owner/videos/{}", vid(&c.video));
    let comments = format!("/videos/{}/comments", vid(&theirs));
    for session in [Some(c.other.as_str()), None] {
        let res = app.call(Method::GET, &path, session, None).await;
        assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
        let list = app
            .ok(Method::GET, &comments, session, None, StatusCode::OK)
            .await;
        assert_eq!(list["comments"], json!([]), "{list}");
    }
    for session in [&c.moderator, &c.admin] {
        app.ok(Method::GET, &path, Some(session), None, StatusCode::OK)
            .await;
        let list = app
            .ok(Method::GET, &comments, Some(session), None, StatusCode::OK)
            .await;
        assert_eq!(list["comments"][0]["content"], "elsewhere");
        let own = format!("/videos/{}/comments", vid(&c.video));
        let list = app
            .ok(Method::GET, &own, Some(session), None, StatusCode::OK)
            .await;
        assert_eq!(list["comments"][0]["id"], on_own["id"]);
    }
    let log = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(log["entries"][0]["action"], "ban");
    assert_eq!(log["entries"][0]["target"], "owner");
    assert_eq!(log["entries"][0]["actor"], "mod");

    // A moderator cannot ban staff through a report; an admin can.
    let admins_video = app.create_video("root", &c.admin, "admin's").await;
    app.mark_ready(&admins_video).await;
    let made = report(app, &admins_video, &c.other).await;
    assert_error(
        resolve(app, &made, &c.moderator, "ban_author").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn moderators_delete_any_video_or_comment_and_are_audited(app: &TestApp) {
    let c = cast(app).await;
    let comment = app.comment(vid(&c.video), &c.owner, "hello").await;
    let comment_path = format!(
        "/videos/{}/comments/{}",
        vid(&c.video),
        comment["id"].as_str().unwrap()
    );
    let res = app
        .call(Method::DELETE, &comment_path, Some(&c.other), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.ok(
        Method::DELETE,
        &comment_path,
        Some(&c.moderator),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let video_path = format!("/user/owner/videos/{}", vid(&c.video));
    let res = app
        .call(Method::DELETE, &video_path, Some(&c.other), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.ok(
        Method::DELETE,
        &video_path,
        Some(&c.admin),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let log = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    let actions: Vec<(&str, &str)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&("root", "delete_video")), "{actions:?}");
    assert!(actions.contains(&("mod", "delete_comment")), "{actions:?}");
    // An owner's own deletion is no moderation: not in the log.
    let own = app.create_video("owner", &c.owner, "mine").await;
    let path = format!("/user/owner/videos/{}", vid(&own));
    app.ok(
        Method::DELETE,
        &path,
        Some(&c.owner),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let after = app
        .ok(
            Method::GET,
            "/admin/audit",
            Some(&c.admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(after["entries"].as_array().unwrap().len(), actions.len());
}

use std::collections::BTreeSet;
use std::io::Read;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH,
};

use crate::helpers::{client, spawn_pages};

const ALICE_VIDEO: &str = "/watch/alice/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10";

/// The `href`s and `src`s under `/static/` in a page.
fn static_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let url = &rest[..rest.find('"').unwrap()];
            if url.starts_with("/static/") {
                links.push(url.to_owned());
            }
        }
    }
    links
}

#[tokio::test]
async fn every_page_is_html_with_its_script_and_the_site_headers() {
    let base = spawn_pages().await;
    let pages = [
        ("/", "Recent videos", "js/pages/home.js"),
        ("/login", "Log in", "js/pages/auth.js"),
        ("/register", "Create your account", "js/pages/auth.js"),
        ("/u/alice", "alice", "js/pages/user.js"),
        (ALICE_VIDEO, "Watch", "js/pages/watch.js"),
    ];
    for (path, title, script) in pages {
        let res = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let headers = res.headers().clone();
        assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        assert_eq!(headers[CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        let html = res.text().await.unwrap();
        assert!(html.starts_with("<!doctype html>"), "{path}");
        assert!(
            html.contains(&format!("<title>{title} · reel</title>")),
            "{path}"
        );
        assert!(html.contains(script), "{path} does not load {script}");
        // Offline by construction: nothing is loaded from another origin.
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{path}"
        );
        for link in static_links(&html) {
            let res = client().get(format!("{base}{link}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path} links {link}");
        }
    }
}

#[tokio::test]
async fn forms_have_labels_for_their_inputs() {
    let base = spawn_pages().await;
    for path in ["/login", "/register", "/u/alice", ALICE_VIDEO] {
        let html = client()
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for tag in ["<input ", "<textarea ", "<select "] {
            for (i, _) in html.match_indices(tag) {
                let element = &html[i..i + html[i..].find('>').unwrap()];
                if element.contains("type=\"checkbox\"") {
                    continue; // labelled by the <label> that wraps it
                }
                let id = element
                    .split("id=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or_else(|| panic!("{path}: {element} has no id"));
                assert!(
                    html.contains(&format!("<label for=\"{id}\"")),
                    "{path}: #{id} has no label"
                );
            }
        }
    }
}

#[tokio::test]
async fn pages_carry_the_validated_path_values_for_their_scripts() {
    let base = spawn_pages().await;
    let html = client()
        .get(format!("{base}{ALICE_VIDEO}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-user=\"alice\""));
    assert!(html.contains("data-video=\"0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10\""));
    // The poster comes from the API's playback URLs (a private video's carry a grant).
    assert!(!html.contains("poster=\""));
    let html = client()
        .get(format!("{base}/u/Bob.the-builder_2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-user=\"Bob.the-builder_2\""));
    assert!(html.contains(">B</span>"), "the avatar shows the initial");
}

#[tokio::test]
async fn malformed_names_and_ids_get_the_404_page() {
    let base = spawn_pages().await;
    for path in [
        "/u/ab",
        "/u/no%20spaces",
        "/u/%3Cscript%3E",
        "/watch/alice/not-a-uuid",
        "/watch/a/0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10",
        "/watch/alice/0B5E3C1E8F6A4A579D553F7C2D1E9A10",
    ] {
        let res = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            res.text().await.unwrap().contains("Page not found"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_404_page_has_the_site_look_and_escapes_the_path() {
    let base = spawn_pages().await;
    let res = client()
        .get(format!("{base}/nothing/here&x='y'"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key(CONTENT_SECURITY_POLICY));
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>Page not found</h1>"));
    assert!(
        html.contains("class=\"site-header\""),
        "same layout as every page"
    );
    assert!(html.contains("/nothing/here&#38;x=&#39;y&#39;"), "{html}");
    assert!(!html.contains("here&x"));
    // A fallback page that only needs no state: HEAD works too.
    let res = client()
        .head(format!("{base}/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_method_on_a_page_is_an_error_page() {
    let base = spawn_pages().await;
    let res = client().post(format!("{base}/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    assert!(html.contains("class=\"error-code\" aria-hidden=\"true\">405</p>"));
}

#[tokio::test]
async fn static_files_have_types_long_caching_validators_and_gzip() {
    let base = spawn_pages().await;
    let asset_base = reel_web::WebState::pages_only().asset_base().to_owned();
    // (path, media type, worth compressing)
    let cases = [
        ("css/app.css", "text/css; charset=utf-8", true),
        ("js/pages/home.js", "text/javascript; charset=utf-8", true),
        (
            "vendor/hls.js/hls.min.mjs",
            "text/javascript; charset=utf-8",
            true,
        ),
        ("img/favicon.svg", "image/svg+xml", false),
    ];
    for (path, content_type, compressed) in cases {
        let url = format!("{base}{asset_base}/{path}");
        let plain = client().get(&url).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert_eq!(plain.headers()[CONTENT_TYPE], content_type);
        assert_eq!(
            plain.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(plain.headers()["x-content-type-options"], "nosniff");
        assert!(!plain.headers().contains_key(CONTENT_ENCODING));
        let etag = plain.headers()[ETAG].clone();
        let bytes = plain.bytes().await.unwrap();

        let gz = client()
            .get(&url)
            .header(ACCEPT_ENCODING, "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.headers()["vary"], "accept-encoding");
        if compressed {
            assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip", "{path}");
            assert_ne!(gz.headers()[ETAG], etag, "each encoding has its own tag");
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
                .read_to_end(&mut unzipped)
                .unwrap();
            assert_eq!(unzipped, bytes, "{path}");
        } else {
            assert!(!gz.headers().contains_key(CONTENT_ENCODING), "{path}");
            assert_eq!(gz.headers()[ETAG], etag);
        }

        let again = client()
            .get(&url)
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn an_old_version_is_served_but_revalidated_and_unknown_files_are_404() {
    let base = spawn_pages().await;
    let old = client()
        .get(format!("{base}/static/000000000000/css/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::OK);
    assert_eq!(old.headers()[CACHE_CONTROL], "no-cache");
    let asset_base = reel_web::WebState::pages_only().asset_base().to_owned();
    for path in ["css/nope.css", "../Cargo.toml", "js", ""] {
        let res = client()
            .get(format!("{base}{asset_base}/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// No build step: the browser loads the modules as they are, so every relative
/// `import` of every page script must name a file that is served.
#[tokio::test]
async fn every_module_import_resolves_to_a_served_file() {
    let base = spawn_pages().await;
    let asset_base = reel_web::WebState::pages_only().asset_base().to_owned();
    let mut todo = vec![
        "js/layout.js".to_owned(),
        "js/pages/home.js".to_owned(),
        "js/pages/auth.js".to_owned(),
        "js/pages/user.js".to_owned(),
        "js/pages/watch.js".to_owned(),
    ];
    let mut seen = BTreeSet::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = client()
            .get(format!("{base}{asset_base}/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{path} is imported but not served"
        );
        if path.starts_with("vendor/") {
            continue;
        }
        let source = res.text().await.unwrap();
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        for quote in ["from '", "import('"] {
            for (i, _) in source.match_indices(quote) {
                let rest = &source[i + quote.len()..];
                let spec = &rest[..rest.find('\'').unwrap()];
                assert!(spec.starts_with('.'), "{path} imports {spec}: not relative");
                todo.push(resolve(dir, spec));
            }
        }
    }
    assert!(seen.contains("vendor/hls.js/hls.min.mjs"));
    assert!(seen.contains("js/tus.js"));
}

fn resolve(dir: &str, spec: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for segment in spec.split('/') {
        match segment {
            "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// `reel serve` merges the pages with the stream server's routes and nests the API
/// under `/api`: each path reaches its own service, and the 404 page is the fallback of
/// the whole.
#[tokio::test]
async fn the_pages_merge_with_the_api_and_stream_routes_as_reel_serve_mounts_them() {
    let base = spawn_pages().await;
    let vid = "0b5e3c1e-8f6a-4a57-9d55-3f7c2d1e9a10";
    let html = "text/html; charset=utf-8";
    let json = "application/json";
    for (method, path, status, content_type, needle) in [
        ("GET", "/", StatusCode::OK, html, "Recent videos"),
        ("GET", "/api/videos", StatusCode::OK, json, "\"videos\""),
        (
            "GET",
            "/api/nope",
            StatusCode::NOT_FOUND,
            json,
            "route not found",
        ),
        (
            "GET",
            &format!("/videos/{vid}"),
            StatusCode::NOT_FOUND,
            json,
            "not_found",
        ),
        (
            "PUT",
            &format!("/upload/{vid}"),
            StatusCode::UNAUTHORIZED,
            json,
            "missing_token",
        ),
        (
            "POST",
            &format!("/upload/{vid}/tus"),
            StatusCode::UNAUTHORIZED,
            json,
            "missing_token",
        ),
        (
            "GET",
            &format!("/videos/{vid}/hls/master.m3u8"),
            StatusCode::NOT_FOUND,
            json,
            "not_found",
        ),
        (
            "GET",
            &format!("/watch/alice/{vid}"),
            StatusCode::OK,
            html,
            "data-video",
        ),
        (
            "GET",
            "/readyz",
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ready",
        ),
        (
            "GET",
            "/nope",
            StatusCode::NOT_FOUND,
            html,
            "Page not found",
        ),
    ] {
        let res = client()
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{method} {path}");
        assert_eq!(res.headers()[CONTENT_TYPE], content_type, "{method} {path}");
        assert!(
            res.headers().contains_key("x-request-id"),
            "{method} {path} is not observed"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(needle), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn an_off_site_next_sends_the_visitor_home() {
    let base = spawn_pages().await;
    let no_redirects = client();
    for page in ["/login", "/register"] {
        for away in [
            "%2F%09%2Fevil.example",
            "%2F%2Fevil.example",
            "%2F%5Cevil.example",
            "https%3A%2F%2Fevil.example",
            "%2F%252F%252Fevil.example",
            "%2F%250A%2Fevil.example",
            "/%0d/evil.example",
        ] {
            let res = no_redirects
                .get(format!("{base}{page}?next={away}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}?next={away}");
            assert_eq!(res.headers()["location"], format!("{page}?next=/"));
        }
        let res = no_redirects
            .get(format!("{base}{page}?next=%2Fu%2Falice"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "a path of the site is kept");
    }
}

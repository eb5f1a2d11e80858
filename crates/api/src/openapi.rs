use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};

/// Completes the document the routes produced: title, version and the two ways a session
/// travels.
pub fn finish(mut api: OpenApi) -> OpenApi {
    api.info = InfoBuilder::new()
        .title("reel API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Users, sessions, videos and comments of a reel site. Errors are \
             {\"error\": \"...\", \"code\": \"...\"}.",
        ))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session_cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("reel_session"))),
    );
    components.add_security_scheme(
        "session_header",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Session-Id"))),
    );
    api
}

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::{UserId, VideoId};
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The file under the data dir that holds a generated key.
pub const KEY_FILE_NAME: &str = "signing.key";

/// The shared secret that signs upload tokens and service calls.
#[derive(Clone, Debug)]
pub struct SigningKey(Secret<Vec<u8>>);

/// Why a key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key text is not base64url or too short.
    #[error("signing key must be at least 32 bytes, base64url-encoded")]
    Malformed,
    /// The key file could not be read or written.
    #[error("signing key file {path}: {source}")]
    Io {
        /// The file in question.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl SigningKey {
    /// Decodes a base64url key of at least 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = B64
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| KeyError::Malformed)?;
        if bytes.len() < 32 {
            return Err(KeyError::Malformed);
        }
        Ok(Self(Secret::new(bytes)))
    }

    /// A fresh random 256-bit key.
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(Secret::new(bytes.to_vec()))
    }

    /// The key as base64url text, for writing it to a key file.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.expose())
    }

    /// A short name of the key that says nothing of it: the first 8 bytes of its
    /// SHA-256, in hex. Nodes of one site print the same fingerprint.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(&Sha256::digest(self.0.expose())[..8])
    }

    /// Reads the key from `dir/signing.key`, generating it (mode 0600) on first use.
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(KEY_FILE_NAME);
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io)?;
                let key = Self::random();
                write_private(&path, key.to_base64().as_bytes()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.0.expose()).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
            mac.update(b"\n");
        }
        mac
    }

    pub(crate) fn sign(&self, parts: &[&[u8]]) -> String {
        B64.encode(self.mac(parts).finalize().into_bytes())
    }

    pub(crate) fn verify(&self, parts: &[&[u8]], signature: &str) -> bool {
        match B64.decode(signature) {
            Ok(sig) => self.mac(parts).verify_slice(&sig).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this kind at all.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match: forged or signed with another key.
    #[error("invalid token signature")]
    BadSignature,
    /// The token was valid once.
    #[error("token expired")]
    Expired,
    /// A valid token, but for another video.
    #[error("token is for another video")]
    WrongVideo,
}

/// What an upload token grants: `user` may upload the bytes of `video` until `expires_ms`,
/// at most `allowance` bytes (what their quota left when the grant was signed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadGrant {
    /// The video to upload.
    pub video: VideoId,
    /// The video's owner.
    pub user: UserId,
    /// Expiry in Unix milliseconds.
    pub expires_ms: i64,
    /// The most bytes the upload may have; `None` when no quota applies.
    pub allowance: Option<u64>,
}

const UPLOAD_PREFIX: &str = "u2";
/// How a grant without a quota writes its allowance.
const UNLIMITED: &str = "-";
const SERVICE_PREFIX: &str = "s1";

impl UploadGrant {
    /// Signs the grant into a URL-safe token:
    /// `u2.<video>.<user>.<expiry>.<allowance or ->.<mac>`.
    pub fn sign(&self, key: &SigningKey) -> String {
        let (video, user, exp) = (
            self.video.to_string(),
            self.user.to_string(),
            self.expires_ms.to_string(),
        );
        let allowance = self
            .allowance
            .map_or_else(|| UNLIMITED.to_owned(), |a| a.to_string());
        let sig = key.sign(&[
            UPLOAD_PREFIX.as_bytes(),
            video.as_bytes(),
            user.as_bytes(),
            exp.as_bytes(),
            allowance.as_bytes(),
        ]);
        format!("{UPLOAD_PREFIX}.{video}.{user}.{exp}.{allowance}.{sig}")
    }

    /// Checks a token's signature and expiry, and that it grants `video`.
    pub fn verify(
        token: &str,
        key: &SigningKey,
        video: VideoId,
        now_ms: i64,
    ) -> Result<Self, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [UPLOAD_PREFIX, v, u, exp, allowance, sig] = parts[..] else {
            return Err(TokenError::Malformed);
        };
        if !key.verify(
            &[
                UPLOAD_PREFIX.as_bytes(),
                v.as_bytes(),
                u.as_bytes(),
                exp.as_bytes(),
                allowance.as_bytes(),
            ],
            sig,
        ) {
            return Err(TokenError::BadSignature);
        }
        let grant = Self {
            video: VideoId::parse(v).map_err(|_| TokenError::Malformed)?,
            user: UserId::parse(u).map_err(|_| TokenError::Malformed)?,
            expires_ms: exp.parse().map_err(|_| TokenError::Malformed)?,
            allowance: match allowance {
                UNLIMITED => None,
                n => Some(n.parse().map_err(|_| TokenError::Malformed)?),
            },
        };
        if grant.expires_ms <= now_ms {
            return Err(TokenError::Expired);
        }
        if grant.video != video {
            return Err(TokenError::WrongVideo);
        }
        Ok(grant)
    }
}

/// Service-to-service authentication: a short-lived signature over one request's method
/// and path, sent as `Authorization: Bearer s1.<expiry>.<mac>`.
pub mod service {
    use super::*;

    /// How long a service signature stays valid.
    pub const VALIDITY_MS: i64 = 60_000;

    /// The `Authorization` header value for `method path`.
    pub fn authorization(key: &SigningKey, method: &str, path: &str, now_ms: i64) -> String {
        let exp = (now_ms + VALIDITY_MS).to_string();
        let sig = key.sign(&[
            SERVICE_PREFIX.as_bytes(),
            method.as_bytes(),
            path.as_bytes(),
            exp.as_bytes(),
        ]);
        format!("Bearer {SERVICE_PREFIX}.{exp}.{sig}")
    }

    /// Checks an `Authorization` header value for `method path`.
    pub fn verify(
        key: &SigningKey,
        header: &str,
        method: &str,
        path: &str,
        now_ms: i64,
    ) -> Result<(), TokenError> {
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(TokenError::Malformed)?;
        let mut parts = token.split('.');
        let (Some(SERVICE_PREFIX), Some(exp), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if !key.verify(
            &[
                SERVICE_PREFIX.as_bytes(),
                method.as_bytes(),
                path.as_bytes(),
                exp.as_bytes(),
            ],
            sig,
        ) {
            return Err(TokenError::BadSignature);
        }
        let exp: i64 = exp.parse().map_err(|_| TokenError::Malformed)?;
        if exp <= now_ms {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_name_keys_without_showing_them() {
        let key = SigningKey::from_base64(&"A".repeat(43)).unwrap();
        let print = key.fingerprint();
        assert_eq!(print.len(), 16);
        assert_eq!(print, key.clone().fingerprint());
        assert_ne!(print, SigningKey::random().fingerprint());
        assert!(!key.to_base64().contains(&print));
    }

    fn grant(expires_ms: i64) -> UploadGrant {
        UploadGrant {
            video: VideoId::random(),
            user: UserId::random(),
            expires_ms,
            allowance: None,
        }
    }

    #[test]
    fn the_allowance_is_signed_with_the_grant() {
        let key = SigningKey::random();
        let g = UploadGrant {
            allowance: Some(5_000),
            ..grant(10_000)
        };
        let token = g.sign(&key);
        assert_eq!(UploadGrant::verify(&token, &key, g.video, 0), Ok(g));
        let raised = token.replace(".5000.", ".9999999.");
        assert_eq!(
            UploadGrant::verify(&raised, &key, g.video, 0),
            Err(TokenError::BadSignature)
        );
        let unlimited = token.replace(".5000.", ".-.");
        assert_eq!(
            UploadGrant::verify(&unlimited, &key, g.video, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn upload_tokens_verify_and_refuse_every_forgery() {
        let key = SigningKey::random();
        let g = grant(10_000);
        let token = g.sign(&key);
        assert_eq!(UploadGrant::verify(&token, &key, g.video, 9_999), Ok(g));
        assert_eq!(
            UploadGrant::verify(&token, &key, g.video, 10_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            UploadGrant::verify(&token, &key, VideoId::random(), 0),
            Err(TokenError::WrongVideo)
        );
        assert_eq!(
            UploadGrant::verify(&token, &SigningKey::random(), g.video, 0),
            Err(TokenError::BadSignature)
        );
        let longer = token.replace(".10000.", ".99999999.");
        assert_eq!(
            UploadGrant::verify(&longer, &key, g.video, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            UploadGrant::verify("garbage", &key, g.video, 0),
            Err(TokenError::Malformed)
        );
        let service = service::authorization(&key, "POST", "/x", 0);
        let as_upload = service.trim_start_matches("Bearer ");
        assert_eq!(
            UploadGrant::verify(as_upload, &key, g.video, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn service_signatures_bind_method_path_and_time() {
        let key = SigningKey::random();
        let h = service::authorization(&key, "POST", "/tasks", 1_000);
        assert_eq!(service::verify(&key, &h, "POST", "/tasks", 1_000), Ok(()));
        assert_eq!(
            service::verify(&key, &h, "POST", "/other", 1_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            service::verify(&key, &h, "GET", "/tasks", 1_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            service::verify(&key, &h, "POST", "/tasks", 1_000 + service::VALIDITY_MS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            service::verify(&key, "Basic x", "POST", "/tasks", 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn keys_are_generated_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = SigningKey::load_or_generate(dir.path()).unwrap();
        let b = SigningKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.to_base64(), b.to_base64());
        assert!(!format!("{a:?}").contains(&a.to_base64()));
        assert!(SigningKey::from_base64("c2hvcnQ").is_err());
    }
}

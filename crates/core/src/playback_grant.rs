//! Playback grants: the proof, in a private video's URLs, that the API let this reader
//! watch it. The stream servers check it without a database, as they check upload
//! grants. A grant names the video and an expiry; it is carried as the query parameter
//! [`QUERY_PARAM`] of every URL of the video's bytes (the MP4, the poster, each HLS
//! playlist and segment).

use crate::ids::VideoId;
use crate::signing::{SigningKey, TokenError};

/// The query parameter that carries a playback grant.
pub const QUERY_PARAM: &str = "grant";

const PREFIX: &str = "p1";

/// What a playback grant allows: reading the bytes of `video` until `expires_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaybackGrant {
    /// The video that may be watched.
    pub video: VideoId,
    /// Expiry in Unix milliseconds.
    pub expires_ms: i64,
}

impl PlaybackGrant {
    /// Signs the grant into a URL-safe token: `p1.<video>.<expiry>.<mac>`.
    pub fn sign(&self, key: &SigningKey) -> String {
        let (video, exp) = (self.video.to_string(), self.expires_ms.to_string());
        let sig = key.sign(&[PREFIX.as_bytes(), video.as_bytes(), exp.as_bytes()]);
        format!("{PREFIX}.{video}.{exp}.{sig}")
    }

    /// Checks a token's signature and expiry, and that it grants `video`.
    pub fn verify(
        token: &str,
        key: &SigningKey,
        video: VideoId,
        now_ms: i64,
    ) -> Result<Self, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let [PREFIX, v, exp, sig] = parts[..] else {
            return Err(TokenError::Malformed);
        };
        if !key.verify(&[PREFIX.as_bytes(), v.as_bytes(), exp.as_bytes()], sig) {
            return Err(TokenError::BadSignature);
        }
        let grant = Self {
            video: VideoId::parse(v).map_err(|_| TokenError::Malformed)?,
            expires_ms: exp.parse().map_err(|_| TokenError::Malformed)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::signing::UploadGrant;

    #[test]
    fn grants_verify_and_refuse_every_forgery() {
        let key = SigningKey::random();
        let g = PlaybackGrant {
            video: VideoId::random(),
            expires_ms: 10_000,
        };
        let token = g.sign(&key);
        assert_eq!(PlaybackGrant::verify(&token, &key, g.video, 9_999), Ok(g));
        assert_eq!(
            PlaybackGrant::verify(&token, &key, g.video, 10_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            PlaybackGrant::verify(&token, &key, VideoId::random(), 0),
            Err(TokenError::WrongVideo)
        );
        assert_eq!(
            PlaybackGrant::verify(&token, &SigningKey::random(), g.video, 0),
            Err(TokenError::BadSignature)
        );
        let longer = token.replace(".10000.", ".99999999.");
        assert_eq!(
            PlaybackGrant::verify(&longer, &key, g.video, 0),
            Err(TokenError::BadSignature)
        );
        let upload = UploadGrant {
            video: g.video,
            user: UserId::random(),
            expires_ms: 10_000,
            allowance: None,
        }
        .sign(&key);
        assert_eq!(
            PlaybackGrant::verify(&upload, &key, g.video, 0),
            Err(TokenError::Malformed),
            "an upload grant is no playback grant"
        );
    }
}

//! Media of inbound messages, fetched on first read: WhatsApp gives a media id, resolved with
//! the connection's token at the Graph API to a short-lived URL that is then downloaded with the
//! same token; Messenger, Instagram and TikTok give a URL. Downloads go through the platform's
//! vetted resolver (a payload signed with an organization's own app secret could name any URL),
//! are capped in size and checked against what the message says it is: its kind, the type the
//! platform declared and, where given, its SHA-256.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use platform::ssrf::{self, Policy, VettedResolver};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{quiet, Platform};
use crate::config::Config;

/// A downloaded file.
#[derive(Debug)]
pub struct Fetched {
    pub content_type: String,
    pub sha256: Vec<u8>,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum MediaError {
    /// The platform no longer has it (media ids and URLs expire).
    Gone(String),
    /// What came is not what the message says it is, or is too large.
    Mismatch(String),
    /// The platform could not be asked now.
    Unavailable(String),
}

#[derive(Clone)]
pub struct MediaClient {
    /// For the Graph API's own answers (its host is configuration, not payload).
    api: reqwest::Client,
    /// For URLs from payloads and answers: vetted addresses, no redirects, no proxy.
    download: reqwest::Client,
    policy: Arc<Policy>,
    graph: String,
    version: String,
    max_bytes: usize,
}

impl MediaClient {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let policy = Arc::new(Policy { allow: config.media_allow_cidrs.clone(), only_allowed: false });
        let api = reqwest::Client::builder().timeout(config.platform_timeout).no_proxy().build()?;
        let download = reqwest::Client::builder()
            .timeout(config.platform_timeout.max(Duration::from_secs(30)))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(VettedResolver { policy: policy.clone() }))
            .build()?;
        Ok(Self {
            api,
            download,
            policy,
            graph: config.meta_graph_url.clone(),
            version: config.meta_graph_version.clone(),
            max_bytes: config.media_max_bytes,
        })
    }

    /// Fetches the media of a message of kind `kind` (`image`, `video`, …) as `media` (the
    /// message's media reference) names it.
    pub async fn fetch(
        &self,
        platform: Platform,
        token: &SecretString,
        kind: &str,
        media: &Value,
    ) -> Result<Fetched, MediaError> {
        let declared_type = media["mime_type"].as_str().map(str::to_owned);
        let declared_sha = media["sha256"].as_str().map(str::to_owned);
        let (url, with_token, declared_type, declared_sha, declared_size) = match (platform, media["id"].as_str()) {
            (Platform::Whatsapp, Some(id)) => {
                let url = format!("{}/{}/{}", self.graph, self.version, id);
                let r = self
                    .api
                    .get(url)
                    .bearer_auth(token.expose_secret())
                    .send()
                    .await
                    .map_err(|e| MediaError::Unavailable(quiet(&e)))?;
                let status = r.status();
                let info = super::answer_json(r).await;
                if status.as_u16() == 404 || status.as_u16() == 400 {
                    return Err(MediaError::Gone(format!("WhatsApp answered {status} for the media id")));
                }
                if !status.is_success() {
                    return Err(MediaError::Unavailable(format!("WhatsApp answered {status}")));
                }
                let url = info["url"].as_str().ok_or_else(|| MediaError::Unavailable("no media URL".into()))?;
                let size = info["file_size"].as_u64().or_else(|| info["file_size"].as_str()?.parse().ok());
                let mime = info["mime_type"].as_str().map(str::to_owned).or(declared_type);
                let sha = info["sha256"].as_str().map(str::to_owned).or(declared_sha);
                (url.to_owned(), true, mime, sha, size)
            }
            _ => {
                let url = media["url"].as_str().ok_or_else(|| MediaError::Gone("the message names no media".into()))?;
                (url.to_owned(), false, declared_type, declared_sha, None)
            }
        };
        if declared_size.is_some_and(|s| s > self.max_bytes as u64) {
            return Err(MediaError::Mismatch(format!("larger than {} bytes", self.max_bytes)));
        }
        let url = reqwest::Url::parse(&url).map_err(|_| MediaError::Gone("the media URL is not valid".into()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(MediaError::Mismatch("the media URL is not http(s)".into()));
        }
        if let Some(ip) = ssrf::literal_ip(&url) {
            if let Err(kind) = self.policy.refusal(ip) {
                return Err(MediaError::Mismatch(format!("the media URL points to a {kind} address")));
            }
        }
        let mut request = self.download.get(url);
        if with_token {
            request = request.bearer_auth(token.expose_secret());
        }
        let mut r = request.send().await.map_err(|e| MediaError::Unavailable(quiet(&e)))?;
        let status = r.status();
        if matches!(status.as_u16(), 403 | 404 | 410) {
            return Err(MediaError::Gone(format!("the platform answered {status} for the file")));
        }
        if !status.is_success() {
            return Err(MediaError::Unavailable(format!("the platform answered {status} for the file")));
        }
        if r.content_length().is_some_and(|n| n > self.max_bytes as u64) {
            return Err(MediaError::Mismatch(format!("larger than {} bytes", self.max_bytes)));
        }
        let served_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| MediaError::Unavailable(quiet(&e)))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(MediaError::Mismatch(format!("larger than {} bytes", self.max_bytes)));
            }
            body.extend_from_slice(&chunk);
        }
        if declared_size.is_some_and(|s| s != body.len() as u64) {
            return Err(MediaError::Mismatch("the file is not the size the platform gave".into()));
        }
        let sha256 = Sha256::digest(&body).to_vec();
        if let Some(expected) = declared_sha {
            let hex = hex::encode(&sha256);
            let b64 = base64::engine::general_purpose::STANDARD.encode(&sha256);
            if !expected.eq_ignore_ascii_case(&hex) && expected != b64 {
                return Err(MediaError::Mismatch("the file does not match its SHA-256".into()));
            }
        }
        let declared = declared_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let content_type = declared
            .clone()
            .filter(|t| !t.is_empty())
            .or(served_type.clone())
            .unwrap_or_else(|| "application/octet-stream".into());
        if let (Some(d), Some(s)) = (&declared, &served_type) {
            if s != "application/octet-stream" && family(d) != family(s) {
                return Err(MediaError::Mismatch(format!("declared {d} but the file is {s}")));
            }
        }
        if !fits(kind, &content_type) {
            return Err(MediaError::Mismatch(format!("a {kind} message cannot carry {content_type}")));
        }
        Ok(Fetched { content_type, sha256, body })
    }
}

fn family(mime: &str) -> &str {
    mime.split('/').next().unwrap_or("")
}

/// Whether a file of `mime` may be the media of a message of `kind`.
fn fits(kind: &str, mime: &str) -> bool {
    match kind {
        "image" | "sticker" => family(mime) == "image",
        "video" => family(mime) == "video",
        "audio" => family(mime) == "audio",
        _ => mime.contains('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_only_its_kind_of_file() {
        assert!(fits("image", "image/jpeg"));
        assert!(fits("sticker", "image/webp"));
        assert!(!fits("image", "text/html"));
        assert!(!fits("audio", "video/mp4"));
        assert!(fits("file", "application/pdf"));
    }
}

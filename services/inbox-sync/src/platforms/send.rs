//! Sending through the platforms' APIs with a connection's (decrypted) token: WhatsApp Cloud
//! `/{phone_number_id}/messages`, Messenger and Instagram `/me/messages`. What came back
//! decides what happens next: an id (sent), try again (5xx, 429, no answer), a refused token
//! (the connection expires) or a refusal of the message (failed, never retried).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::Platform;
use crate::config::Config;

/// What to send.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(String),
    /// A WhatsApp template: `{name, language, parameters: [text…]}`.
    Template(Value),
    /// A file the platform fetches from `url`: `image`, `video`, `audio` or `file`.
    Media {
        kind: String,
        url: String,
        caption: Option<String>,
        filename: Option<String>,
    },
}

#[derive(Debug)]
pub enum SendError {
    /// Worth another attempt (after the platform's `Retry-After`, if it gave one).
    Retry { error: String, after: Option<Duration> },
    /// The platform refused the token: the connection needs the organization again.
    TokenRefused(String),
    /// The platform refused the message; its error, as given.
    Refused(Value),
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    graph: String,
    instagram: String,
    tiktok: String,
    version: String,
}

impl Api {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(config.platform_timeout).no_proxy().build()?;
        Ok(Self {
            http,
            graph: config.meta_graph_url.clone(),
            instagram: config.instagram_graph_url.clone(),
            tiktok: config.tiktok_business_api_url.clone(),
            version: config.meta_graph_version.clone(),
        })
    }

    /// Sends `what` to contact `to` from account `account`; the platform's message id (`None`
    /// when it took the message without one).
    pub async fn send(
        &self,
        platform: Platform,
        account: &str,
        token: &SecretString,
        to: &str,
        what: &Outgoing,
    ) -> Result<Option<String>, SendError> {
        let (url, body) = match platform {
            Platform::Whatsapp => {
                let body = match what {
                    Outgoing::Text(text) => json!({
                        "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                        "type": "text", "text": {"preview_url": false, "body": text}
                    }),
                    Outgoing::Template(t) => {
                        let parameters: Vec<Value> = t["parameters"]
                            .as_array()
                            .map(|p| p.iter().map(|v| json!({"type": "text", "text": v})).collect())
                            .unwrap_or_default();
                        let mut template = json!({"name": t["name"], "language": {"code": t["language"]}});
                        if !parameters.is_empty() {
                            template["components"] = json!([{"type": "body", "parameters": parameters}]);
                        }
                        json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": template})
                    }
                    Outgoing::Media { kind, url, caption, filename } => {
                        // WhatsApp calls a file a document; audio takes no caption.
                        let kind = if kind == "file" { "document" } else { kind.as_str() };
                        let mut media = json!({ "link": url });
                        if let Some(caption) = caption.as_ref().filter(|_| kind != "audio") {
                            media["caption"] = json!(caption);
                        }
                        if let Some(name) = filename.as_ref().filter(|_| kind == "document") {
                            media["filename"] = json!(name);
                        }
                        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                            "type": kind, kind: media})
                    }
                };
                (format!("{}/{}/{}/messages", self.graph, self.version, account), body)
            }
            Platform::Messenger | Platform::Instagram => {
                let message = match what {
                    Outgoing::Text(text) => json!({ "text": text }),
                    Outgoing::Media { kind, url, .. } => {
                        json!({"attachment": {"type": kind, "payload": {"url": url, "is_reusable": true}}})
                    }
                    Outgoing::Template(_) => {
                        return Err(SendError::Refused(json!({"message": "templates are WhatsApp's"})))
                    }
                };
                let base = if platform == Platform::Instagram { &self.instagram } else { &self.graph };
                let body = json!({"recipient": {"id": to}, "messaging_type": "RESPONSE", "message": message});
                (format!("{base}/{}/me/messages", self.version), body)
            }
            Platform::Tiktok => {
                let Outgoing::Text(text) = what else {
                    return Err(SendError::Refused(json!({"message": "TikTok replies are text"})));
                };
                return self.send_tiktok(account, token, to, text).await;
            }
        };
        let response = self.http.post(&url).bearer_auth(token.expose_secret()).json(&body).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) => return Err(SendError::Retry { error: format!("no answer from {platform}: {e}"), after: None }),
        };
        let status = response.status();
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        let answer = super::answer_json(response).await;
        if status.is_success() {
            let id = answer.pointer("/messages/0/id").or_else(|| answer.get("message_id")).and_then(Value::as_str);
            // Taken, but without an id to follow it by: sending again would send it twice.
            if id.is_none() {
                tracing::warn!(%platform, %status, "the platform took a message without giving its id");
            }
            return Ok(id.map(str::to_owned));
        }
        let error = answer.get("error").cloned().unwrap_or_else(|| json!({"status": status.as_u16()}));
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(SendError::Retry { error: format!("{platform} answered {status}: {error}"), after });
        }
        // Graph API: code 190 is an invalid or expired access token.
        if status.as_u16() == 401 || error.get("code").and_then(Value::as_i64) == Some(190) {
            return Err(SendError::TokenRefused(format!(
                "{platform} refused the access token: {}",
                message_of(&error)
            )));
        }
        Err(SendError::Refused(error))
    }

    /// TikTok Business Messaging: a text to conversation `conversation` of business `business`.
    /// TikTok answers 200 with its own `code`: 0 is success.
    async fn send_tiktok(
        &self,
        business: &str,
        token: &SecretString,
        conversation: &str,
        text: &str,
    ) -> Result<Option<String>, SendError> {
        let body = json!({
            "business_id": business, "recipient_type": "CONVERSATION", "recipient": conversation,
            "message_type": "TEXT", "text": {"body": text},
        });
        let url = format!("{}/open_api/v1.3/business/message/send/", self.tiktok);
        let response = self.http.post(url).header("Access-Token", token.expose_secret()).json(&body).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(SendError::Retry {
                    error: format!("no answer from TikTok: {}", super::quiet(&e)),
                    after: None,
                })
            }
        };
        let status = response.status();
        let answer = super::answer_json(response).await;
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(SendError::Retry { error: format!("TikTok answered {status}"), after: None });
        }
        match answer.get("code").and_then(Value::as_i64) {
            Some(0) if status.is_success() => {
                let id = answer.pointer("/data/message/message_id").or_else(|| answer.pointer("/data/message_id"));
                Ok(id.and_then(Value::as_str).map(str::to_owned))
            }
            // 401xx: the access token is invalid, expired or revoked.
            Some(code) if (40100..40200).contains(&code) => {
                Err(SendError::TokenRefused(format!("TikTok refused the access token: {}", message_of(&answer))))
            }
            // 5xxxx: TikTok's own failures.
            Some(code) if code >= 50000 => {
                Err(SendError::Retry { error: format!("TikTok code {code}: {}", message_of(&answer)), after: None })
            }
            _ => Err(SendError::Refused(answer)),
        }
    }

    /// Whether `token` can read WhatsApp phone number `phone_number_id`: its name if so, `None`
    /// if the Graph API refused; `Err` when it could not tell.
    pub async fn whatsapp_number(&self, phone_number_id: &str, token: &SecretString) -> Result<Option<String>, String> {
        let url = format!("{}/{}/{}", self.graph, self.version, phone_number_id);
        let response = self
            .http
            .get(url)
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| format!("Meta's Graph API did not answer: {e}"))?;
        let status = response.status();
        let body = super::answer_json(response).await;
        if status.is_success() {
            let name = body.get("verified_name").or_else(|| body.get("display_phone_number")).and_then(Value::as_str);
            return Ok(Some(name.unwrap_or(phone_number_id).to_owned()));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(format!("Meta's Graph API answered {status}; try again"));
        }
        Ok(None)
    }
}

fn message_of(error: &Value) -> String {
    error.get("message").and_then(Value::as_str).unwrap_or("no reason given").chars().take(300).collect()
}

//! The OAuth code flows of Messenger, Instagram and TikTok against the providers' endpoints:
//! the authorization URL, the code exchange, the long-lived exchange where the platform has one
//! (Facebook `fb_exchange_token`, Instagram `ig_exchange_token`), the accounts a grant covers
//! (a Facebook user's pages with their page tokens, the Instagram account, the TikTok business
//! account), and the refresh of expiring tokens (Instagram `ig_refresh_token`; TikTok's
//! `refresh_token`, which rotates). Tokens are only ever held as [`SecretString`]s here.

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::Platform;
use crate::config::Config;

/// A platform account a grant lets us connect, with its tokens.
#[derive(Debug)]
pub struct Account {
    pub account_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

/// New tokens from a refresh.
#[derive(Debug)]
pub struct Refreshed {
    pub access_token: SecretString,
    /// The rotated refresh token (TikTok); `None` where the platform has none (Instagram).
    pub refresh_token: Option<SecretString>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

/// Why a provider call did not give what was asked.
#[derive(Debug)]
pub enum OAuthError {
    /// The provider refused (a bad or used code, a revoked grant): the organization must
    /// authorize again. The provider's message, without any token.
    Refused(String),
    /// The provider did not answer usefully (5xx, 429, no answer): try again later.
    Unavailable(String),
    /// This platform is not configured here (no app id or secret).
    NotConfigured(&'static str),
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OAuthError::Refused(why) => write!(f, "the platform refused: {why}"),
            OAuthError::Unavailable(why) => write!(f, "the platform is unavailable: {why}"),
            OAuthError::NotConfigured(what) => write!(f, "{what} is not configured"),
        }
    }
}

#[derive(Clone)]
pub struct OAuth {
    http: reqwest::Client,
    graph: String,
    version: String,
    facebook_dialog: String,
    instagram_graph: String,
    instagram_api: String,
    instagram_dialog: String,
    tiktok_business: String,
    tiktok_dialog: String,
    meta_app_id: Option<String>,
    meta_app_secret: Option<SecretString>,
    tiktok_client_key: Option<String>,
    tiktok_client_secret: Option<SecretString>,
}

/// What each platform's grant asks for.
const FACEBOOK_SCOPES: &str = "pages_show_list,pages_messaging,pages_manage_metadata,business_management";
const INSTAGRAM_SCOPES: &str = "instagram_business_basic,instagram_business_manage_messages";
const TIKTOK_SCOPES: &str = "user.info.basic,message.list.read,message.list.send,message.list.manage";

impl OAuth {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(config.platform_timeout).no_proxy().build()?;
        Ok(Self {
            http,
            graph: config.meta_graph_url.clone(),
            version: config.meta_graph_version.clone(),
            facebook_dialog: config.facebook_dialog_url.clone(),
            instagram_graph: config.instagram_graph_url.clone(),
            instagram_api: config.instagram_api_url.clone(),
            instagram_dialog: config.instagram_dialog_url.clone(),
            tiktok_business: config.tiktok_business_api_url.clone(),
            tiktok_dialog: config.tiktok_dialog_url.clone(),
            meta_app_id: config.meta_app_id.clone(),
            meta_app_secret: config.meta_app_secret.clone(),
            tiktok_client_key: config.tiktok_client_key.clone(),
            tiktok_client_secret: config.tiktok_client_secret.clone(),
        })
    }

    fn meta(&self) -> Result<(&str, &SecretString), OAuthError> {
        match (&self.meta_app_id, &self.meta_app_secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(OAuthError::NotConfigured("Meta's app (META_APP_ID and META_APP_SECRET)")),
        }
    }

    fn tiktok(&self) -> Result<(&str, &SecretString), OAuthError> {
        match (&self.tiktok_client_key, &self.tiktok_client_secret) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(OAuthError::NotConfigured("TikTok's app (TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET)")),
        }
    }

    /// Where the organization's admin goes to grant access: the provider's consent page, which
    /// sends them back to `redirect_uri` with a code and `state`.
    pub fn authorize_url(&self, platform: Platform, redirect_uri: &str, state: &str) -> Result<String, OAuthError> {
        let (base, pairs): (String, Vec<(&str, &str)>) = match platform {
            Platform::Messenger => {
                let (id, _) = self.meta()?;
                (
                    format!("{}/{}/dialog/oauth", self.facebook_dialog, self.version),
                    vec![("client_id", id), ("scope", FACEBOOK_SCOPES)],
                )
            }
            Platform::Instagram => {
                let (id, _) = self.meta()?;
                (
                    format!("{}/oauth/authorize", self.instagram_dialog),
                    vec![("client_id", id), ("scope", INSTAGRAM_SCOPES)],
                )
            }
            Platform::Tiktok => {
                let (key, _) = self.tiktok()?;
                (
                    format!("{}/v2/auth/authorize/", self.tiktok_dialog),
                    vec![("client_key", key), ("scope", TIKTOK_SCOPES)],
                )
            }
            Platform::Whatsapp => return Err(OAuthError::NotConfigured("an OAuth flow for WhatsApp")),
        };
        let mut url = reqwest::Url::parse(&base).map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        url.query_pairs_mut()
            .extend_pairs(pairs)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state);
        Ok(url.into())
    }

    /// Exchanges an authorization code for the accounts it grants, with long-lived tokens.
    pub async fn connect(
        &self,
        platform: Platform,
        code: &str,
        redirect_uri: &str,
    ) -> Result<Vec<Account>, OAuthError> {
        match platform {
            Platform::Messenger => self.facebook_pages(code, redirect_uri).await,
            Platform::Instagram => self.instagram_account(code, redirect_uri).await.map(|a| vec![a]),
            Platform::Tiktok => self.tiktok_account(code, redirect_uri).await.map(|a| vec![a]),
            Platform::Whatsapp => Err(OAuthError::NotConfigured("an OAuth flow for WhatsApp")),
        }
    }

    async fn facebook_pages(&self, code: &str, redirect_uri: &str) -> Result<Vec<Account>, OAuthError> {
        let (id, secret) = self.meta()?;
        let url = format!("{}/{}/oauth/access_token", self.graph, self.version);
        let short = self
            .call(self.http.get(&url).query(&[
                ("client_id", id),
                ("client_secret", secret.expose_secret()),
                ("redirect_uri", redirect_uri),
                ("code", code),
            ]))
            .await?;
        let short = token(&short, "access_token")?;
        let long = self
            .call(self.http.get(&url).query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", id),
                ("client_secret", secret.expose_secret()),
                ("fb_exchange_token", short.expose_secret()),
            ]))
            .await?;
        let user = token(&long, "access_token")?;
        let pages = self
            .call(
                self.http
                    .get(format!("{}/{}/me/accounts", self.graph, self.version))
                    .query(&[("fields", "id,name,access_token,username")])
                    .bearer_auth(user.expose_secret()),
            )
            .await?;
        let mut accounts = Vec::new();
        for page in pages["data"].as_array().into_iter().flatten() {
            let (Some(page_id), Some(page_token)) = (page["id"].as_str(), page["access_token"].as_str()) else {
                continue;
            };
            // Page tokens of a long-lived user token do not expire while the grant stands.
            accounts.push(Account {
                account_id: page_id.to_owned(),
                username: page["username"].as_str().map(str::to_owned),
                display_name: page["name"].as_str().map(str::to_owned),
                access_token: SecretString::from(page_token.to_owned()),
                refresh_token: None,
                token_expires_at: None,
                refresh_expires_at: None,
            });
        }
        if accounts.is_empty() {
            return Err(OAuthError::Refused("the grant covers no Facebook page".into()));
        }
        Ok(accounts)
    }

    /// Subscribes our app to a page's messaging webhooks (without it, Meta sends nothing).
    pub async fn subscribe_page(&self, page_id: &str, page_token: &SecretString) -> Result<(), OAuthError> {
        self.call(
            self.http
                .post(format!("{}/{}/{}/subscribed_apps", self.graph, self.version, page_id))
                .query(&[("subscribed_fields", "messages,message_echoes,message_deliveries,message_reads")])
                .bearer_auth(page_token.expose_secret()),
        )
        .await
        .map(|_| ())
    }

    async fn instagram_account(&self, code: &str, redirect_uri: &str) -> Result<Account, OAuthError> {
        let (id, secret) = self.meta()?;
        let short = self
            .call(self.http.post(format!("{}/oauth/access_token", self.instagram_api)).form(&[
                ("client_id", id),
                ("client_secret", secret.expose_secret()),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect_uri),
                ("code", code),
            ]))
            .await?;
        let short = token(&short, "access_token")?;
        let long = self
            .call(self.http.get(format!("{}/access_token", self.instagram_graph)).query(&[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", secret.expose_secret()),
                ("access_token", short.expose_secret()),
            ]))
            .await?;
        let access = token(&long, "access_token")?;
        let me = self
            .call(
                self.http
                    .get(format!("{}/{}/me", self.instagram_graph, self.version))
                    .query(&[("fields", "user_id,username,name")])
                    .bearer_auth(access.expose_secret()),
            )
            .await?;
        // `user_id` is the professional account's id, the one webhooks name.
        let account_id = me["user_id"].as_str().or_else(|| me["id"].as_str()).map(str::to_owned);
        let account_id = account_id.ok_or_else(|| OAuthError::Unavailable("Instagram gave no account id".into()))?;
        Ok(Account {
            account_id,
            username: me["username"].as_str().map(str::to_owned),
            display_name: me["name"].as_str().map(str::to_owned),
            token_expires_at: expires(&long, "expires_in"),
            access_token: access,
            refresh_token: None,
            refresh_expires_at: None,
        })
    }

    async fn tiktok_account(&self, code: &str, redirect_uri: &str) -> Result<Account, OAuthError> {
        let (key, secret) = self.tiktok()?;
        let answer = self
            .call(self.http.post(format!("{}/open_api/v1.3/tt_user/oauth2/token/", self.tiktok_business)).json(
                &json!({
                    "client_id": key, "client_secret": secret.expose_secret(), "grant_type": "authorization_code",
                    "auth_code": code, "redirect_uri": redirect_uri,
                }),
            ))
            .await?;
        let data = tiktok_data(&answer)?;
        let open_id =
            data["open_id"].as_str().ok_or_else(|| OAuthError::Unavailable("TikTok gave no open_id".into()))?;
        Ok(Account {
            account_id: open_id.to_owned(),
            username: data["display_name"].as_str().map(str::to_owned),
            display_name: data["display_name"].as_str().map(str::to_owned),
            access_token: token(data, "access_token")?,
            refresh_token: Some(token(data, "refresh_token")?),
            token_expires_at: expires(data, "expires_in"),
            refresh_expires_at: expires(data, "refresh_token_expires_in")
                .or_else(|| expires(data, "refresh_expires_in")),
        })
    }

    /// New tokens for a connection whose access token expires soon: Instagram refreshes the
    /// long-lived token itself, TikTok spends the refresh token and hands out a new one.
    pub async fn refresh(
        &self,
        platform: Platform,
        access: &SecretString,
        refresh: Option<&SecretString>,
    ) -> Result<Refreshed, OAuthError> {
        match platform {
            Platform::Instagram => {
                let answer = self
                    .call(
                        self.http
                            .get(format!("{}/refresh_access_token", self.instagram_graph))
                            .query(&[("grant_type", "ig_refresh_token"), ("access_token", access.expose_secret())]),
                    )
                    .await?;
                Ok(Refreshed {
                    access_token: token(&answer, "access_token")?,
                    refresh_token: None,
                    token_expires_at: expires(&answer, "expires_in"),
                    refresh_expires_at: None,
                })
            }
            Platform::Tiktok => {
                let (key, secret) = self.tiktok()?;
                let refresh = refresh.ok_or_else(|| OAuthError::Refused("no refresh token is stored".into()))?;
                let answer = self
                    .call(
                        self.http
                            .post(format!("{}/open_api/v1.3/tt_user/oauth2/refresh_token/", self.tiktok_business))
                            .json(&json!({
                                "client_id": key, "client_secret": secret.expose_secret(),
                                "grant_type": "refresh_token", "refresh_token": refresh.expose_secret(),
                            })),
                    )
                    .await?;
                let data = tiktok_data(&answer)?;
                Ok(Refreshed {
                    access_token: token(data, "access_token")?,
                    refresh_token: Some(token(data, "refresh_token")?),
                    token_expires_at: expires(data, "expires_in"),
                    refresh_expires_at: expires(data, "refresh_token_expires_in")
                        .or_else(|| expires(data, "refresh_expires_in")),
                })
            }
            _ => Err(OAuthError::NotConfigured("a token refresh for this platform")),
        }
    }

    /// Sends a provider request; its JSON body on success. 4xx is a refusal (with the
    /// provider's message), 5xx, 429 and no answer are unavailability.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, OAuthError> {
        let response = request.send().await.map_err(|e| OAuthError::Unavailable(super::quiet(&e)))?;
        let status = response.status();
        let body = super::answer_json(response).await;
        if status.is_success() {
            return Ok(body);
        }
        let why = body
            .pointer("/error/message")
            .or_else(|| body.get("error_description"))
            .or_else(|| body.get("error_message"))
            .or_else(|| body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        let why = format!("{status}: {}", why.chars().take(300).collect::<String>());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(OAuthError::Unavailable(why))
        } else {
            Err(OAuthError::Refused(why))
        }
    }
}

/// TikTok Business answers 200 with `code` 0 on success and its own code otherwise.
fn tiktok_data(answer: &Value) -> Result<&Value, OAuthError> {
    match answer.get("code").and_then(Value::as_i64) {
        Some(0) | None => Ok(answer.get("data").unwrap_or(answer)),
        Some(code) => {
            let message = answer["message"].as_str().unwrap_or("no reason given");
            Err(OAuthError::Refused(format!("TikTok code {code}: {}", message.chars().take(300).collect::<String>())))
        }
    }
}

fn token(body: &Value, field: &str) -> Result<SecretString, OAuthError> {
    body[field]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_owned()))
        .ok_or_else(|| OAuthError::Unavailable(format!("the answer has no {field}")))
}

fn expires(body: &Value, field: &str) -> Option<DateTime<Utc>> {
    let seconds = body[field].as_i64().or_else(|| body[field].as_str().and_then(|s| s.parse().ok()))?;
    (seconds > 0).then(|| Utc::now() + TimeDelta::seconds(seconds))
}

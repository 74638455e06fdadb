//! Who is calling: the [`Principal`], its cache, and the revocation broadcast that keeps every
//! replica's cache honest.
//!
//! Credentials are resolved by an [`Authenticator`] (identity's gRPC `Authenticate` in other
//! services, the database in identity itself) behind a TTL cache keyed by the credential's
//! SHA-256. Identity broadcasts revocations on core NATS (`internal.auth.revoked`); every replica
//! evicts at once. Core NATS is best effort, so the TTL bounds staleness if a broadcast is lost.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bus::Bus;
use crate::error::Problem;

/// Subject (unprefixed) of revocation broadcasts.
pub const REVOCATION_SUBJECT: &str = "internal.auth.revoked";

/// A member's role in an organization, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Agent,
    Manager,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::Manager => "manager",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "agent" => Ok(Self::Agent),
            "manager" => Ok(Self::Manager),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    ApiKey,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// `None` for API keys, which act for the organization.
    pub user_id: Option<Uuid>,
    pub org_id: Uuid,
    pub org_slug: String,
    pub role: Role,
    pub scopes: Vec<String>,
    pub kind: CredentialKind,
    /// The session or API key.
    pub credential_id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    /// The organization's subscription status as billing last said (`None` when it has not):
    /// `canceled` and `unpaid` organizations read but do not write.
    pub subscription_status: Option<String>,
}

impl Principal {
    /// 403 unless the caller's role is at least `min`.
    pub fn require_role(&self, min: Role) -> Result<(), Problem> {
        if self.role >= min {
            Ok(())
        } else {
            Err(Problem::forbidden(format!("this requires the {} role or higher", min.as_str())))
        }
    }

    /// Sessions carry every scope of their role; API keys only those they were given.
    pub fn has_scope(&self, scope: &str) -> bool {
        match self.kind {
            CredentialKind::Session => true,
            CredentialKind::ApiKey => self.scopes.iter().any(|s| {
                s == "*" || s == scope || s.strip_suffix(":*").is_some_and(|p| scope.split(':').next() == Some(p))
            }),
        }
    }

    /// 403 unless the caller has `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), Problem> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!("this API key lacks the {scope} scope")))
        }
    }

    /// 403 unless the caller is a signed-in user (not an API key).
    pub fn require_user(&self) -> Result<Uuid, Problem> {
        self.user_id.ok_or_else(|| Problem::forbidden("this requires a user session, not an API key"))
    }
}

/// Why a credential was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid credential")]
    Invalid,
    #[error("authentication unavailable: {0}")]
    Unavailable(anyhow::Error),
}

impl From<AuthFailure> for Problem {
    fn from(f: AuthFailure) -> Self {
        match f {
            AuthFailure::Invalid => Problem::unauthorized(),
            AuthFailure::Unavailable(err) => {
                tracing::error!(error = %err, "authentication unavailable");
                Problem::unavailable("authentication is unavailable, try again shortly").retry_after(1)
            }
        }
    }
}

/// Resolves a credential to a principal.
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Principal, AuthFailure>>;
}

/// SHA-256 of a credential: the form in which it is stored, cached and revoked.
pub fn credential_hash(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

/// A revocation broadcast: these credentials, or every credential of these users or keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Revocation {
    /// Hex SHA-256 of revoked credentials.
    #[serde(default)]
    pub credential_hashes: Vec<String>,
    /// Users whose every session is revoked.
    #[serde(default)]
    pub user_ids: Vec<Uuid>,
    /// Sessions or API keys revoked by id.
    #[serde(default)]
    pub credential_ids: Vec<Uuid>,
    /// Users whose profile changed (name, verification, memberships): credentials stay valid,
    /// cached views of them do not.
    #[serde(default)]
    pub changed_users: Vec<Uuid>,
    /// Organizations whose details changed: cached views naming them are stale.
    #[serde(default)]
    pub changed_orgs: Vec<Uuid>,
}

/// Called with every revocation this replica learns of, after its own cache has evicted.
pub type RevocationHook = Arc<dyn Fn(&Revocation) + Send + Sync>;

const MAX_CACHED: usize = 100_000;

struct Entry {
    principal: Principal,
    valid_until: Instant,
}

struct Inner {
    backend: Arc<dyn Authenticator>,
    cache: Mutex<HashMap<[u8; 32], Entry>>,
    /// Bumped by every revocation, so a lookup that raced one is not cached.
    generation: AtomicU64,
    ttl: Duration,
    hook: Option<RevocationHook>,
}

/// Authenticates with a TTL cache invalidated by revocation broadcasts.
#[derive(Clone)]
pub struct AuthClient {
    inner: Arc<Inner>,
}

impl AuthClient {
    pub fn new(backend: Arc<dyn Authenticator>, ttl: Duration) -> Self {
        Self::build(backend, ttl, None)
    }

    /// Like [`AuthClient::new`], also calling `hook` on every revocation (local or broadcast),
    /// for a service's own caches that depend on the same facts.
    pub fn with_hook(backend: Arc<dyn Authenticator>, ttl: Duration, hook: RevocationHook) -> Self {
        Self::build(backend, ttl, Some(hook))
    }

    fn build(backend: Arc<dyn Authenticator>, ttl: Duration, hook: Option<RevocationHook>) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                cache: Mutex::new(HashMap::new()),
                generation: AtomicU64::new(0),
                ttl,
                hook,
            }),
        }
    }

    /// The cache lifetime: also the bound on staleness of caches invalidated alongside it.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// The principal of `credential`, from the cache when fresh.
    pub async fn authenticate(&self, credential: &str) -> Result<Principal, AuthFailure> {
        let key = credential_hash(credential);
        let now = Instant::now();
        if let Some(entry) = self.cache().get(&key) {
            if entry.valid_until > now {
                return Ok(entry.principal.clone());
            }
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let principal = self.inner.backend.authenticate(credential).await?;
        let mut valid_until = now + self.inner.ttl;
        if let Some(exp) = principal.expires_at {
            let left = (exp - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            valid_until = valid_until.min(now + left);
        }
        let mut cache = self.cache();
        if self.inner.generation.load(Ordering::Acquire) == generation && !self.inner.ttl.is_zero() {
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, e| e.valid_until > now);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(key, Entry { principal: principal.clone(), valid_until });
        }
        Ok(principal)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops what `revocation` names from this replica's cache.
    pub fn evict(&self, revocation: &Revocation) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.evict_principals(revocation);
        if let Some(hook) = &self.inner.hook {
            hook(revocation);
        }
    }

    fn evict_principals(&self, revocation: &Revocation) {
        let mut cache = self.cache();
        for h in &revocation.credential_hashes {
            let mut key = [0u8; 32];
            if hex::decode_to_slice(h, &mut key).is_ok() {
                cache.remove(&key);
            }
        }
        if !revocation.user_ids.is_empty()
            || !revocation.credential_ids.is_empty()
            || !revocation.changed_orgs.is_empty()
        {
            // An organization's change (its subscription's status) is part of every principal of it.
            cache.retain(|_, e| {
                !e.principal.user_id.is_some_and(|u| revocation.user_ids.contains(&u))
                    && !revocation.credential_ids.contains(&e.principal.credential_id)
                    && !revocation.changed_orgs.contains(&e.principal.org_id)
            });
        }
    }

    /// Listens for revocation broadcasts until `shutdown`, resubscribing after failures.
    pub fn listen(&self, bus: Bus, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let subject = bus.subject(REVOCATION_SUBJECT);
            while !shutdown.is_cancelled() {
                let mut sub = match bus.client.subscribe(subject.clone()).await {
                    Ok(s) => s,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot subscribe to revocations; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        msg = sub.next() => match msg {
                            Some(msg) => match serde_json::from_slice::<Revocation>(&msg.payload) {
                                Ok(r) => this.evict(&r),
                                Err(err) => tracing::warn!(error = %err, "malformed revocation ignored"),
                            },
                            None => break,
                        }
                    }
                }
                // The subscription ended (connection closed or reset): never spin on it.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }
}

/// Tells every replica of every service to forget these credentials now.
pub async fn broadcast_revocation(bus: &Bus, revocation: &Revocation) -> anyhow::Result<()> {
    let payload = serde_json::to_vec(revocation)?;
    bus.client.publish(bus.subject(REVOCATION_SUBJECT), payload.into()).await?;
    bus.client.flush().await?;
    Ok(())
}

/// The bearer credential of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_of(&parts.headers)
}

/// The bearer credential in `headers`, if any.
pub fn bearer_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

impl<S> FromRequestParts<S> for Principal
where
    AuthClient: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Unrestricted(principal) = Unrestricted::from_request_parts(parts, state).await?;
        if !parts.method.is_safe() && principal.subscription_inactive() {
            return Err(Problem::new(
                http::StatusCode::PAYMENT_REQUIRED,
                "subscription-inactive",
                "Subscription inactive",
            )
            .detail(format!(
                "the organization's subscription is {}: it can read, and its owner can choose a plan \
                 (PUT /v1/billing/subscription), but nothing else can be changed",
                principal.subscription_status.as_deref().unwrap_or("inactive")
            )));
        }
        Ok(principal)
    }
}

impl Principal {
    /// A `canceled` or `unpaid` organization: it reads, it does not write.
    pub fn subscription_inactive(&self) -> bool {
        matches!(self.subscription_status.as_deref(), Some("canceled" | "unpaid"))
    }
}

/// A principal whose organization may write whatever its subscription's status: for the few
/// requests an inactive organization must still make (choosing a plan, signing out).
#[derive(Debug, Clone)]
pub struct Unrestricted(pub Principal);

impl<S> FromRequestParts<S> for Unrestricted
where
    AuthClient: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The idempotency layer may have authenticated this request already.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Unrestricted(principal.clone()));
        }
        let client = AuthClient::from_ref(state);
        let credential = bearer(parts).ok_or_else(Problem::unauthorized)?;
        let principal = client.authenticate(credential).await?;
        tracing::Span::current().record("org_id", tracing::field::display(principal.org_id));
        Ok(Unrestricted(principal))
    }
}

use axum::extract::FromRef;

/// Authenticates through identity's gRPC `Authenticate`.
pub struct GrpcAuthenticator {
    client: proto::identity::identity_client::IdentityClient<tonic::transport::Channel>,
    token: crate::grpc::ServiceToken,
}

impl GrpcAuthenticator {
    /// Connects lazily: the service starts while identity is down, and fails closed meanwhile.
    pub fn new(url: &str, token: crate::grpc::ServiceToken) -> anyhow::Result<Self> {
        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self { client: proto::identity::identity_client::IdentityClient::new(channel), token })
    }
}

impl Authenticator for GrpcAuthenticator {
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Principal, AuthFailure>> {
        Box::pin(async move {
            let mut request =
                tonic::Request::new(proto::identity::AuthenticateRequest { credential: credential.to_owned() });
            crate::grpc::inject_trace(&mut request);
            self.token.attach(&mut request);
            let reply = self.client.clone().authenticate(request).await;
            match reply {
                Ok(p) => principal_from_proto(p.into_inner()).map_err(AuthFailure::Unavailable),
                Err(status) if status.code() == tonic::Code::Unauthenticated => Err(AuthFailure::Invalid),
                Err(status) => Err(AuthFailure::Unavailable(anyhow::anyhow!("identity answered {status}"))),
            }
        })
    }
}

/// The wire form of a principal.
pub fn principal_to_proto(p: &Principal) -> proto::identity::Principal {
    use proto::identity::CredentialKind as K;
    proto::identity::Principal {
        user_id: p.user_id.map(|u| u.to_string()).unwrap_or_default(),
        organization_id: p.org_id.to_string(),
        organization_slug: p.org_slug.clone(),
        role: p.role.as_str().to_owned(),
        scopes: p.scopes.clone(),
        kind: match p.kind {
            CredentialKind::Session => K::Session as i32,
            CredentialKind::ApiKey => K::ApiKey as i32,
        },
        credential_id: p.credential_id.to_string(),
        expires_at: p.expires_at.map(|t| t.timestamp()).unwrap_or(0),
        subscription_status: p.subscription_status.clone().unwrap_or_default(),
    }
}

/// Parses the wire form of a principal.
pub fn principal_from_proto(p: proto::identity::Principal) -> anyhow::Result<Principal> {
    use proto::identity::CredentialKind as K;
    Ok(Principal {
        user_id: if p.user_id.is_empty() { None } else { Some(p.user_id.parse()?) },
        org_id: p.organization_id.parse()?,
        org_slug: p.organization_slug,
        role: p.role.parse().map_err(anyhow::Error::msg)?,
        scopes: p.scopes,
        kind: if p.kind == K::ApiKey as i32 { CredentialKind::ApiKey } else { CredentialKind::Session },
        credential_id: p.credential_id.parse()?,
        expires_at: if p.expires_at == 0 { None } else { DateTime::from_timestamp(p.expires_at, 0) },
        subscription_status: Some(p.subscription_status).filter(|s| !s.is_empty()),
    })
}

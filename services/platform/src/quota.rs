//! Plan limits: billing-metrics' `CheckQuota` before a create, shared by every service that
//! creates what a plan limits. It fails open: a quota service that does not answer within the
//! timeout must not stop customers from working.

use std::time::Duration;

use crate::grpc::ServiceToken;
use proto::billing::billing_client::BillingClient;
use proto::billing::{CheckQuotaRequest, GetEntitlementsRequest};
use uuid::Uuid;

pub struct Quota {
    client: Option<BillingClient<tonic::transport::Channel>>,
    timeout: Duration,
    token: ServiceToken,
}

/// What the check came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Exceeded { used: i64, limit: i64, plan: String },
}

impl Quota {
    pub fn new(url: Option<&str>, timeout: Duration, token: ServiceToken) -> anyhow::Result<Self> {
        let client = match url {
            Some(u) => Some(BillingClient::new(
                tonic::transport::Endpoint::from_shared(u.to_owned())?.connect_timeout(timeout).connect_lazy(),
            )),
            None => None,
        };
        Ok(Self { client, timeout, token })
    }

    /// May `org` use `amount` more of `metric`? Allowed when unconfigured, slow or failing.
    pub async fn check(&self, org: Uuid, metric: &str, amount: i64) -> Verdict {
        let Some(client) = &self.client else { return Verdict::Allowed };
        let mut request = tonic::Request::new(CheckQuotaRequest {
            organization_id: org.to_string(),
            metric: metric.to_owned(),
            amount,
        });
        self.token.attach(&mut request);
        crate::grpc::inject_trace(&mut request);
        match tokio::time::timeout(self.timeout, client.clone().check_quota(request)).await {
            Ok(Ok(reply)) => {
                let r = reply.into_inner();
                if r.allowed {
                    Verdict::Allowed
                } else {
                    Verdict::Exceeded { used: r.used, limit: r.limit, plan: r.plan }
                }
            }
            Ok(Err(status)) => {
                tracing::warn!(%org, metric, %status, "quota check failed; allowing");
                Verdict::Allowed
            }
            Err(_) => {
                tracing::warn!(%org, metric, "quota check timed out; allowing");
                Verdict::Allowed
            }
        }
    }

    /// [`Quota::check`] for one more `what` (`"posts"`): a 402 `quota-exceeded` naming the
    /// plan, the metric and the figures when the plan refuses.
    pub async fn require(&self, org: Uuid, metric: &str, what: &str) -> Result<(), crate::Problem> {
        match self.check(org, metric, 1).await {
            Verdict::Allowed => Ok(()),
            Verdict::Exceeded { used, limit, plan } => {
                Err(crate::Problem::new(http::StatusCode::PAYMENT_REQUIRED, "quota-exceeded", "Plan limit reached")
                    .detail(format!("the {plan} plan allows {limit} {what} (metric {metric}); {used} are used")))
            }
        }
    }

    /// What `org`'s plan entitles it to, as billing-metrics says; `None` when billing is not
    /// configured, slow or failing (callers keep what they knew, or their defaults).
    pub async fn entitlements(&self, org: Uuid) -> Option<Entitlements> {
        let client = self.client.as_ref()?;
        let mut request = tonic::Request::new(GetEntitlementsRequest { organization_id: org.to_string() });
        self.token.attach(&mut request);
        crate::grpc::inject_trace(&mut request);
        match tokio::time::timeout(self.timeout, client.clone().get_entitlements(request)).await {
            Ok(Ok(reply)) => {
                let r = reply.into_inner();
                Some(Entitlements { plan: r.plan, status: r.status, numbers: r.numbers, flags: r.flags })
            }
            Ok(Err(status)) => {
                tracing::warn!(%org, %status, "entitlements unavailable");
                None
            }
            Err(_) => {
                tracing::warn!(%org, "entitlements timed out");
                None
            }
        }
    }
}

/// A plan's value entitlements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    pub plan: String,
    pub status: String,
    /// `-1` is unlimited.
    pub numbers: std::collections::HashMap<String, i64>,
    pub flags: std::collections::HashMap<String, bool>,
}

//! billing-metrics' gRPC server: `CheckQuota` and `GetEntitlements`, for our own services only
//! (every call carries the service token), answered from the ledger in memory.

use platform::grpc::ServiceToken;
use proto::billing as pb;
use proto::billing::billing_server::{Billing, BillingServer};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::AppState;

pub const SERVICE_NAME: &str = "switchboard.billing.v1.Billing";

pub fn routes(state: AppState, token: &ServiceToken) -> tonic::service::Routes {
    tonic::service::Routes::new(BillingServer::with_interceptor(BillingGrpc { state }, token.interceptor()))
}

pub struct BillingGrpc {
    state: AppState,
}

fn org_of(raw: &str) -> Result<Uuid, Status> {
    raw.parse().map_err(|_| Status::invalid_argument("organization_id is not a UUID"))
}

fn internal(err: impl std::fmt::Display) -> Status {
    tracing::error!(error = %err, "gRPC handler failed");
    Status::unavailable("billing cannot answer now")
}

#[tonic::async_trait]
impl Billing for BillingGrpc {
    async fn check_quota(
        &self,
        request: Request<pb::CheckQuotaRequest>,
    ) -> Result<Response<pb::CheckQuotaResponse>, Status> {
        let r = request.into_inner();
        let org = org_of(&r.organization_id)?;
        if r.metric.is_empty() || r.metric.len() > 64 {
            return Err(Status::invalid_argument("metric is 1 to 64 characters"));
        }
        if r.amount < 0 {
            return Err(Status::invalid_argument("amount is not negative"));
        }
        let (answer, plan) = self.state.ledger.check(org, &r.metric, r.amount).await.map_err(internal)?;
        Ok(Response::new(pb::CheckQuotaResponse {
            allowed: answer.allowed,
            used: answer.used,
            limit: answer.limit,
            plan,
        }))
    }

    async fn get_entitlements(
        &self,
        request: Request<pb::GetEntitlementsRequest>,
    ) -> Result<Response<pb::GetEntitlementsResponse>, Status> {
        let org = org_of(&request.into_inner().organization_id)?;
        let s = self.state.ledger.standing(org).await.map_err(internal)?;
        let limits = crate::plans::COUNTERS
            .iter()
            .chain(crate::plans::GAUGES.iter())
            .map(|m| {
                let l = s.plan.limit(m);
                ((*m).to_owned(), pb::MetricLimit { limit: l.limit, hard: l.hard })
            })
            .collect();
        Ok(Response::new(pb::GetEntitlementsResponse {
            plan: s.plan.name.clone(),
            status: s.status,
            limits,
            numbers: s.plan.numbers.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            flags: s.plan.flags.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }))
    }
}

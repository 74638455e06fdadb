//! `CheckQuota(org, "tickets", 1)` before a create: a refusal is 402, silence allows (fail open).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app_with};

/// billing-metrics' contract, answered by a stand-in until that service exists.
struct FullPlan;

#[tonic::async_trait]
impl proto::billing::billing_server::Billing for FullPlan {
    async fn check_quota(
        &self,
        request: tonic::Request<proto::billing::CheckQuotaRequest>,
    ) -> Result<tonic::Response<proto::billing::CheckQuotaResponse>, tonic::Status> {
        let auth = request.metadata().get("authorization").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(auth.as_deref(), Some("Bearer switchboard-development-service-token"));
        let r = request.into_inner();
        assert_eq!(r.metric, "tickets");
        assert_eq!(r.amount, 1);
        Ok(tonic::Response::new(proto::billing::CheckQuotaResponse {
            allowed: false,
            used: 50,
            limit: 50,
            plan: "free".into(),
        }))
    }

    async fn get_entitlements(
        &self,
        _request: tonic::Request<proto::billing::GetEntitlementsRequest>,
    ) -> Result<tonic::Response<proto::billing::GetEntitlementsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not asked in this test"))
    }
}

#[tokio::test]
async fn a_full_plan_refuses_new_tickets_and_an_absent_billing_allows_them() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(proto::billing::billing_server::BillingServer::new(FullPlan))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let url = format!("http://{addr}");
    let app = spawn_app_with(&[("BILLING_GRPC_URL", url.as_str()), ("QUOTA_TIMEOUT_SECS", "2")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app.post("/v1/tickets", &json!({"subject": "One too many"}), &owner.token).await;
    let body = assert_problem(r, StatusCode::PAYMENT_REQUIRED).await;
    assert!(body["type"].as_str().unwrap().ends_with("quota-exceeded"));
    assert_eq!(body["detail"], "the free plan allows 50 tickets a month (metric tickets); 50 are used");
    assert!(app.get_json("/v1/tickets", &owner.token).await["data"].as_array().unwrap().is_empty());
    app.stop().await;

    // Nothing listens there: the create goes ahead.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(&[("BILLING_GRPC_URL", dead.as_str()), ("QUOTA_TIMEOUT_SECS", "1")]).await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app.post("/v1/tickets", &json!({"subject": "Fine"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

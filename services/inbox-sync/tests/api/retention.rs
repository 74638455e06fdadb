//! Messages are kept as long as each organization's plan says (`history_days`, asked of
//! billing-metrics; a plan may keep everything), the free plan's 30 days when billing cannot
//! say, and a reply still waiting to go out is never pruned.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::*;

/// billing-metrics' contract, answered by a stand-in until that service exists: each
/// organization's `history_days`; organizations it has no answer for are an error.
#[derive(Clone, Default)]
struct Plans(std::sync::Arc<Mutex<HashMap<String, (String, i64)>>>);

#[tonic::async_trait]
impl proto::billing::billing_server::Billing for Plans {
    async fn check_quota(
        &self,
        request: tonic::Request<proto::billing::CheckQuotaRequest>,
    ) -> Result<tonic::Response<proto::billing::CheckQuotaResponse>, tonic::Status> {
        let r = request.into_inner();
        Ok(tonic::Response::new(proto::billing::CheckQuotaResponse {
            allowed: true,
            used: 0,
            limit: -1,
            plan: r.metric,
        }))
    }

    async fn get_entitlements(
        &self,
        request: tonic::Request<proto::billing::GetEntitlementsRequest>,
    ) -> Result<tonic::Response<proto::billing::GetEntitlementsResponse>, tonic::Status> {
        let auth = request.metadata().get("authorization").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(auth.as_deref(), Some("Bearer switchboard-development-service-token"));
        let org = request.into_inner().organization_id;
        let Some((plan, days)) = self.0.lock().unwrap().get(&org).cloned() else {
            return Err(tonic::Status::unavailable("billing is restarting"));
        };
        Ok(tonic::Response::new(proto::billing::GetEntitlementsResponse {
            plan,
            status: "active".into(),
            numbers: HashMap::from([("history_days".to_owned(), days)]),
            ..Default::default()
        }))
    }
}

/// A conversation of `org` on `connection` with messages of the given ages (days), and one
/// reply 200 days old still pending.
async fn history(app: &TestApp, org: &str, connection: &str, ages: &[i64]) {
    let (org, connection): (Uuid, Uuid) = (org.parse().unwrap(), connection.parse().unwrap());
    let conversation = Uuid::now_v7();
    sqlx::query("INSERT INTO conversations (id, organization_id, connection_id, platform, external_id) VALUES ($1, $2, $3, 'whatsapp', $4)")
        .bind(conversation)
        .bind(org)
        .bind(connection)
        .bind(format!("contact-{conversation}"))
        .execute(&app.pool)
        .await
        .unwrap();
    for (i, age) in ages.iter().enumerate() {
        sqlx::query(
            "INSERT INTO messages (id, organization_id, conversation_id, connection_id, external_id, direction, content_type, \
               content, status, status_rank, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'inbound', 'text', $6, 'delivered', 2, now() - make_interval(days => $7::int))",
        )
        .bind(Uuid::now_v7())
        .bind(org)
        .bind(conversation)
        .bind(connection)
        .bind(format!("wamid.{conversation}.{i}"))
        .bind(format!("{age} days old"))
        .bind(*age as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO messages (id, organization_id, conversation_id, connection_id, direction, content_type, content, \
           status, status_rank, created_at) \
         VALUES ($1, $2, $3, $4, 'outbound', 'text', 'pending 200 days', 'pending', 0, now() - interval '200 days')",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(conversation)
    .bind(connection)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn kept(app: &TestApp, org: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT content FROM messages WHERE organization_id = $1 ORDER BY created_at DESC")
        .bind(org.parse::<Uuid>().unwrap())
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn messages_are_kept_as_long_as_each_plan_says() {
    let plans = Plans::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let billing = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(proto::billing::billing_server::BillingServer::new(plans.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let app = spawn_app_with(&[
        ("BILLING_GRPC_URL", &billing),
        ("QUOTA_TIMEOUT_SECS", "2"),
        ("MAINTENANCE_INTERVAL_SECS", "0.2"),
    ])
    .await;
    let ages = [10, 45, 120];
    let mut orgs = Vec::new();
    for (n, (email, name)) in
        [("free@example.com", "Free"), ("pro@example.com", "Pro"), ("ent@example.com", "Ent")].iter().enumerate()
    {
        let owner = app.owner(email, name).await;
        let body = json!({"phone_number_id": format!("10654035224292{n}"), "business_account_id": WABA_ID, "access_token": GOOD_TOKEN});
        let r = app.post("/v1/connections/whatsapp", &body, &owner.token).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let connection: serde_json::Value = r.json().await.unwrap();
        history(&app, &owner.org, connection["id"].as_str().unwrap(), &ages).await;
        orgs.push(owner.org);
    }
    // Billing knows Pro (90 days) and Enterprise (everything); for Free it does not answer.
    plans.0.lock().unwrap().insert(orgs[1].clone(), ("pro".into(), 90));
    plans.0.lock().unwrap().insert(orgs[2].clone(), ("enterprise".into(), -1));
    until_some("billing's answers to be recorded", || async {
        (app.count("SELECT count(*) FROM history_windows").await == 2).then_some(())
    })
    .await;

    let config =
        inbox_sync::Config::from_env(env(&[("DATABASE_URL", "postgres://unused"), ("SWITCHBOARD_ENV", "development")]))
            .unwrap();
    let deleted = inbox_sync::retention(&config, app.pool.clone()).run_once().await.unwrap();
    assert_eq!(deleted, 3, "45 and 120 days of Free, 120 days of Pro");
    assert_eq!(kept(&app, &orgs[0]).await, ["10 days old", "pending 200 days"]);
    assert_eq!(kept(&app, &orgs[1]).await, ["10 days old", "45 days old", "pending 200 days"]);
    assert_eq!(kept(&app, &orgs[2]).await, ["10 days old", "45 days old", "120 days old", "pending 200 days"]);
    app.stop().await;
}

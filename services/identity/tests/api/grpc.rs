use proto::identity::identity_client::IdentityClient;
use proto::identity::{AuthenticateRequest, GetTeamRequest, GetUserRequest, ListMembersRequest};
use serde_json::json;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

use crate::helpers::*;

async fn channel(app: &TestApp) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr)).unwrap().connect().await.unwrap()
}

#[tokio::test]
async fn grpc_serves_health_and_reflection() {
    let app = spawn_app().await;
    let mut health = HealthClient::new(channel(&app).await);
    for service in ["", "switchboard.identity.v1.Identity"] {
        let r = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(r.status, 1, "{service} serving");
    }
    let mut reflection = ServerReflectionClient::new(channel(&app).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else { panic!("no service list") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"switchboard.identity.v1.Identity".to_owned()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");
    app.stop().await;
}

#[tokio::test]
async fn grpc_authenticate_and_lookups_respect_tenants() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let eve = app.signup("eve@example.com", "Evil").await;
    let team: serde_json::Value =
        app.post("/v1/teams", &json!({"name": "Support"}), Some(&token(&owner))).await.json().await.unwrap();
    let mut client = IdentityClient::new(channel(&app).await);

    let p = client.authenticate(AuthenticateRequest { credential: token(&owner) }).await.unwrap().into_inner();
    assert_eq!(p.user_id, owner["user"]["id"].as_str().unwrap());
    assert_eq!(p.organization_id, owner["organization"]["id"].as_str().unwrap());
    assert_eq!(p.role, "owner");
    assert!(p.expires_at > 0);
    let bad = client.authenticate(AuthenticateRequest { credential: "sbat_nope".into() }).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::Unauthenticated);

    let org = owner["organization"]["id"].as_str().unwrap().to_owned();
    let user = client
        .get_user(GetUserRequest {
            organization_id: org.clone(),
            user_id: owner["user"]["id"].as_str().unwrap().into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.email, "ada@example.com");
    let foreign = client
        .get_user(GetUserRequest { organization_id: org.clone(), user_id: eve["user"]["id"].as_str().unwrap().into() })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound);

    let members = client
        .list_members(ListMembersRequest {
            organization_id: org.clone(),
            limit: 10,
            cursor: String::new(),
            roles: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1);

    let t = client
        .get_team(GetTeamRequest { organization_id: org, team_id: team["id"].as_str().unwrap().into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.name, "Support");
    let foreign = client
        .get_team(GetTeamRequest {
            organization_id: eve["organization"]["id"].as_str().unwrap().into(),
            team_id: team["id"].as_str().unwrap().into(),
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    app.stop().await;
}

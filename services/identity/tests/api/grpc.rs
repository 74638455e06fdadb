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

/// `message` with the service token, as our services send it.
fn signed<T>(app: &TestApp, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    app.service_token.attach(&mut r);
    r
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
    assert!(!names.iter().any(|n| n.contains("billing")), "only what this port serves: {names:?}");
    app.stop().await;
}

#[tokio::test]
async fn every_identity_call_needs_the_service_token() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let org = owner["organization"]["id"].as_str().unwrap().to_owned();
    let user_id = owner["user"]["id"].as_str().unwrap().to_owned();
    let mut client = IdentityClient::new(channel(&app).await);
    let get_user = || GetUserRequest { organization_id: org.clone(), user_id: user_id.clone() };

    // No token, a wrong one, a user's own access token: all refused, for every method.
    let mut wrong = tonic::Request::new(get_user());
    wrong.metadata_mut().insert("authorization", "Bearer not-the-token".parse().unwrap());
    let mut users_token = tonic::Request::new(get_user());
    users_token.metadata_mut().insert("authorization", format!("Bearer {}", token(&owner)).parse().unwrap());
    for request in [tonic::Request::new(get_user()), wrong, users_token] {
        assert_eq!(client.get_user(request).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    }
    let refused = [
        client.authenticate(AuthenticateRequest { credential: token(&owner) }).await.map(|_| ()),
        client
            .list_members(ListMembersRequest {
                organization_id: org.clone(),
                limit: 10,
                cursor: String::new(),
                roles: vec![],
            })
            .await
            .map(|_| ()),
        client.get_team(GetTeamRequest { organization_id: org.clone(), team_id: org.clone() }).await.map(|_| ()),
    ];
    for r in refused {
        assert_eq!(r.unwrap_err().code(), tonic::Code::Unauthenticated);
    }

    // With the token the same calls work.
    let user = client.get_user(signed(&app, get_user())).await.unwrap().into_inner();
    assert_eq!(user.email, "ada@example.com");
    let p = client.authenticate(signed(&app, AuthenticateRequest { credential: token(&owner) })).await.unwrap();
    assert_eq!(p.into_inner().user_id, user_id);
    app.stop().await;
}

#[tokio::test]
async fn lookups_tell_whether_the_email_is_verified() {
    let app = spawn_app().await;
    let owner = app.signup("ada@example.com", "Acme").await;
    let org = owner["organization"]["id"].as_str().unwrap().to_owned();
    let user_id = owner["user"]["id"].as_str().unwrap().to_owned();
    let mut client = IdentityClient::new(channel(&app).await);
    let lookup = || GetUserRequest { organization_id: org.clone(), user_id: user_id.clone() };
    let list = || ListMembersRequest { organization_id: org.clone(), limit: 10, cursor: String::new(), roles: vec![] };
    assert!(!client.get_user(signed(&app, lookup())).await.unwrap().into_inner().email_verified);
    assert!(!client.list_members(signed(&app, list())).await.unwrap().into_inner().members[0].email_verified);

    let verify = app.token_from_mail("ada@example.com", "email_verification").await;
    let r = app.post("/v1/auth/verify-email", &json!({"token": verify}), None).await;
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    assert!(client.get_user(signed(&app, lookup())).await.unwrap().into_inner().email_verified);
    assert!(client.list_members(signed(&app, list())).await.unwrap().into_inner().members[0].email_verified);
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

    let p = client
        .authenticate(signed(&app, AuthenticateRequest { credential: token(&owner) }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.user_id, owner["user"]["id"].as_str().unwrap());
    assert_eq!(p.organization_id, owner["organization"]["id"].as_str().unwrap());
    assert_eq!(p.role, "owner");
    assert!(p.expires_at > 0);
    let bad =
        client.authenticate(signed(&app, AuthenticateRequest { credential: "sbat_nope".into() })).await.unwrap_err();
    assert_eq!(bad.code(), tonic::Code::Unauthenticated);

    let org = owner["organization"]["id"].as_str().unwrap().to_owned();
    let user = client
        .get_user(signed(
            &app,
            GetUserRequest { organization_id: org.clone(), user_id: owner["user"]["id"].as_str().unwrap().into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.email, "ada@example.com");
    let foreign = client
        .get_user(signed(
            &app,
            GetUserRequest { organization_id: org.clone(), user_id: eve["user"]["id"].as_str().unwrap().into() },
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound);

    let members = client
        .list_members(signed(
            &app,
            ListMembersRequest { organization_id: org.clone(), limit: 10, cursor: String::new(), roles: vec![] },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1);

    let t = client
        .get_team(signed(&app, GetTeamRequest { organization_id: org, team_id: team["id"].as_str().unwrap().into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.name, "Support");
    let foreign = client
        .get_team(signed(
            &app,
            GetTeamRequest {
                organization_id: eve["organization"]["id"].as_str().unwrap().into(),
                team_id: team["id"].as_str().unwrap().into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::NotFound);
    app.stop().await;
}

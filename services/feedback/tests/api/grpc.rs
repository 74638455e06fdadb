use tonic_reflection::pb::{v1, v1alpha};

use crate::helpers::*;

/// Feedback's gRPC port serves health and reflection only, so reflection (both versions) lists
/// no Switchboard contract: a client must not be told it could call identity or billing here.
#[tokio::test]
async fn reflection_lists_only_what_this_port_serves() {
    let app = spawn_app().await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr)).unwrap().connect().await.unwrap();
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let reply =
        client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner().message().await;
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.unwrap().unwrap().message_response
    else {
        panic!("no service list")
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("switchboard.")), "{names:?}");

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
    let reply =
        client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner().message().await;
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        reply.unwrap().unwrap().message_response
    else {
        panic!("no v1alpha service list")
    };
    let mut alpha: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    alpha.sort();
    assert_eq!(alpha, names, "v1alpha lists the same");
    app.stop().await;
}

//! gRPC plumbing: serving with health and reflection, and W3C trace context in metadata.

use std::sync::Arc;
use std::task::{Context, Poll};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{self, TraceContext};

/// Adds the current trace context to an outgoing request's metadata.
pub fn inject_trace<T>(request: &mut tonic::Request<T>) {
    let ctx = TraceContext::for_outgoing().to_string();
    if let Ok(v) = ctx.parse() {
        request.metadata_mut().insert("traceparent", v);
    }
}

/// The shared secret internal gRPC callers present (`SERVICE_TOKEN`), so only our services can
/// ask identity about members or billing about quotas.
#[derive(Clone)]
pub struct ServiceToken(Arc<SecretString>);

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceToken([REDACTED])")
    }
}

impl ServiceToken {
    pub fn new(token: SecretString) -> Self {
        Self(Arc::new(token))
    }

    /// Adds `authorization: Bearer <token>` to an outgoing request.
    pub fn attach<T>(&self, request: &mut tonic::Request<T>) {
        if let Ok(v) = format!("Bearer {}", self.0.expose_secret()).parse() {
            request.metadata_mut().insert("authorization", v);
        }
    }

    /// Whether `metadata` carries this token (constant-time comparison).
    pub fn verify(&self, metadata: &tonic::metadata::MetadataMap) -> bool {
        let Some(given) = metadata.get("authorization").and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some(given) = given.strip_prefix("Bearer ").or_else(|| given.strip_prefix("bearer ")) else {
            return false;
        };
        let expected = self.0.expose_secret().as_bytes();
        !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected))
    }

    /// An interceptor answering UNAUTHENTICATED to callers without the token.
    pub fn interceptor(&self) -> RequireServiceToken {
        RequireServiceToken(self.clone())
    }
}

/// The server side of [`ServiceToken`]: `XServer::with_interceptor(svc, token.interceptor())`.
#[derive(Clone, Debug)]
pub struct RequireServiceToken(ServiceToken);

impl tonic::service::Interceptor for RequireServiceToken {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if self.0.verify(request.metadata()) {
            Ok(request)
        } else {
            Err(tonic::Status::unauthenticated("a valid service token is required"))
        }
    }
}

/// Serves `routes` plus `grpc.health.v1` (every name in `services` reported serving) and
/// reflection (`v1` and `v1alpha`) advertising only what this port serves, until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    routes: tonic::service::Routes,
    services: &[&str],
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in services {
        reporter.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let reflection = || {
        let mut b = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
            .include_reflection_service(false)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for name in services {
            b = b.with_service_name(*name);
        }
        b
    };
    let routes =
        routes.add_service(health).add_service(reflection().build_v1()?).add_service(reflection().build_v1alpha()?);
    tonic::transport::Server::builder()
        .layer(TraceLayer)
        .add_routes(routes)
        // Small answers go out at once: without TCP_NODELAY, Nagle's algorithm and the peer's
        // delayed ACK hold some for 40 ms.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}

/// Runs each gRPC call inside the trace context its `traceparent` metadata names.
#[derive(Clone, Copy)]
struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = TraceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

#[derive(Clone)]
struct TraceService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TraceService<S>
where
    S: tower::Service<http::Request<B>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let ctx = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceContext::parse)
            .map(|c| c.child())
            .unwrap_or_else(TraceContext::new_root);
        let fut = self.inner.call(req);
        Box::pin(telemetry::scope(ctx, fut))
    }
}

//! gRPC plumbing: serving with health and reflection, and W3C trace context in metadata.

use std::task::{Context, Poll};

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{self, TraceContext};

/// Adds the current trace context to an outgoing request's metadata.
pub fn inject_trace<T>(request: &mut tonic::Request<T>) {
    let ctx = TraceContext::for_outgoing().to_string();
    if let Ok(v) = ctx.parse() {
        request.metadata_mut().insert("traceparent", v);
    }
}

/// Serves `routes` plus `grpc.health.v1` (every name in `services` reported serving) and
/// reflection over every Switchboard contract, until `shutdown`.
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
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let routes = routes.add_service(health).add_service(reflection);
    tonic::transport::Server::builder()
        .layer(TraceLayer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
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

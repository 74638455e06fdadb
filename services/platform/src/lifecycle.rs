//! Running a service's parts (HTTP, gRPC, relay, consumers) under one cancellation token.

use std::time::Duration;

use futures::future::{join_all, select_all};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A named part of a running service.
pub type Part = (&'static str, JoinHandle<anyhow::Result<()>>);

/// Runs until `shutdown` fires or any part stops (which fires it for the others), then gives
/// every part `grace` to finish what is in flight and aborts what is left. Answers the first
/// error of a part, if any.
pub async fn supervise(shutdown: CancellationToken, grace: Duration, parts: Vec<Part>) -> anyhow::Result<()> {
    let names: Vec<&'static str> = parts.iter().map(|(n, _)| *n).collect();
    let mut handles: Vec<JoinHandle<anyhow::Result<()>>> = parts.into_iter().map(|(_, h)| h).collect();
    let mut first_error = None;
    if !handles.is_empty() {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            (result, index, rest) = select_all(handles.iter_mut()) => {
                let name = names[index];
                match flatten(result) {
                    Ok(()) => tracing::warn!(part = name, "stopped on its own; shutting down"),
                    Err(err) => {
                        tracing::error!(part = name, error = ?err, "failed; shutting down");
                        first_error = Some(err);
                    }
                }
                drop(rest);
                handles.remove(index);
            }
        }
    }
    shutdown.cancel();
    let aborters: Vec<_> = handles.iter().map(JoinHandle::abort_handle).collect();
    match tokio::time::timeout(grace, join_all(handles)).await {
        Ok(results) => {
            for r in results {
                if let Err(err) = flatten(r) {
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(_) => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "shutdown grace period over; aborting what is left");
            aborters.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn flatten(r: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    match r {
        Ok(inner) => inner,
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(anyhow::anyhow!("task panicked: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_part_stops_the_others() {
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        let waits = tokio::spawn(async move {
            s.cancelled().await;
            Ok(())
        });
        let fails = tokio::spawn(async { Err(anyhow::anyhow!("boom")) });
        let r = supervise(shutdown.clone(), Duration::from_secs(1), vec![("waits", waits), ("fails", fails)]).await;
        assert!(r.unwrap_err().to_string().contains("boom"));
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn stragglers_are_aborted_after_the_grace_period() {
        let shutdown = CancellationToken::new();
        let stuck = tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        });
        shutdown.cancel();
        let started = std::time::Instant::now();
        supervise(shutdown, Duration::from_millis(100), vec![("stuck", stuck)]).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

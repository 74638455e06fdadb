//! Team membership from identity (`events.identity.team.>`) into `team_members`, for routing:
//! `team.member_added` / `team.member_removed` move one member, `team.deleted` empties the team.
//! Each event applies only if no later one about the same member was applied (events carry
//! their time; two replicas may handle them out of order). A member who joins a team may take
//! its queued tickets at once.

use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use platform::bus::{CloudEvent, EVENTS_STREAM};
use platform::consumer::{Consumer, ConsumerSpec, Delivery, Handler};
use platform::metrics::Metrics;
use proto::events as ev;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::{routing, store, AppState};

/// Runs the consumer until `shutdown`.
pub async fn run(state: AppState, metrics: Arc<Metrics>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let consumer = Consumer {
        spec: ConsumerSpec::new("ticketing-teams", EVENTS_STREAM, "events.identity.team.>"),
        pool: state.pool.clone(),
        bus: state.bus.clone(),
        metrics,
        handler: Arc::new(TeamEvents),
    };
    consumer.run(shutdown).await;
    Ok(())
}

pub struct TeamEvents;

impl Handler for TeamEvents {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let event: CloudEvent<serde_json::Value> =
                serde_json::from_slice(&d.payload).context("not a CloudEvent")?;
            let at = event.time;
            match event.event_type.as_str() {
                ev::TEAM_MEMBER_ADDED => {
                    let m: ev::TeamMemberAdded = serde_json::from_value(event.data)?;
                    let (org, team) = (m.organization_id, m.team_id);
                    if store::teams::apply(tx, org, team, m.user_id, true, at).await? {
                        routing::drain_team(tx, org, team).await?;
                    }
                }
                ev::TEAM_MEMBER_REMOVED => {
                    let m: ev::TeamMemberRemoved = serde_json::from_value(event.data)?;
                    store::teams::apply(tx, m.organization_id, m.team_id, m.user_id, false, at).await?;
                }
                ev::TEAM_DELETED => {
                    let u: ev::UnitDeleted = serde_json::from_value(event.data)?;
                    store::teams::apply_deleted(tx, u.organization_id, u.id, at).await?;
                }
                // Created and updated teams say nothing about members.
                _ => {}
            }
            Ok(())
        })
    }
}

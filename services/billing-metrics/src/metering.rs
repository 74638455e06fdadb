//! The consumer of every event (`events.>`): the activity log row, the usage it counts, the
//! threshold alerts it crosses, members' roles, and a new organization's subscription. All in
//! the transaction that records the event as processed, so a redelivery, or a second replica,
//! never counts twice.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ledger::{Ledger, Moved};
use crate::meter::{self, Effect};
use crate::periods::month_start;
use crate::plans;
use crate::store::{self, activity, subscriptions, usage};
use crate::analytics;
use crate::Services;

pub struct Metering {
    pub services: Arc<Services>,
}

impl Handler for Metering {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Ok(event) = serde_json::from_slice::<CloudEvent<Value>>(&d.payload) else {
                tracing::warn!(subject = %d.subject, event = %d.event_id, "an event that is not a CloudEvent; not metered");
                return Ok(());
            };
            let org = event
                .orgid
                .or_else(|| event.data.get("organization_id").and_then(Value::as_str).and_then(|s| s.parse().ok()));
            let Some(org) = org else { return Ok(()) };
            let data = &event.data;
            let kind = event.event_type.as_str();
            let a = meter::activity(kind, event.subject.as_deref(), data);
            activity::record(tx, event.id, org, event.time, &a).await?;
            members(tx, org, kind, data).await?;
            if kind == proto::events::ORG_CREATED {
                crate::subscribe(tx, &self.services, org).await?;
            }
            if let Some(fact) = analytics::fact(kind, event.time, data) {
                store::analytics::apply(tx, org, &fact).await?;
            }
            if let Some(effect) = meter::effect(kind, data) {
                self.apply(tx, org, event.id, event.time, effect).await?;
            }
            Ok(())
        })
    }

    fn committed<'a>(&'a self, touched: platform::cache::Touched) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(ids) = touched.ids() {
                self.services.ledger.committed(ids);
            }
        })
    }
}

impl Metering {
    async fn apply(
        &self,
        tx: &mut PgConnection,
        org: Uuid,
        event: Uuid,
        at: chrono::DateTime<Utc>,
        effect: Effect,
    ) -> anyhow::Result<()> {
        let period = month_start(at);
        let (metric, (before, after), gauge) = match effect {
            Effect::Count(m) => (m, usage::add(tx, org, m, period, 1).await?, false),
            Effect::Add(m, member) => (m, usage::gauge_add(tx, org, m, member).await?, true),
            Effect::Remove(m, member) => (m, usage::gauge_remove(tx, org, m, member).await?, true),
        };
        let ledger: &Ledger = &self.services.ledger;
        ledger.pending(
            event,
            Moved { org, metric, period: if gauge { usage::gauge_period() } else { period }, value: after, gauge },
        );
        platform::cache::touch(event);
        if after <= before {
            return Ok(());
        }
        let plan_name = subscriptions::get(tx, org).await?.map_or_else(|| "free".to_owned(), |s| s.plan);
        let Some(plan) = ledger.plan(tx, &plan_name).await? else { return Ok(()) };
        let limit = plan.limit(metric);
        for percent in plans::crossed(limit.limit, before, after) {
            // A gauge alerts once per calendar month, as counters do.
            let alert_period = month_start(Utc::now().max(at));
            if usage::alert_once(tx, org, metric, alert_period, percent, after, limit.limit).await? {
                let recipients = usage::managers(tx, org).await?;
                crate::events::threshold(
                    tx,
                    org,
                    metric,
                    percent,
                    after,
                    limit.limit,
                    &plan.name,
                    alert_period,
                    recipients,
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Members and their roles, from identity: who hears of thresholds.
async fn members(tx: &mut PgConnection, org: Uuid, kind: &str, data: &Value) -> anyhow::Result<()> {
    let user = data.get("user_id").and_then(Value::as_str).and_then(|s| s.parse::<Uuid>().ok());
    let Some(user) = user else { return Ok(()) };
    match kind {
        "identity.member.added" | "identity.invitation.accepted" => {
            if let Some(role) = data.get("role").and_then(Value::as_str) {
                usage::set_member(tx, org, user, role).await?;
            }
        }
        "identity.member.role_changed" => {
            if let Some(role) = data.get("role_after").and_then(Value::as_str) {
                usage::set_member(tx, org, user, role).await?;
            }
        }
        "identity.member.removed" => usage::remove_member(tx, org, user).await?,
        _ => {}
    }
    Ok(())
}

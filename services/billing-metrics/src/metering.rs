//! The consumer of every event (`events.>`): the activity log row, the usage it counts, the
//! threshold alerts it crosses, members' roles, and a new organization's subscription. All in
//! the transaction that records the event as processed, so a redelivery, or a second replica,
//! never counts twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::{self, Fact, Snapshot};
use crate::ledger::{Ledger, Moved};
use crate::meter::{self, Effect};
use crate::periods::month_start;
use crate::plans;
use crate::store::{self, activity, subscriptions, usage};
use crate::Services;

pub struct Metering {
    pub services: Arc<Services>,
}

/// A counter: organization, metric, period.
type Counter = (Uuid, &'static str, DateTime<Utc>);
/// What a batch adds to a counter: how much, by which event last, and when.
type Added = (i64, Uuid, DateTime<Utc>);

/// An event of an organization, as the consumer reads it.
fn read(d: &Delivery) -> Option<(CloudEvent<Value>, Uuid)> {
    let Ok(event) = serde_json::from_slice::<CloudEvent<Value>>(&d.payload) else {
        tracing::warn!(subject = %d.subject, event = %d.event_id, "an event that is not a CloudEvent; not metered");
        return None;
    };
    let org = event
        .orgid
        .or_else(|| event.data.get("organization_id").and_then(Value::as_str).and_then(|s| s.parse().ok()))?;
    Some((event, org))
}

impl Handler for Metering {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Some((event, org)) = read(d) else { return Ok(()) };
            let a = meter::activity(&event.event_type, event.subject.as_deref(), &event.data);
            activity::record(tx, event.id, org, event.time, &a).await?;
            if let Some(effect) = self.side_effects(tx, org, &event, None).await? {
                self.apply(tx, org, event.id, event.time, effect).await?;
            }
            Ok(())
        })
    }

    /// A batch: its activity rows in one statement, its counters added up per organization,
    /// metric and period and written in one statement (in key order, so concurrent batches lock
    /// rows in one order), the rest event by event.
    fn handle_batch<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        deliveries: &'a [Delivery],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut rows = Vec::with_capacity(deliveries.len());
            let mut counts: BTreeMap<Counter, Added> = BTreeMap::new();
            let mut snapshots = Vec::new();
            // By organization and subject (stable: one subject's events keep their order), so
            // that concurrent batches take the rows they share in one order.
            let mut events: Vec<(CloudEvent<Value>, Uuid)> = deliveries.iter().filter_map(read).collect();
            events.sort_by(|(a, x), (b, y)| (x, &a.subject).cmp(&(y, &b.subject)));
            for (event, org) in events {
                rows.push((
                    event.id,
                    org,
                    event.time,
                    meter::activity(&event.event_type, event.subject.as_deref(), &event.data),
                ));
                match self.side_effects(tx, org, &event, Some(&mut snapshots)).await? {
                    Some(Effect::Count(metric)) => {
                        let c =
                            counts.entry((org, metric, month_start(event.time))).or_insert((0, event.id, event.time));
                        c.0 += 1;
                        if event.time >= c.2 {
                            (c.1, c.2) = (event.id, event.time);
                        }
                    }
                    Some(effect) => self.apply(tx, org, event.id, event.time, effect).await?,
                    None => {}
                }
            }
            activity::record_all(tx, &rows).await?;
            // One statement for the tickets seen once in the batch; a ticket seen again is
            // applied on its own (the upsert of one statement touches a row once).
            let mut seen = std::collections::HashSet::new();
            let (once, again): (Vec<_>, Vec<_>) = snapshots.iter().partition(|(org, s)| seen.insert((*org, s.ticket)));
            let once: Vec<(Uuid, &Snapshot)> = once.into_iter().map(|(o, s)| (*o, s)).collect();
            store::analytics::snapshots(tx, &once).await?;
            for (org, s) in again {
                store::analytics::snapshots(tx, &[(*org, s)]).await?;
            }
            if counts.is_empty() {
                return Ok(());
            }
            let keys: Vec<_> = counts.iter().map(|((org, m, p), (delta, _, _))| (*org, *m, *p, *delta)).collect();
            let after = usage::add_all(tx, &keys).await?;
            let orgs: Vec<Uuid> = counts.keys().map(|k| k.0).collect();
            let plans = subscriptions::plans_of(tx, &orgs).await?;
            for ((org, metric, period), (delta, event, at)) in counts {
                let Some((_, _, _, value)) = after.iter().find(|a| a.0 == org && a.1 == metric && a.2 == period) else {
                    continue;
                };
                let plan = plans.get(&org).map_or("free", String::as_str);
                self.moved(
                    tx,
                    org,
                    event,
                    at,
                    Moved { org, metric, period, value: *value, gauge: false },
                    value - delta,
                    plan,
                )
                .await?;
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
    /// What an event changes besides the activity log and counters: members, a new
    /// organization's subscription, analytics; its usage effect, if any, is returned. Ticket
    /// snapshots go to `snapshots` when given, to be written together.
    async fn side_effects(
        &self,
        tx: &mut PgConnection,
        org: Uuid,
        event: &CloudEvent<Value>,
        snapshots: Option<&mut Vec<(Uuid, Snapshot)>>,
    ) -> anyhow::Result<Option<Effect>> {
        let (kind, data) = (event.event_type.as_str(), &event.data);
        members(tx, org, kind, data).await?;
        if kind == proto::events::ORG_CREATED {
            crate::subscribe(tx, &self.services, org).await?;
        }
        if let Some(fact) = analytics::fact(kind, event.time, data) {
            match (fact, snapshots) {
                (Fact::Snapshot(s), Some(later)) => later.push((org, s)),
                (fact, _) => store::analytics::apply(tx, org, &fact).await?,
            }
        }
        Ok(meter::effect(kind, data))
    }

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
        let plan = if after > before { subscriptions::get(tx, org).await?.map(|s| s.plan) } else { None };
        let period = if gauge { usage::gauge_period() } else { period };
        let moved = Moved { org, metric, period, value: after, gauge };
        self.moved(tx, org, event, at, moved, before, plan.as_deref().unwrap_or("free")).await
    }

    /// A counter or gauge moved from `before` to `moved.value` by `event`: the figures quota
    /// checks answer from, and the threshold alerts of `plan` it crossed.
    #[allow(clippy::too_many_arguments)]
    async fn moved(
        &self,
        tx: &mut PgConnection,
        org: Uuid,
        event: Uuid,
        at: DateTime<Utc>,
        moved: Moved,
        before: i64,
        plan: &str,
    ) -> anyhow::Result<()> {
        let (metric, after) = (moved.metric, moved.value);
        let ledger: &Ledger = &self.services.ledger;
        ledger.pending(event, moved);
        platform::cache::touch(event);
        if after <= before {
            return Ok(());
        }
        let Some(plan) = ledger.plan(tx, plan).await? else { return Ok(()) };
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

//! Records a batch of attempts in one transaction: the attempts, each delivery's new state, the
//! endpoints' failure streaks, and the operational events (`webhook.delivery.exhausted`,
//! `webhook.endpoint.disabled`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::Config;
use crate::worker::{next_delay, operational, Claimed, Outcome};

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub async fn record(pool: &PgPool, config: &Config, outcomes: Vec<(Claimed, Outcome)>) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut attempt_rows = AttemptRows::default();
    // Per delivery: new status, next attempt, last code, last error, attempts delta.
    let (mut ids, mut statuses, mut next_at, mut codes, mut errors, mut counted) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut succeeded_endpoints: HashSet<Uuid> = HashSet::new();
    let mut failed_endpoints: HashSet<Uuid> = HashSet::new();
    let mut gone: HashMap<Uuid, Uuid> = HashMap::new();
    let mut exhausted = Vec::new();

    for (d, outcome) in &outcomes {
        match outcome {
            Outcome::Deferred(wait) => {
                ids.push(d.id);
                statuses.push("pending".to_owned());
                next_at.push(now + chrono(*wait));
                codes.push(None);
                errors.push(None);
                counted.push(0);
            }
            Outcome::Delivered { status, body, took } => {
                push_attempt(&mut attempt_rows, d.id, now, Some(i32::from(*status)), Some(body.clone()), *took, None);
                ids.push(d.id);
                statuses.push("succeeded".to_owned());
                next_at.push(now);
                codes.push(Some(i32::from(*status)));
                errors.push(None);
                counted.push(1);
                succeeded_endpoints.insert(d.endpoint_id);
            }
            Outcome::Failed { status, body, error, retry_after, took, .. } => {
                let code = status.map(i32::from);
                push_attempt(&mut attempt_rows, d.id, now, code, body.clone(), *took, error.clone());
                let failed_attempts = usize::try_from(d.attempts).unwrap_or(0) + 1;
                let is_gone = *status == Some(410);
                let delay = if is_gone {
                    None
                } else {
                    match (retry_after, next_delay(config, failed_attempts)) {
                        (Some(ra), Some(_)) => Some((*ra).min(config.retry_after_max)),
                        (_, next) => next,
                    }
                };
                ids.push(d.id);
                codes.push(code);
                errors.push(error.clone().or_else(|| status.map(|s| format!("HTTP {s}"))));
                counted.push(1);
                failed_endpoints.insert(d.endpoint_id);
                match delay {
                    Some(delay) => {
                        statuses.push("pending".to_owned());
                        next_at.push(now + chrono(delay));
                    }
                    None => {
                        statuses.push("failed".to_owned());
                        next_at.push(now);
                        // A 410 is a refusal, reported as the endpoint's disabling, not as exhaustion.
                        if !is_gone && !d.event_type.starts_with("webhook.") {
                            exhausted.push((d, code, error.clone()));
                        }
                    }
                }
                if is_gone {
                    gone.insert(d.endpoint_id, d.organization_id);
                }
            }
        }
    }

    let mut tx = pool.begin().await?;
    // The batch's endpoints are locked first, in id order: a DELETE of an endpoint locks it
    // before its deliveries (by cascade), and another replica's batch locks in the same order,
    // so neither waits in a cycle with this transaction. NO KEY UPDATE leaves new deliveries
    // (whose foreign key takes KEY SHARE) unblocked. An endpoint deleted meanwhile is absent, its
    // deliveries with it: their attempts are not recorded, and the rest of the batch still is.
    let mut batch_endpoints: Vec<Uuid> = outcomes.iter().map(|(d, _)| d.endpoint_id).collect();
    batch_endpoints.sort();
    batch_endpoints.dedup();
    let present: HashSet<Uuid> =
        sqlx::query_scalar("SELECT id FROM endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&batch_endpoints)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let (a_ids, a_deliveries, a_at, a_codes, a_bodies, a_ms, a_errors) = attempt_rows;
    if !a_ids.is_empty() {
        sqlx::query(
            "INSERT INTO attempts (id, delivery_id, attempted_at, status_code, response_body, duration_ms, error) \
             SELECT u.* FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::int[], $5::text[], $6::int[], $7::text[]) \
               AS u(id, delivery_id, attempted_at, status_code, response_body, duration_ms, error) \
             WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = u.delivery_id)",
        )
        .bind(&a_ids)
        .bind(&a_deliveries)
        .bind(&a_at)
        .bind(&a_codes)
        .bind(&a_bodies)
        .bind(&a_ms)
        .bind(&a_errors)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE deliveries d SET status = u.status, next_attempt_at = u.next_at, leased_until = NULL, \
           attempts = d.attempts + u.counted, last_status_code = COALESCE(u.code, d.last_status_code), \
           last_error = CASE WHEN u.counted = 1 THEN u.error ELSE d.last_error END, updated_at = now() \
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int[], $5::text[], $6::int[]) \
           AS u(id, status, next_at, code, error, counted) \
         WHERE d.id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&next_at)
    .bind(&codes)
    .bind(&errors)
    .bind(&counted)
    .execute(&mut *tx)
    .await?;
    if !succeeded_endpoints.is_empty() {
        let list: Vec<Uuid> = succeeded_endpoints.iter().copied().collect();
        sqlx::query("UPDATE endpoints SET failing_since = NULL WHERE id = ANY($1) AND failing_since IS NOT NULL")
            .bind(&list)
            .execute(&mut *tx)
            .await?;
    }
    let failing: Vec<Uuid> = failed_endpoints.difference(&succeeded_endpoints).copied().collect();
    if !failing.is_empty() {
        sqlx::query("UPDATE endpoints SET failing_since = now() WHERE id = ANY($1) AND failing_since IS NULL")
            .bind(&failing)
            .execute(&mut *tx)
            .await?;
    }
    let gone_ids: Vec<Uuid> = gone.keys().copied().collect();
    let mut disabled: Vec<(Uuid, Uuid, String, String)> = if gone_ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "UPDATE endpoints SET enabled = false, disabled_reason = 'the receiver answered 410 Gone' \
             WHERE id = ANY($1) AND enabled RETURNING id, organization_id, url, disabled_reason",
        )
        .bind(&gone_ids)
        .fetch_all(&mut *tx)
        .await?
    };
    if !failing.is_empty() {
        let more: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
            "UPDATE endpoints SET enabled = false, \
               disabled_reason = 'failing without a success since ' || to_char(failing_since, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
             WHERE id = ANY($1) AND enabled AND failing_since <= now() - make_interval(secs => $2) \
             RETURNING id, organization_id, url, disabled_reason",
        )
        .bind(&failing)
        .bind(config.disable_after.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        disabled.extend(more);
    }
    for (d, code, error) in exhausted.into_iter().filter(|(d, _, _)| present.contains(&d.endpoint_id)) {
        let event = operational(
            "webhook.delivery.exhausted",
            d.organization_id,
            d.id,
            json!({
                "delivery_id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
                "attempts": d.attempts + 1, "last_status_code": code, "last_error": error,
            }),
        );
        platform::outbox::emit(&mut tx, &event).await?;
    }
    for (id, org, url, reason) in disabled {
        tracing::warn!(endpoint = %id, %reason, "endpoint disabled");
        let event =
            operational("webhook.endpoint.disabled", org, id, json!({"endpoint_id": id, "url": url, "reason": reason}));
        platform::outbox::emit(&mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

type AttemptRows =
    (Vec<Uuid>, Vec<Uuid>, Vec<DateTime<Utc>>, Vec<Option<i32>>, Vec<Option<String>>, Vec<i32>, Vec<Option<String>>);

fn push_attempt(
    rows: &mut AttemptRows,
    delivery: Uuid,
    at: DateTime<Utc>,
    code: Option<i32>,
    body: Option<String>,
    took: Duration,
    error: Option<String>,
) {
    rows.0.push(Uuid::now_v7());
    rows.1.push(delivery);
    rows.2.push(at);
    rows.3.push(code);
    rows.4.push(body);
    rows.5.push(i32::try_from(took.as_millis()).unwrap_or(i32::MAX));
    rows.6.push(error);
}

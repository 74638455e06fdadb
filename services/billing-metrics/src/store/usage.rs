//! Usage per organization, metric and period; what gauges count; members' roles; alerts sent.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// The period of gauges, which are not per period.
pub fn gauge_period() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Adds `delta` to a counter; its value before and after.
pub async fn add(
    conn: &mut PgConnection,
    org: Uuid,
    metric: &str,
    period: DateTime<Utc>,
    delta: i64,
) -> sqlx::Result<(i64, i64)> {
    let after: i64 = sqlx::query_scalar(
        "INSERT INTO usage (organization_id, metric, period_start, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (organization_id, metric, period_start) \
           DO UPDATE SET value = usage.value + EXCLUDED.value, updated_at = now() \
         RETURNING value",
    )
    .bind(org)
    .bind(metric)
    .bind(period)
    .bind(delta)
    .fetch_one(conn)
    .await?;
    Ok((after - delta, after))
}

/// Adds each delta to its counter `(organization, metric, period)`, in the order given (sort
/// the keys, so concurrent batches lock rows in one order); each counter's value after.
pub async fn add_all(
    conn: &mut PgConnection,
    keys: &[(Uuid, &str, DateTime<Utc>, i64)],
) -> sqlx::Result<Vec<(Uuid, String, DateTime<Utc>, i64)>> {
    let orgs: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
    let metrics: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let periods: Vec<DateTime<Utc>> = keys.iter().map(|k| k.2).collect();
    let deltas: Vec<i64> = keys.iter().map(|k| k.3).collect();
    sqlx::query_as(
        "INSERT INTO usage (organization_id, metric, period_start, value) \
         SELECT o, m, p, v FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int8[]) WITH ORDINALITY AS k(o, m, p, v, n) \
         ORDER BY n \
         ON CONFLICT (organization_id, metric, period_start) \
           DO UPDATE SET value = usage.value + EXCLUDED.value, updated_at = now() \
         RETURNING organization_id, metric, period_start, value",
    )
    .bind(orgs)
    .bind(metrics)
    .bind(periods)
    .bind(deltas)
    .fetch_all(conn)
    .await
}

/// Counts `member` toward gauge `metric` (once); the gauge before and after.
pub async fn gauge_add(conn: &mut PgConnection, org: Uuid, metric: &str, member: Uuid) -> sqlx::Result<(i64, i64)> {
    let inserted = sqlx::query(
        "INSERT INTO gauge_members (organization_id, metric, member_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(metric)
    .bind(member)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    add(conn, org, metric, gauge_period(), i64::try_from(inserted).unwrap_or(0)).await
}

/// `member` no longer counts toward gauge `metric`; the gauge before and after.
pub async fn gauge_remove(conn: &mut PgConnection, org: Uuid, metric: &str, member: Uuid) -> sqlx::Result<(i64, i64)> {
    let removed =
        sqlx::query("DELETE FROM gauge_members WHERE organization_id = $1 AND metric = $2 AND member_id = $3")
            .bind(org)
            .bind(metric)
            .bind(member)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    add(conn, org, metric, gauge_period(), -i64::try_from(removed).unwrap_or(0)).await
}

/// The organization's counters of `period` and its gauges.
pub async fn current(conn: &mut PgConnection, org: Uuid, period: DateTime<Utc>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT metric, value FROM usage WHERE organization_id = $1 AND period_start IN ($2, 'epoch'::timestamptz)",
    )
    .bind(org)
    .bind(period)
    .fetch_all(conn)
    .await
}

/// Counters of past periods, newest first: (period, metric, value).
pub async fn history(
    conn: &mut PgConnection,
    org: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(DateTime<Utc>, String, i64)>> {
    sqlx::query_as(
        "SELECT period_start, metric, value FROM usage WHERE organization_id = $1 \
           AND period_start > 'epoch'::timestamptz AND period_start >= $2 AND period_start < $3 \
         ORDER BY period_start DESC, metric",
    )
    .bind(org)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// Records that `percent` of `metric` was reached in `period`; false when it was already.
pub async fn alert_once(
    conn: &mut PgConnection,
    org: Uuid,
    metric: &str,
    period: DateTime<Utc>,
    percent: i64,
    used: i64,
    limit: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO usage_alerts (organization_id, metric, period_start, percent, used, usage_limit) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(metric)
    .bind(period)
    .bind(i32::try_from(percent).unwrap_or(100))
    .bind(used)
    .bind(limit)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn set_member(conn: &mut PgConnection, org: Uuid, user: Uuid, role: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO members (organization_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(org)
    .bind(user)
    .bind(role)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_member(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM members WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Owners and admins: who hears of thresholds.
pub async fn managers(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT user_id FROM members WHERE organization_id = $1 AND role IN ('owner', 'admin') ORDER BY user_id",
    )
    .bind(org)
    .fetch_all(conn)
    .await
}

//! Decision rules of an organization. Conditions and actions are stored as their canonical JSON
//! (`domain::rules`) and parsed back on reading.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::rules::{self, ActionSpec, Condition, Match, Trigger};

/// A rule as managers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: Uuid,
    pub name: String,
    /// Lower runs first.
    pub priority: i32,
    pub enabled: bool,
    #[serde(rename = "match")]
    pub match_how: Match,
    pub triggers: Vec<Trigger>,
    pub conditions: Vec<Condition>,
    pub actions: Vec<ActionSpec>,
    pub last_triggered_at: Option<DateTime<Utc>>,
    pub trigger_count: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    priority: i32,
    enabled: bool,
    match_how: String,
    triggers: Vec<String>,
    conditions: sqlx::types::Json<Value>,
    actions: sqlx::types::Json<Value>,
    last_triggered_at: Option<DateTime<Utc>>,
    trigger_count: i64,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, priority, enabled, \"match\" AS match_how, triggers, conditions, actions, \
    last_triggered_at, trigger_count, created_by, created_at, updated_at";

fn decode(row: Row) -> sqlx::Result<Rule> {
    let bad = |what: &str| sqlx::Error::Decode(format!("decision rule {} has an unreadable {what}", row.id).into());
    let mut errors = Vec::new();
    let conditions = rules::parse_conditions(row.conditions.0.as_array().map_or(&[][..], Vec::as_slice), &mut errors);
    if !errors.is_empty() {
        return Err(bad("condition"));
    }
    let actions: Vec<ActionSpec> = serde_json::from_value(row.actions.0.clone()).map_err(|_| bad("action"))?;
    let triggers = row.triggers.iter().filter_map(|t| Trigger::parse(t)).collect();
    Ok(Rule {
        id: row.id,
        name: row.name,
        priority: row.priority,
        enabled: row.enabled,
        match_how: Match::parse(&row.match_how).ok_or_else(|| bad("match"))?,
        triggers,
        conditions,
        actions,
        last_triggered_at: row.last_triggered_at,
        trigger_count: row.trigger_count,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A rule's fields as given; `None` keeps (or, when creating, defaults) the value.
#[derive(Debug, Default)]
pub struct Fields {
    pub name: Option<String>,
    pub priority: Option<i32>,
    pub enabled: Option<bool>,
    pub match_how: Option<Match>,
    pub triggers: Option<Vec<Trigger>>,
    pub conditions: Option<Vec<Condition>>,
    pub actions: Option<Vec<ActionSpec>>,
}

struct Bound {
    triggers: Option<Vec<String>>,
    conditions: Option<Value>,
    actions: Option<Value>,
}

fn bind(f: &Fields) -> Bound {
    Bound {
        triggers: f.triggers.as_ref().map(|t| t.iter().map(|t| t.as_str().to_owned()).collect()),
        conditions: f.conditions.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default()),
        actions: f.actions.as_ref().map(|a| serde_json::to_value(a).unwrap_or_default()),
    }
}

/// Rules an organization may have: each is evaluated on every ticket change.
pub const MAX_RULES: i64 = 500;

/// How many rules `org` has, under a lock on the organization's rule set (so two creators
/// cannot both pass the limit).
pub async fn count_locked(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('decision_rules:' || $1::text, 0))")
        .bind(org)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT count(*) FROM decision_rules WHERE organization_id = $1").bind(org).fetch_one(conn).await
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, f: Fields, by: Option<Uuid>) -> sqlx::Result<Rule> {
    let b = bind(&f);
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO decision_rules (id, organization_id, name, priority, enabled, \"match\", triggers, conditions, \
         actions, created_by) VALUES ($1, $2, $3, COALESCE($4, 100), COALESCE($5, true), COALESCE($6, 'all'), \
         COALESCE($7, '{{created}}'), COALESCE($8, '[]'), COALESCE($9, '[]'), $10) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(f.name)
    .bind(f.priority)
    .bind(f.enabled)
    .bind(f.match_how.map(Match::as_str))
    .bind(b.triggers)
    .bind(b.conditions)
    .bind(b.actions)
    .bind(by)
    .fetch_one(conn)
    .await?;
    decode(row)
}

/// Every rule of `org`, in evaluation order.
pub async fn list(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<Rule>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decision_rules WHERE organization_id = $1 ORDER BY priority, id LIMIT {MAX_RULES}"
    ))
    .bind(org)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Rule>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM decision_rules WHERE id = $1 AND organization_id = $2"))
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    row.map(decode).transpose()
}

pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, f: Fields) -> sqlx::Result<Option<Rule>> {
    let b = bind(&f);
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE decision_rules SET name = COALESCE($3, name), priority = COALESCE($4, priority), \
         enabled = COALESCE($5, enabled), \"match\" = COALESCE($6, \"match\"), triggers = COALESCE($7, triggers), \
         conditions = COALESCE($8, conditions), actions = COALESCE($9, actions) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(f.name)
    .bind(f.priority)
    .bind(f.enabled)
    .bind(f.match_how.map(Match::as_str))
    .bind(b.triggers)
    .bind(b.conditions)
    .bind(b.actions)
    .fetch_optional(conn)
    .await?;
    row.map(decode).transpose()
}

/// Whether there was such a rule.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM decision_rules WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The enabled rules of `org` evaluated on `trigger`, in order (priority, then age).
pub async fn for_trigger(conn: &mut PgConnection, org: Uuid, trigger: Trigger) -> sqlx::Result<Vec<Rule>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM decision_rules WHERE organization_id = $1 AND enabled AND $2 = ANY (triggers) \
         ORDER BY priority, id LIMIT {MAX_RULES}"
    ))
    .bind(org)
    .bind(trigger.as_str())
    .fetch_all(conn)
    .await?;
    // A rule that cannot be read is skipped, not a failure of the ticket change that ran it.
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.id;
            decode(row).map_err(|e| tracing::error!(rule = %id, error = %e, "skipping an unreadable rule")).ok()
        })
        .collect())
}

/// Counts one more trigger of each of `ids`, locking them in id order so concurrent changes
/// matching the same rules cannot deadlock.
pub async fn triggered(conn: &mut PgConnection, org: Uuid, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE decision_rules r SET last_triggered_at = now(), trigger_count = r.trigger_count + 1 \
         FROM (SELECT id FROM decision_rules WHERE organization_id = $1 AND id = ANY ($2) ORDER BY id FOR UPDATE) l \
         WHERE r.id = l.id",
    )
    .bind(org)
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

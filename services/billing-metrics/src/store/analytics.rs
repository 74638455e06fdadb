//! Analytics' SQL: the facts events add (per ticket, per inbox day and waiting conversation)
//! and the figures read from them. Every statement filters by organization.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::{Fact, Granularity, Snapshot};

/// Applies `fact` of organization `org`.
pub async fn apply(conn: &mut PgConnection, org: Uuid, fact: &Fact) -> sqlx::Result<()> {
    match fact {
        Fact::Snapshot(s) => snapshots(conn, &[(org, s)]).await,
        Fact::AgentReply { ticket, author, at } => sqlx::query(
            "INSERT INTO ticket_facts (organization_id, ticket_id, first_response_at, first_responder_id, \
                   first_reply_at, agent_replies) VALUES ($1, $2, $3, $4, $3, 1) \
                 ON CONFLICT (organization_id, ticket_id) DO UPDATE SET \
                   agent_replies = ticket_facts.agent_replies + 1, \
                   first_response_at = LEAST(ticket_facts.first_response_at, EXCLUDED.first_response_at), \
                   first_responder_id = CASE WHEN ticket_facts.first_reply_at IS NULL \
                       OR EXCLUDED.first_reply_at < ticket_facts.first_reply_at \
                     THEN EXCLUDED.first_responder_id ELSE ticket_facts.first_responder_id END, \
                   first_reply_at = LEAST(ticket_facts.first_reply_at, EXCLUDED.first_reply_at)",
        )
        .bind(org)
        .bind(ticket)
        .bind(at)
        .bind(author)
        .execute(conn)
        .await
        .map(drop),
        Fact::Escalated { ticket, at } => sqlx::query(
            "INSERT INTO ticket_facts (organization_id, ticket_id, escalated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (organization_id, ticket_id) DO UPDATE \
               SET escalated_at = LEAST(ticket_facts.escalated_at, EXCLUDED.escalated_at)",
        )
        .bind(org)
        .bind(ticket)
        .bind(at)
        .execute(conn)
        .await
        .map(drop),
        Fact::Rated { ticket, rating, assignee, at } => sqlx::query(
            "INSERT INTO ticket_facts (organization_id, ticket_id, csat_rating, csat_at, csat_assignee_id) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (organization_id, ticket_id) DO UPDATE SET csat_rating = EXCLUDED.csat_rating, \
               csat_at = EXCLUDED.csat_at, csat_assignee_id = EXCLUDED.csat_assignee_id \
             WHERE ticket_facts.csat_at IS NULL OR ticket_facts.csat_at <= EXCLUDED.csat_at",
        )
        .bind(org)
        .bind(ticket)
        .bind(rating)
        .bind(at)
        .bind(assignee)
        .execute(conn)
        .await
        .map(drop),
        Fact::Deleted { ticket } => sqlx::query(
            "INSERT INTO ticket_facts (organization_id, ticket_id, deleted) VALUES ($1, $2, true) \
             ON CONFLICT (organization_id, ticket_id) DO UPDATE SET deleted = true",
        )
        .bind(org)
        .bind(ticket)
        .execute(conn)
        .await
        .map(drop),
        Fact::Received { message, conversation, at, since } => {
            day(conn, org, *at, "messages_received").await?;
            message_at(conn, org, *message, *conversation, *since, true).await
        }
        Fact::Sent { message, conversation, at } => {
            day(conn, org, *at, "messages_sent").await?;
            message_at(conn, org, *message, *conversation, *at, false).await
        }
        Fact::ConversationNew { at } => day(conn, org, *at, "conversations_new").await,
    }
}

/// Applies ticket snapshots `(organization, snapshot)` in one statement; a ticket appears at
/// most once in `rows`.
pub async fn snapshots(conn: &mut PgConnection, rows: &[(Uuid, &Snapshot)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Snapshot) -> Option<DateTime<Utc>>| rows.iter().map(|(_, s)| f(s)).collect::<Vec<_>>();
    let ids = |f: fn(&Snapshot) -> Option<Uuid>| rows.iter().map(|(_, s)| f(s)).collect::<Vec<_>>();
    // The newest snapshot decides the ticket's state; times never go back; a resolution's
    // "by the system" holds while that resolution is the ticket's, however late it arrives.
    sqlx::query(
        "INSERT INTO ticket_facts (organization_id, ticket_id, created_at, first_response_at, resolved_at, status, \
           assignee_id, team_id, reopen_count, resolved_by_system, as_of) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], \
           $6::text[], $7::uuid[], $8::uuid[], $9::int4[], $10::bool[], $11::timestamptz[]) \
           AS s(o, t, c, f, r, st, a, tm, rc, rs, ao) ORDER BY o, t \
         ON CONFLICT (organization_id, ticket_id) DO UPDATE SET \
           created_at = COALESCE(ticket_facts.created_at, EXCLUDED.created_at), \
           first_response_at = LEAST(ticket_facts.first_response_at, EXCLUDED.first_response_at), \
           resolved_at = CASE WHEN EXCLUDED.as_of >= ticket_facts.as_of THEN EXCLUDED.resolved_at \
             ELSE ticket_facts.resolved_at END, \
           status = CASE WHEN EXCLUDED.as_of >= ticket_facts.as_of THEN EXCLUDED.status ELSE ticket_facts.status END, \
           assignee_id = CASE WHEN EXCLUDED.as_of >= ticket_facts.as_of THEN EXCLUDED.assignee_id \
             ELSE ticket_facts.assignee_id END, \
           team_id = CASE WHEN EXCLUDED.as_of >= ticket_facts.as_of THEN EXCLUDED.team_id ELSE ticket_facts.team_id END, \
           reopen_count = GREATEST(ticket_facts.reopen_count, EXCLUDED.reopen_count), \
           resolved_by_system = CASE WHEN EXCLUDED.resolved_by_system IS NOT NULL AND (EXCLUDED.as_of >= ticket_facts.as_of \
               OR EXCLUDED.resolved_at IS NOT DISTINCT FROM ticket_facts.resolved_at) \
             THEN EXCLUDED.resolved_by_system ELSE ticket_facts.resolved_by_system END, \
           as_of = GREATEST(ticket_facts.as_of, EXCLUDED.as_of)",
    )
    .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, s)| s.ticket).collect::<Vec<_>>())
    .bind(col(|s| s.created_at))
    .bind(col(|s| s.first_response_at))
    .bind(col(|s| s.resolved_at))
    .bind(rows.iter().map(|(_, s)| s.status.as_str()).collect::<Vec<_>>())
    .bind(ids(|s| s.assignee))
    .bind(ids(|s| s.team))
    .bind(rows.iter().map(|(_, s)| s.reopen_count).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, s)| s.resolved_by_system).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, s)| s.as_of).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map(drop)
}

async fn message_at(
    conn: &mut PgConnection,
    org: Uuid,
    message: Uuid,
    conversation: Uuid,
    at: DateTime<Utc>,
    inbound: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO inbox_messages (organization_id, message_id, conversation_id, at, inbound) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(message)
    .bind(conversation)
    .bind(at)
    .bind(inbound)
    .execute(conn)
    .await
    .map(drop)
}

/// One more of `column` on the UTC day of `at`.
async fn day(conn: &mut PgConnection, org: Uuid, at: DateTime<Utc>, column: &'static str) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO inbox_daily (organization_id, day, {column}) VALUES ($1, ($2 AT TIME ZONE 'UTC')::date, 1) \
         ON CONFLICT (organization_id, day) DO UPDATE SET {column} = inbox_daily.{column} + 1"
    );
    sqlx::query(&sql).bind(org).bind(at).execute(conn).await.map(drop)
}

/// One period's support figures.
#[derive(Debug, sqlx::FromRow)]
pub struct PeriodRow {
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub created: i64,
    pub escalated: i64,
    pub resolved: i64,
    pub resolution_avg: Option<f64>,
    pub resolution_p90: Option<f64>,
    pub first_contact: i64,
    pub automated: i64,
    pub responded: i64,
    pub response_avg: Option<f64>,
    pub response_p90: Option<f64>,
    pub ratings: i64,
    pub csat: Option<f64>,
}

/// The figures of every `g` period from the one holding `from` to the one holding `to`'s
/// instant before, oldest first.
pub async fn performance(
    conn: &mut PgConnection,
    org: Uuid,
    g: Granularity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<PeriodRow>> {
    sqlx::query_as(
        "WITH b AS ( \
           SELECT s AS period_start, s + $3::interval AS period_end \
           FROM generate_series(date_trunc($2, $4::timestamptz, 'UTC'), $5::timestamptz - interval '1 microsecond', \
             $3::interval) s) \
         SELECT b.period_start, b.period_end, c.created, c.escalated, r.resolved, r.resolution_avg, r.resolution_p90, \
           r.first_contact, r.automated, f.responded, f.response_avg, f.response_p90, s.ratings, s.csat \
         FROM b \
         CROSS JOIN LATERAL (SELECT count(*) AS created, count(escalated_at) AS escalated FROM ticket_facts \
           WHERE organization_id = $1 AND NOT deleted AND created_at >= b.period_start AND created_at < b.period_end) c \
         CROSS JOIN LATERAL (SELECT count(*) AS resolved, avg(d) AS resolution_avg, \
             percentile_cont(0.9) WITHIN GROUP (ORDER BY d) AS resolution_p90, \
             count(*) FILTER (WHERE reopen_count = 0 AND agent_replies <= 1) AS first_contact, \
             count(*) FILTER (WHERE automated) AS automated \
           FROM (SELECT extract(epoch FROM resolved_at - created_at)::float8 AS d, reopen_count, agent_replies, \
               COALESCE(resolved_by_system, false) AND (first_reply_at IS NULL OR first_reply_at > resolved_at) AS automated \
             FROM ticket_facts WHERE organization_id = $1 AND NOT deleted \
               AND resolved_at >= b.period_start AND resolved_at < b.period_end) x) r \
         CROSS JOIN LATERAL (SELECT count(*) AS responded, avg(d) AS response_avg, \
             percentile_cont(0.9) WITHIN GROUP (ORDER BY d) AS response_p90 \
           FROM (SELECT extract(epoch FROM first_response_at - created_at)::float8 AS d FROM ticket_facts \
             WHERE organization_id = $1 AND NOT deleted AND created_at IS NOT NULL \
               AND first_response_at >= b.period_start AND first_response_at < b.period_end) x) f \
         CROSS JOIN LATERAL (SELECT count(*) AS ratings, avg(csat_rating)::float8 AS csat FROM ticket_facts \
           WHERE organization_id = $1 AND NOT deleted AND csat_at >= b.period_start AND csat_at < b.period_end) s \
         ORDER BY b.period_start",
    )
    .bind(org)
    .bind(g.field())
    .bind(g.interval())
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// The start and end of the `g` period holding `at`, and the start of the one before.
pub async fn period_of(
    conn: &mut PgConnection,
    g: Granularity,
    at: DateTime<Utc>,
) -> sqlx::Result<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> {
    sqlx::query_as("SELECT s, s + $2::interval, s - $2::interval FROM date_trunc($1, $3::timestamptz, 'UTC') s")
        .bind(g.field())
        .bind(g.interval())
        .bind(at)
        .fetch_one(conn)
        .await
}

/// One agent's figures in a period.
#[derive(Debug, sqlx::FromRow)]
pub struct AgentRow {
    pub agent_id: Uuid,
    pub handled: i64,
    pub resolved: i64,
    pub responded: i64,
    pub response_avg: Option<f64>,
    pub ratings: i64,
    pub csat: Option<f64>,
}

/// Per agent, the figures of `[start, end)`.
pub async fn team(
    conn: &mut PgConnection,
    org: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> sqlx::Result<Vec<AgentRow>> {
    sqlx::query_as(
        "WITH f AS (SELECT * FROM ticket_facts WHERE organization_id = $1 AND NOT deleted) \
         SELECT agent_id, sum(handled)::int8 AS handled, sum(resolved)::int8 AS resolved, \
           count(response) AS responded, avg(response) AS response_avg, count(rating) AS ratings, \
           avg(rating)::float8 AS csat \
         FROM ( \
           SELECT assignee_id AS agent_id, 1 AS handled, \
             (resolved_at >= $2 AND resolved_at < $3)::int AS resolved, NULL::float8 AS response, NULL::int2 AS rating \
           FROM f WHERE assignee_id IS NOT NULL \
             AND ((created_at >= $2 AND created_at < $3) OR (resolved_at >= $2 AND resolved_at < $3)) \
           UNION ALL \
           SELECT first_responder_id, 0, 0, extract(epoch FROM first_response_at - created_at)::float8, NULL \
           FROM f WHERE first_responder_id IS NOT NULL AND created_at IS NOT NULL \
             AND first_response_at >= $2 AND first_response_at < $3 \
           UNION ALL \
           SELECT csat_assignee_id, 0, 0, NULL, csat_rating FROM f \
           WHERE csat_assignee_id IS NOT NULL AND csat_at >= $2 AND csat_at < $3) x \
         GROUP BY agent_id ORDER BY agent_id",
    )
    .bind(org)
    .bind(start)
    .bind(end)
    .fetch_all(conn)
    .await
}

/// One day of the inbox.
#[derive(Debug, sqlx::FromRow)]
pub struct DayRow {
    pub day: NaiveDate,
    pub messages_received: i64,
    pub messages_sent: i64,
    pub conversations_new: i64,
    pub response_seconds: i64,
    pub responses: i64,
}

/// How far back a wait may have started and still be counted when answered.
const LONGEST_WAIT: &str = "30 days";

/// Every day from `from` to `to`, both included; days without traffic are zeros. A reply
/// answers the run of customer messages since our previous reply in the conversation, and
/// waited from the earliest of them (a run older than 30 days before `from` is not counted).
pub async fn inbox(conn: &mut PgConnection, org: Uuid, from: NaiveDate, to: NaiveDate) -> sqlx::Result<Vec<DayRow>> {
    sqlx::query_as(
        "WITH m AS ( \
           SELECT conversation_id, at, inbound, \
             count(*) FILTER (WHERE NOT inbound) OVER (PARTITION BY conversation_id \
               ORDER BY at, inbound DESC, message_id) AS replies_so_far \
           FROM inbox_messages WHERE organization_id = $1 \
             AND at >= ($2::date - $4::interval) AT TIME ZONE 'UTC' \
             AND at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'), \
         runs AS (SELECT conversation_id, replies_so_far, min(at) AS since FROM m WHERE inbound GROUP BY 1, 2), \
         answered AS ( \
           SELECT (m.at AT TIME ZONE 'UTC')::date AS day, count(*) AS responses, \
             round(sum(extract(epoch FROM m.at - r.since)))::int8 AS response_seconds \
           FROM m JOIN runs r ON r.conversation_id = m.conversation_id AND r.replies_so_far = m.replies_so_far - 1 \
           WHERE NOT m.inbound AND m.at >= $2::date::timestamp AT TIME ZONE 'UTC' GROUP BY 1) \
         SELECT d::date AS day, COALESCE(i.messages_received, 0) AS messages_received, \
           COALESCE(i.messages_sent, 0) AS messages_sent, COALESCE(i.conversations_new, 0) AS conversations_new, \
           COALESCE(a.response_seconds, 0) AS response_seconds, COALESCE(a.responses, 0) AS responses \
         FROM generate_series($2::date, $3::date, interval '1 day') d \
         LEFT JOIN inbox_daily i ON i.organization_id = $1 AND i.day = d::date \
         LEFT JOIN answered a ON a.day = d::date \
         ORDER BY d",
    )
    .bind(org)
    .bind(from)
    .bind(to)
    .bind(LONGEST_WAIT)
    .fetch_all(conn)
    .await
}

//! Tickets: reading (by id or number), locking, numbering and writing the row.

use platform::cache::touch;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ticket::Ticket;

/// Every column of `tickets` but the search vectors (NUMERIC read as float8).
pub const COLUMNS: &str = "id, organization_id, number, subject, description, status, priority, severity, \
    category, tags, project_id, customer_id, requester_user_id, requester_email, requester_name, assignee_id, \
    team_id, due_at, estimated_hours::float8 AS estimated_hours, actual_minutes, source, conversation_id, \
    sentiment, csat_rating, csat_comment, csat_at, first_response_at, last_replied_at, resolved_at, closed_at, \
    reopen_count, merged_into_id, follow_up_of_id, sla_policy_id, first_response_due_at, resolution_due_at, \
    sla_paused_at, first_response_breached_at, resolution_breached_at, queued_at, created_by, created_at, \
    updated_at";

/// How a client names a ticket: its id or its number (`TKT-2025-000042`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRef {
    Id(Uuid),
    Number(String),
}

impl From<Uuid> for TicketRef {
    fn from(id: Uuid) -> Self {
        TicketRef::Id(id)
    }
}

impl From<&str> for TicketRef {
    /// A UUID is an id; anything else a number (numbers are upper case; matched as given).
    fn from(s: &str) -> Self {
        match s.parse() {
            Ok(id) => TicketRef::Id(id),
            Err(_) => TicketRef::Number(s.to_ascii_uppercase()),
        }
    }
}

impl From<&String> for TicketRef {
    fn from(s: &String) -> Self {
        TicketRef::from(s.as_str())
    }
}

/// A ticket of `org` by id or number.
pub async fn get(conn: &mut PgConnection, org: Uuid, key: impl Into<TicketRef>) -> sqlx::Result<Option<Ticket>> {
    match key.into() {
        TicketRef::Id(id) => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM tickets WHERE id = $1 AND organization_id = $2"))
                .bind(id)
                .bind(org)
                .fetch_optional(conn)
                .await
        }
        TicketRef::Number(number) => {
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM tickets WHERE number = $1 AND organization_id = $2"))
                .bind(number)
                .bind(org)
                .fetch_optional(conn)
                .await
        }
    }
}

/// The ticket `id` of `org`, locked (`FOR UPDATE`) for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Ticket>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tickets WHERE id = $1 AND organization_id = $2 FOR UPDATE"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// The next number of `org` for this year, from the counter row: the row stays locked until the
/// transaction ends, so concurrent creators queue on it and a rollback gives the number back.
pub async fn next_number(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<String> {
    let (prefix, year, n): (String, i32, i64) = sqlx::query_as(
        "WITH bump AS ( \
           INSERT INTO ticket_counters (organization_id, year, last_number) \
           VALUES ($1, extract(year FROM now() AT TIME ZONE 'UTC')::int, 1) \
           ON CONFLICT (organization_id, year) DO UPDATE SET last_number = ticket_counters.last_number + 1 \
           RETURNING year, last_number) \
         SELECT COALESCE((SELECT ticket_prefix FROM desk_settings WHERE organization_id = $1), 'TKT'), \
                bump.year, bump.last_number FROM bump",
    )
    .bind(org)
    .fetch_one(conn)
    .await?;
    Ok(crate::domain::ticket::number(&prefix, year, n))
}

/// Inserts `t` (as built by the service, numbered) with its search vectors.
pub async fn insert(conn: &mut PgConnection, t: &Ticket) -> sqlx::Result<Ticket> {
    sqlx::query_as(&format!(
        "INSERT INTO tickets (id, organization_id, number, subject, description, status, priority, severity, \
           category, tags, project_id, customer_id, requester_user_id, requester_email, requester_name, assignee_id, \
           team_id, due_at, estimated_hours, source, conversation_id, follow_up_of_id, created_by, \
           search_public, search_all) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::float8::numeric, \
           $20, $21, $22, $23, {V}, {V}) \
         RETURNING {COLUMNS}",
        V = "setweight(to_tsvector('english', $4), 'A') || setweight(to_tsvector('english', $5), 'B')"
    ))
    .bind(t.id)
    .bind(t.organization_id)
    .bind(&t.number)
    .bind(&t.subject)
    .bind(&t.description)
    .bind(t.status)
    .bind(t.priority)
    .bind(t.severity)
    .bind(t.category)
    .bind(&t.tags)
    .bind(t.project_id)
    .bind(t.customer_id)
    .bind(t.requester_user_id)
    .bind(&t.requester_email)
    .bind(&t.requester_name)
    .bind(t.assignee_id)
    .bind(t.team_id)
    .bind(t.due_at)
    .bind(t.estimated_hours)
    .bind(t.source)
    .bind(t.conversation_id)
    .bind(t.follow_up_of_id)
    .bind(t.created_by)
    .fetch_one(conn)
    .await
}

/// Writes the fields the core owns from `t` (SLA, queue, CSAT and time columns are written by
/// their own statements). Setting an assignee takes the ticket out of its team's queue.
pub async fn write(conn: &mut PgConnection, t: &Ticket) -> sqlx::Result<Ticket> {
    touch(t.id);
    sqlx::query_as(&format!(
        "UPDATE tickets SET subject = $3, description = $4, status = $5, priority = $6, severity = $7, \
           category = $8, tags = $9, project_id = $10, customer_id = $11, requester_user_id = $12, \
           requester_email = $13, requester_name = $14, assignee_id = $15, team_id = $16, due_at = $17, \
           estimated_hours = $18::float8::numeric, conversation_id = $19, sentiment = $20, first_response_at = $21, \
           last_replied_at = $22, resolved_at = $23, closed_at = $24, reopen_count = $25, merged_into_id = $26, \
           queued_at = CASE WHEN $15::uuid IS NULL THEN queued_at END \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(t.id)
    .bind(t.organization_id)
    .bind(&t.subject)
    .bind(&t.description)
    .bind(t.status)
    .bind(t.priority)
    .bind(t.severity)
    .bind(t.category)
    .bind(&t.tags)
    .bind(t.project_id)
    .bind(t.customer_id)
    .bind(t.requester_user_id)
    .bind(&t.requester_email)
    .bind(&t.requester_name)
    .bind(t.assignee_id)
    .bind(t.team_id)
    .bind(t.due_at)
    .bind(t.estimated_hours)
    .bind(t.conversation_id)
    .bind(t.sentiment)
    .bind(t.first_response_at)
    .bind(t.last_replied_at)
    .bind(t.resolved_at)
    .bind(t.closed_at)
    .bind(t.reopen_count)
    .bind(t.merged_into_id)
    .fetch_one(conn)
    .await
}

/// Recomputes both search vectors from the subject, the description and the comments (public
/// ones only in `search_public`): after the words changed or comments moved.
pub async fn refresh_search(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tickets t SET \
           search_public = setweight(to_tsvector('english', t.subject), 'A') \
             || setweight(to_tsvector('english', t.description), 'B') \
             || setweight(to_tsvector('english', COALESCE((SELECT string_agg(c.body, ' ' ORDER BY c.created_at) \
                  FROM ticket_comments c WHERE c.ticket_id = t.id AND NOT c.is_internal), '')), 'C'), \
           search_all = setweight(to_tsvector('english', t.subject), 'A') \
             || setweight(to_tsvector('english', t.description), 'B') \
             || setweight(to_tsvector('english', COALESCE((SELECT string_agg(c.body, ' ' ORDER BY c.created_at) \
                  FROM ticket_comments c WHERE c.ticket_id = t.id), '')), 'C') \
         WHERE t.id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds a comment's words to the ticket's vectors (a note's only to `search_all`).
pub async fn index_comment(conn: &mut PgConnection, id: Uuid, body: &str, internal: bool) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tickets SET \
           search_public = CASE WHEN $3 THEN search_public \
             ELSE search_public || setweight(to_tsvector('english', $2), 'C') END, \
           search_all = search_all || setweight(to_tsvector('english', $2), 'C') \
         WHERE id = $1",
    )
    .bind(id)
    .bind(body)
    .bind(internal)
    .execute(conn)
    .await?;
    Ok(())
}

/// The customer profile of the signed-in user `user`, if any.
pub async fn profile_of_user(conn: &mut PgConnection, org: Uuid, user: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM customer_profiles WHERE organization_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Whether `id` is a customer profile of `org`.
pub async fn customer_exists(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customer_profiles WHERE id = $1 AND organization_id = $2)")
        .bind(id)
        .bind(org)
        .fetch_one(conn)
        .await
}

/// Whether `id` is a project of `org`.
pub async fn project_exists(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1 AND organization_id = $2)")
        .bind(id)
        .bind(org)
        .fetch_one(conn)
        .await
}

/// The tier of customer profile `id` (for rules).
pub async fn customer_tier(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT tier FROM customer_profiles WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Records the CSAT rating unless one was given already; whether it was recorded.
pub async fn rate(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    rating: i16,
    comment: Option<&str>,
) -> sqlx::Result<bool> {
    touch(id);
    let done = sqlx::query(
        "UPDATE tickets SET csat_rating = $3, csat_comment = $4, csat_at = now() \
         WHERE id = $1 AND organization_id = $2 AND csat_rating IS NULL",
    )
    .bind(id)
    .bind(org)
    .bind(rating)
    .bind(comment)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds `minutes` (negative to take back) to the ticket's actual time.
pub async fn add_minutes(conn: &mut PgConnection, org: Uuid, id: Uuid, minutes: i64) -> sqlx::Result<i64> {
    touch(id);
    sqlx::query_scalar(
        "UPDATE tickets SET actual_minutes = GREATEST(actual_minutes + $3, 0) \
         WHERE id = $1 AND organization_id = $2 RETURNING actual_minutes",
    )
    .bind(id)
    .bind(org)
    .bind(minutes)
    .fetch_one(conn)
    .await
}

/// Whether other tickets were merged into `id` (which keeps it from being deleted).
pub async fn has_merged_sources(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE merged_into_id = $1)").bind(id).fetch_one(conn).await
}

/// Deletes the ticket (comments, history, attachments, time and watchers go with it); the
/// follow-ups it has keep existing without the link.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    // Its follow-ups change too, unnamed here.
    platform::cache::touch_all();
    sqlx::query("UPDATE tickets SET follow_up_of_id = NULL WHERE organization_id = $1 AND follow_up_of_id = $2")
        .bind(org)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM tickets WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

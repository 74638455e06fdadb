//! Lists and search of tickets: every filter, four sorts plus relevance, keyset positions (no
//! offsets, so no page is too deep and nothing caps the results).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::tickets::COLUMNS;
use crate::domain::ticket::{Priority, Status, Ticket};

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    Created,
    /// Most recently changed first.
    Updated,
    /// Urgent first, then newest.
    Priority,
    /// Resolution due soonest first; tickets without a due time last.
    SlaDue,
    /// Best `ts_rank` first (with a search query).
    Relevance,
}

/// Where the previous page ended, in the terms of its sort.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    Time(DateTime<Utc>, Uuid),
    Priority(i16, DateTime<Utc>, Uuid),
    Due(Option<DateTime<Utc>>, Uuid),
    Rank(f32, Uuid),
}

/// `sla=`: tickets past a target, or close to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// A target was missed: marked breached by the scanner, or due and unmet while running.
    Breached,
    /// Running, not breached, and a target is due within its at-risk window (a quarter of the
    /// policy's target, at least an hour: `domain::sla::at_risk_window_seconds`).
    AtRisk,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub org: Uuid,
    /// Agents see every ticket and search notes too; customers their own and public text.
    pub staff: bool,
    pub user: Option<Uuid>,
    pub profile: Option<Uuid>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub tag: Option<String>,
    /// A tsquery (from `fields::search_query`).
    pub query: Option<String>,
    pub sla: Option<SlaFilter>,
    pub sort: Sort,
    pub limit: i64,
    pub after: Option<After>,
}

/// A listed ticket with what its position is made of.
pub struct Listed {
    pub ticket: Ticket,
    pub rank: f32,
}

const PRIORITY_RANK: &str =
    "(CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END)::int2";

/// One page (`limit + 1` rows: the extra one says there is more).
pub async fn page(conn: &mut PgConnection, f: &Filter) -> sqlx::Result<Vec<Listed>> {
    let vector = if f.staff { "search_all" } else { "search_public" };
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!("SELECT * FROM (SELECT {COLUMNS}, "));
    match &f.query {
        Some(text) => {
            q.push(format!("ts_rank({vector}, to_tsquery('english', "));
            q.push_bind(text.clone());
            q.push(")) AS rank");
        }
        None => {
            q.push("0::real AS rank");
        }
    }
    q.push(format!(", {PRIORITY_RANK} AS priority_rank FROM tickets WHERE organization_id = "));
    q.push_bind(f.org);
    if !f.staff {
        q.push(" AND (requester_user_id = ");
        q.push_bind(f.user);
        q.push(" OR customer_id = ");
        q.push_bind(f.profile);
        q.push(")");
    }
    match f.status {
        Some(s) => {
            q.push(" AND status = ").push_bind(s);
        }
        // Merged tickets live on in their targets.
        None => {
            q.push(" AND status <> 'merged'");
        }
    }
    if let Some(p) = f.priority {
        q.push(" AND priority = ").push_bind(p);
    }
    if let Some(a) = f.assignee_id {
        q.push(" AND assignee_id = ").push_bind(a);
    }
    if let Some(t) = f.team_id {
        q.push(" AND team_id = ").push_bind(t);
    }
    if let Some(c) = f.customer_id {
        q.push(" AND customer_id = ").push_bind(c);
    }
    if let Some(tag) = &f.tag {
        q.push(" AND tags @> ARRAY[").push_bind(tag.clone()).push("]::text[]");
    }
    if let Some(text) = &f.query {
        q.push(format!(" AND {vector} @@ to_tsquery('english', ")).push_bind(text.clone()).push(")");
    }
    let running = "status IN ('open', 'in_progress') AND sla_paused_at IS NULL";
    let first_unmet = "first_response_at IS NULL AND first_response_due_at IS NOT NULL";
    match f.sla {
        Some(SlaFilter::Breached) => {
            q.push(format!(
                " AND (first_response_breached_at IS NOT NULL OR resolution_breached_at IS NOT NULL \
                   OR ({running} AND (({first_unmet} AND first_response_due_at <= now()) OR resolution_due_at <= now())))"
            ));
        }
        Some(SlaFilter::AtRisk) => {
            // `domain::sla::at_risk_window_seconds`: a quarter of the policy's target, at least
            // an hour.
            let window = |target: &str| {
                format!(
                    "now() + make_interval(secs => GREATEST(COALESCE((SELECT p.{target} FROM sla_policies p \
                     WHERE p.id = tickets.sla_policy_id), 0) * 15, 3600))"
                )
            };
            q.push(format!(
                " AND {running} AND first_response_breached_at IS NULL AND resolution_breached_at IS NULL \
                   AND NOT ({first_unmet} AND first_response_due_at <= now()) AND NOT (resolution_due_at <= now()) \
                   AND (({first_unmet} AND first_response_due_at <= {}) OR resolution_due_at <= {})",
                window("first_response_minutes"),
                window("resolution_minutes"),
            ));
        }
        None => {}
    }
    q.push(") s WHERE true");
    match f.after {
        Some(After::Time(t, id)) => {
            let column = if f.sort == Sort::Updated { "updated_at" } else { "created_at" };
            q.push(format!(" AND ({column}, id) < (")).push_bind(t).push(", ").push_bind(id).push(")");
        }
        Some(After::Priority(rank, t, id)) => {
            q.push(" AND (priority_rank > ").push_bind(rank);
            q.push(" OR (priority_rank = ").push_bind(rank);
            q.push(" AND (created_at, id) < (").push_bind(t).push(", ").push_bind(id).push(")))");
        }
        Some(After::Due(Some(t), id)) => {
            q.push(" AND (resolution_due_at > ").push_bind(t);
            q.push(" OR (resolution_due_at = ").push_bind(t).push(" AND id > ").push_bind(id);
            q.push(") OR resolution_due_at IS NULL)");
        }
        Some(After::Due(None, id)) => {
            q.push(" AND resolution_due_at IS NULL AND id > ").push_bind(id);
        }
        Some(After::Rank(r, id)) => {
            q.push(" AND (rank, id) < (").push_bind(r).push("::real, ").push_bind(id).push(")");
        }
        None => {}
    }
    q.push(match f.sort {
        Sort::Created => " ORDER BY created_at DESC, id DESC",
        Sort::Updated => " ORDER BY updated_at DESC, id DESC",
        Sort::Priority => " ORDER BY priority_rank, created_at DESC, id DESC",
        Sort::SlaDue => " ORDER BY resolution_due_at ASC NULLS LAST, id ASC",
        Sort::Relevance => " ORDER BY rank DESC, id DESC",
    });
    q.push(" LIMIT ").push_bind(f.limit + 1);
    let rows: Vec<PgRow> = q.build().fetch_all(conn).await?;
    rows.iter().map(|r| Ok(Listed { ticket: Ticket::from_row(r)?, rank: r.try_get("rank")? })).collect()
}

//! What billing-metrics deletes once it is of no use, on top of the platform's own tables: the
//! activity log and the message times after 400 days (a year of figures and their previous
//! period). Counters, ticket facts and the daily inbox figures stay.

use platform::retention::Retention;
use sqlx::PgPool;

/// The retention job billing-metrics runs.
pub fn rules(pool: PgPool) -> Retention {
    Retention::new(pool)
        .rule(
            "activity older than 400 days",
            "DELETE FROM activity_logs WHERE id IN (SELECT id FROM activity_logs \
             WHERE created_at < now() - interval '400 days' LIMIT 1000)",
        )
        // Message times serve response times; the daily figures stay.
        .rule(
            "inbox message times older than 400 days",
            "DELETE FROM inbox_messages WHERE (organization_id, message_id) IN (SELECT organization_id, message_id \
             FROM inbox_messages WHERE at < now() - interval '400 days' LIMIT 1000)",
        )
}

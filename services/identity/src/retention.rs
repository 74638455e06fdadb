//! What identity deletes once it is of no use, on top of the platform's own tables. Horizons
//! are fixed and generous: each row is dead well before (tokens past expiry or use, sessions
//! past their absolute lifetime); the margin keeps them for a day or a week of support
//! questions ("my link did not work").

use platform::retention::Retention;
use sqlx::PgPool;

/// The retention job identity runs (see the rules below).
pub fn rules(pool: PgPool) -> Retention {
    Retention::new(pool)
        // Counters of an address whose window ended and whose lock ran out long ago.
        .rule(
            "login_throttle",
            "DELETE FROM login_throttle WHERE ctid IN (SELECT ctid FROM login_throttle \
             WHERE window_started_at < now() - interval '1 day' \
               AND (locked_until IS NULL OR locked_until < now() - interval '1 day') \
               AND (pending_since IS NULL OR pending_since < now() - interval '1 day') LIMIT 1000)",
        )
        // Ended sessions: past their absolute lifetime, or revoked; refresh tokens go with them.
        .rule(
            "sessions",
            "DELETE FROM sessions WHERE ctid IN (SELECT ctid FROM sessions \
             WHERE absolute_expires_at < now() - interval '7 days' OR revoked_at < now() - interval '7 days' LIMIT 1000)",
        )
        // Refresh tokens of live sessions pile up, one per refresh; an expired one is refused
        // whether or not it is kept.
        .rule(
            "refresh_tokens",
            "DELETE FROM refresh_tokens WHERE ctid IN (SELECT ctid FROM refresh_tokens \
             WHERE expires_at < now() - interval '1 day' LIMIT 1000)",
        )
        .rule(
            "password_resets",
            "DELETE FROM password_resets WHERE ctid IN (SELECT ctid FROM password_resets \
             WHERE expires_at < now() - interval '1 day' OR used_at < now() - interval '1 day' LIMIT 1000)",
        )
        .rule(
            "email_verifications",
            "DELETE FROM email_verifications WHERE ctid IN (SELECT ctid FROM email_verifications \
             WHERE expires_at < now() - interval '1 day' OR used_at < now() - interval '1 day' LIMIT 1000)",
        )
        // Accepted invitations stay (one per member: they say who invited whom); cancelled and
        // expired ones go a month after they stopped working.
        .rule(
            "invitations",
            "DELETE FROM invitations WHERE ctid IN (SELECT ctid FROM invitations \
             WHERE status <> 'accepted' AND expires_at < now() - interval '30 days' LIMIT 1000)",
        )
}

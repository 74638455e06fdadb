//! Sign-in throttling, keyed by the normalised email whether or not an account has it.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};

/// Reserves a sign-in attempt for `email` before its password is checked: `Some(seconds)` when
/// it must be refused — the email is locked out, or the failures so far plus the attempts in
/// flight already reach `threshold` (then briefly, until those are decided). A burst of parallel
/// guesses is thereby cut at the threshold; concurrent successful sign-ins never lock. One
/// conditional `UPDATE` decides, under the row's lock, from the row's own values.
pub async fn reserve(pool: &PgPool, email: &str, window: Duration, threshold: i32) -> sqlx::Result<Option<u64>> {
    sqlx::query("INSERT INTO login_throttle (email) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(email)
        .execute(pool)
        .await?;
    // A lock that ran out, or a window that ended, starts a new count; reservations of requests
    // that died without deciding (over a minute old) are dropped.
    let reserved = sqlx::query(
        "UPDATE login_throttle t SET \
           failures = CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                           THEN 0 ELSE t.failures END, \
           window_started_at = CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                           THEN now() ELSE t.window_started_at END, \
           locked_until = NULL, \
           pending = CASE WHEN t.pending_since IS NULL OR t.pending_since < now() - interval '1 minute' THEN 0 ELSE t.pending END + 1, \
           pending_since = now() \
         WHERE t.email = $1 AND (t.locked_until IS NULL OR t.locked_until <= now()) \
           AND CASE WHEN t.locked_until IS NOT NULL OR t.window_started_at < now() - make_interval(secs => $2) \
                    THEN 0 ELSE t.failures END \
             + CASE WHEN t.pending_since IS NULL OR t.pending_since < now() - interval '1 minute' THEN 0 ELSE t.pending END < $3",
    )
    .bind(email)
    .bind(window.as_secs_f64())
    .bind(threshold)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    if reserved {
        return Ok(None);
    }
    let locked_for: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM (locked_until - now()))::float8 FROM login_throttle WHERE email = $1 AND locked_until > now()",
    )
    .bind(email)
    .fetch_optional(pool)
    .await?;
    Ok(Some(locked_for.map_or(1, |s| s.ceil().max(1.0) as u64)))
}

/// Decides a reserved attempt as a failure: it counts, and the threshold-th locks the email
/// for `lock_for`.
pub async fn failure(pool: &PgPool, email: &str, threshold: i32, lock_for: Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE login_throttle SET pending = GREATEST(pending - 1, 0), \
           failures = CASE WHEN failures + 1 >= $2 THEN 0 ELSE failures + 1 END, \
           locked_until = CASE WHEN failures + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END, \
           window_started_at = CASE WHEN failures + 1 >= $2 THEN now() ELSE window_started_at END \
         WHERE email = $1",
    )
    .bind(email)
    .bind(threshold)
    .bind(lock_for.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// Decides a reserved attempt as a success: failures are forgiven.
pub async fn success(conn: &mut PgConnection, email: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE login_throttle SET pending = GREATEST(pending - 1, 0), failures = 0 WHERE email = $1")
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

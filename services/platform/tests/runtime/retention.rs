//! Retention: what aged out goes, what is fresh stays, a service's own rule runs, and replicas
//! running the job together do not both work.

use platform::retention::Retention;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{count, setup};

/// Old and fresh rows in every platform table, and in the test's own `effects`.
async fn seed(pool: &PgPool) {
    for age in ["25 hours", "1 hour"] {
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, status, created_at) \
             VALUES ('s', $1, '\\x00', 201, now() - $1::interval)",
        )
        .bind(age)
        .execute(pool)
        .await
        .unwrap();
    }
    for age in ["15 days", "13 days"] {
        sqlx::query(
            "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ('c', $1, now() - $2::interval)",
        )
        .bind(Uuid::now_v7())
        .bind(age)
        .execute(pool)
        .await
        .unwrap();
    }
    // (age, expires in): old; expired although fresh; fresh and expiring later; fresh.
    for (age, expires) in
        [("31 days", None), ("1 hour", Some("-1 minute")), ("1 hour", Some("1 day")), ("1 hour", None)]
    {
        sqlx::query(
            "INSERT INTO dead_letters (consumer, subject, payload, error, deliveries, created_at, expires_at) \
             VALUES ('c', 's', '\\x00', 'e', 1, now() - $1::interval, now() + $2::interval)",
        )
        .bind(age)
        .bind(expires)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO effects (event_id, attempt) VALUES ($1, 1000), ($1, 1)")
        .bind(Uuid::now_v7())
        .execute(pool)
        .await
        .unwrap();
}

const EFFECTS_RULE: &str =
    "DELETE FROM effects WHERE ctid IN (SELECT ctid FROM effects WHERE attempt >= 1000 LIMIT 1000)";

async fn counts(pool: &PgPool) -> [i64; 4] {
    [
        count(pool, "SELECT count(*) FROM idempotency_keys").await,
        count(pool, "SELECT count(*) FROM processed_events").await,
        count(pool, "SELECT count(*) FROM dead_letters").await,
        count(pool, "SELECT count(*) FROM effects").await,
    ]
}

#[tokio::test]
async fn aged_rows_are_deleted_and_fresh_ones_stay() {
    let (pool, _bus) = setup().await;
    seed(&pool).await;
    let deleted = Retention::new(pool.clone()).rule("effects", EFFECTS_RULE).run_once().await.unwrap();
    assert_eq!(deleted, 5);
    assert_eq!(counts(&pool).await, [1, 1, 2, 1]);
    let fresh: Vec<bool> =
        sqlx::query_scalar("SELECT expires_at IS NULL FROM dead_letters ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(fresh, vec![false, true], "the one expiring later and the one without expiry stay");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM idempotency_keys WHERE created_at > now() - interval '2 hours'").await,
        1
    );
}

#[tokio::test]
async fn one_replica_at_a_time_runs_the_job() {
    let (pool, _bus) = setup().await;
    seed(&pool).await;

    // Another replica holds the job's lock: this one does nothing, and says so without failing.
    let mut other = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(platform::retention::LOCK_KEY).execute(&mut *other).await.unwrap();
    let job = Retention::new(pool.clone()).rule("effects", EFFECTS_RULE);
    assert_eq!(job.run_once().await.unwrap(), 0);
    assert_eq!(counts(&pool).await, [2, 2, 4, 2]);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(platform::retention::LOCK_KEY)
        .execute(&mut *other)
        .await
        .unwrap();

    // Two replicas at once: neither fails, and the rows go once between them.
    let a = Retention::new(pool.clone()).rule("effects", EFFECTS_RULE);
    let b = Retention::new(pool.clone()).rule("effects", EFFECTS_RULE);
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert_eq!(ra.unwrap() + rb.unwrap(), 5);
    assert_eq!(counts(&pool).await, [1, 1, 2, 1]);
}

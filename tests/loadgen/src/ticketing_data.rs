//! The ticketing data set: 200,000 tickets with exactly 1,000,000 comments in one organization,
//! written with `generate_series` straight into ticketing's tables in well under a minute.
//!
//! Everything is a function of the ticket's ordinal `i` (through a multiplicative hash `h`), so
//! every run has the same data. Older tickets are mostly closed, the recent 15% are the live
//! backlog (open, in progress, waiting); 20 teams, 40 agents, 20,000 customers, the four SLA
//! policies of a typical desk and their due times, breaches stamped as the scanner would.
//! Search vectors are what `store::tickets::refresh_search` computes: subject (A), description
//! (B) and the comments in order (C), public comments only in `search_public`.
//!
//! Vocabulary: each subject is one of ten themes (`i % 10`); theme 0 alone says "refund", so
//! `q=refund` matches exactly 10% of the tickets. Each description names an order code
//! `ORD0000`…`ORD1999` (from the hash), so `q=ord0421` matches about 100.

use std::time::Instant;

use sqlx::PgPool;
use uuid::Uuid;

pub const TICKETS: i32 = 200_000;
pub const COMMENTS: i32 = 1_000_000;
pub const TEAMS: usize = 20;
const AGENTS: usize = 40;
const CUSTOMERS: i32 = 20_000;

/// What a search of the data set can be run against.
pub struct DataSet {
    pub teams: Vec<Uuid>,
}

/// `h`: a hash of `i`, uniform over 0..2^32, from which every other choice is derived.
const HASH: &str = "(i::bigint * 2654435761) % 4294967296";

/// The comments of ticket `t.i`, one row each: ordinal `j`, author kind, whether a note, body.
/// Ticket `i` has 1 to 9 comments; each pair of tickets has 10, so the total is exactly 5 × N.
const COMMENT_ROWS: &str = "SELECT j, hj, \
      CASE WHEN j % 2 = 1 THEN 'customer' ELSE 'agent' END AS kind, \
      (j % 2 = 0 AND hj % 5 = 0) AS internal, \
      CASE WHEN j % 2 = 1 THEN \
          (ARRAY['Any update on this?', 'I tried that and it still does not work.', 'Here is a screenshot of the error.', \
                 'This is blocking my whole team today.', 'Thank you, that fixed it!', 'Could you call me back tomorrow morning?', \
                 'It happened again this afternoon.', 'I am using the latest version on Android.'])[1 + hj % 8] \
          || ' ' || (ARRAY['Best regards.', 'Cheers.', 'Kind regards, waiting for news.', '', 'Sent from my phone.', \
                 'Please hurry.'])[1 + (hj / 8) % 6] \
        WHEN hj % 5 = 0 THEN \
          (ARRAY['Internal: checked the logs, looks like the sync job failed overnight.', \
                 'Internal: escalating to the platform team, see incident channel.', \
                 'Internal: customer is on the enterprise plan, handle with care.', \
                 'Internal: duplicate of an older report, linking them.'])[1 + (hj / 8) % 4] \
        ELSE 'Thanks for reaching out. ' || \
          (ARRAY['Could you tell us which browser you are using?', 'We have forwarded this to our engineers.', \
                 'Please clear the cache and sign in again.', 'The fix will ship with the next release.', \
                 'Can you confirm the email address on the account?', 'We reset the configuration on our side.', \
                 'Our logs show the request succeeded; could you check again?', \
                 'I am closing this for now; reply to reopen it.'])[1 + (hj / 8) % 8] \
      END AS body \
    FROM (SELECT j, ((t.i::bigint * 31 + j) * 2654435761) % 4294967296 AS hj \
          FROM generate_series(1, CASE WHEN t.i % 2 = 1 THEN 5 - ((t.i + 1) / 2) % 5 ELSE 5 + ((t.i + 1) / 2) % 5 END) AS j) g";

/// Writes the data set for `org`; the teams it uses.
pub async fn seed(pool: &PgPool, org: Uuid) -> anyhow::Result<DataSet> {
    let teams: Vec<Uuid> = (0..TEAMS).map(|_| Uuid::now_v7()).collect();
    let agents: Vec<Uuid> = (0..AGENTS).map(|_| Uuid::now_v7()).collect();
    // low, normal, high, urgent
    let policies: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let mut conn = pool.acquire().await?;
    sqlx::query("SET maintenance_work_mem = '512MB'").execute(&mut *conn).await?;
    sqlx::query("SET synchronous_commit = off").execute(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO sla_policies (id, organization_id, name, priority, first_response_minutes, resolution_minutes) \
         SELECT p.id, $1, initcap(p.priority) || ' tickets', p.priority, p.fr, p.res \
         FROM unnest($2::uuid[], ARRAY['low', 'normal', 'high', 'urgent'], ARRAY[1440, 480, 240, 60], \
                     ARRAY[10080, 2880, 1440, 240]) AS p(id, priority, fr, res)",
    )
    .bind(org)
    .bind(&policies)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_profiles (id, organization_id, email, name, tier, created_at) \
         SELECT gen_random_uuid(), $1, 'customer' || c || '@example.com', 'Customer ' || c, \
           (ARRAY['free', 'starter', 'pro', 'enterprise'])[1 + c % 4], now() - make_interval(days => c % 700) \
         FROM generate_series(1, $2) AS c",
    )
    .bind(org)
    .bind(CUSTOMERS)
    .execute(&mut *conn)
    .await?;
    let customers: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM customer_profiles WHERE organization_id = $1 ORDER BY email")
            .bind(org)
            .fetch_all(&mut *conn)
            .await?;

    // The search indexes are built once after the load (as a bulk build), with their own
    // definitions read back from the catalog.
    let search_indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = 'tickets' \
           AND indexname IN ('tickets_search_public', 'tickets_search_all')",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &search_indexes {
        sqlx::query(&format!(r#"DROP INDEX "{name}""#)).execute(&mut *conn).await?;
    }

    let started = Instant::now();
    sqlx::query(&tickets_insert())
        .bind(org)
        .bind(&teams)
        .bind(&agents)
        .bind(&policies)
        .bind(&customers)
        .bind(TICKETS)
        .execute(&mut *conn)
        .await?;
    let tickets_took = started.elapsed();
    let started = Instant::now();
    sqlx::query(&format!(
        "INSERT INTO ticket_comments (id, organization_id, ticket_id, author_kind, author_id, customer_id, body, \
           is_internal, source, created_at, updated_at) \
         SELECT gen_random_uuid(), $1, t.id, c.kind, \
           CASE WHEN c.kind = 'agent' THEN ($2::uuid[])[1 + (c.hj / 64) % {AGENTS}] END, \
           CASE WHEN c.kind = 'customer' THEN t.customer_id END, c.body, c.internal, \
           CASE WHEN c.kind = 'customer' THEN t.source ELSE 'web' END, \
           LEAST(t.created_at + make_interval(mins => c.j * 47), now()), \
           LEAST(t.created_at + make_interval(mins => c.j * 47), now()) \
         FROM (SELECT id, customer_id, source, created_at, right(number, 6)::int AS i FROM tickets \
               WHERE organization_id = $1) t, LATERAL ({COMMENT_ROWS}) c"
    ))
    .bind(org)
    .bind(&agents)
    .execute(&mut *conn)
    .await?;
    let comments_took = started.elapsed();
    let started = Instant::now();
    for (_, def) in &search_indexes {
        sqlx::query(def).execute(&mut *conn).await?;
    }
    sqlx::query(
        "INSERT INTO ticket_counters (organization_id, year, last_number) \
         VALUES ($1, extract(year FROM now() AT TIME ZONE 'UTC')::int, $2)",
    )
    .bind(org)
    .bind(TICKETS)
    .execute(&mut *conn)
    .await?;
    for table in ["tickets", "ticket_comments", "customer_profiles", "sla_policies", "ticket_counters"] {
        sqlx::query(&format!("VACUUM (ANALYZE) {table}")).execute(&mut *conn).await?;
    }
    println!(
        "data set: {TICKETS} tickets in {:.1} s, {COMMENTS} comments in {:.1} s, search indexes and VACUUM ANALYZE in {:.1} s",
        tickets_took.as_secs_f64(),
        comments_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(DataSet { teams })
}

/// The tickets, built in three layers: the hash and age; status, priority and times; the row.
fn tickets_insert() -> String {
    let n = "$6";
    let statuses = format!(
        "SELECT i, h, created_at, \
           CASE WHEN recent THEN (CASE WHEN h % 20 < 10 THEN 'open' WHEN h % 20 < 15 THEN 'in_progress' \
                                       WHEN h % 20 < 18 THEN 'waiting' ELSE 'resolved' END) \
                ELSE (CASE WHEN h % 100 = 0 THEN 'open' WHEN h % 100 = 1 THEN 'in_progress' \
                           WHEN h % 100 < 22 THEN 'resolved' ELSE 'closed' END) END AS status, \
           CASE WHEN (h / 13) % 10 = 0 THEN 4 WHEN (h / 13) % 10 < 3 THEN 3 WHEN (h / 13) % 10 < 8 THEN 2 ELSE 1 END AS p \
         FROM (SELECT i, {HASH} AS h, i > {n} * 85 / 100 AS recent, \
                 now() - make_interval(mins => ({n} - i) * 2) AS created_at \
               FROM generate_series(1, {n}) AS i) base"
    );
    let rows = format!(
        "SELECT s.*, \
           (ARRAY['low', 'normal', 'high', 'urgent'])[p] AS priority, \
           s.created_at + make_interval(mins => (ARRAY[1440, 480, 240, 60])[p]) AS fr_due, \
           s.created_at + make_interval(mins => (ARRAY[10080, 2880, 1440, 240])[p]) AS res_due, \
           CASE WHEN status IN ('resolved', 'closed') THEN LEAST(now(), \
             s.created_at + make_interval(mins => (ARRAY[10080, 2880, 1440, 240])[p] * 6 / 10)) END AS resolved, \
           CASE WHEN (h / 7) % 10 = 0 THEN NULL ELSE ($2::uuid[])[1 + (h / 70) % {TEAMS}] END AS team, \
           (ARRAY['Refund not received for my last payment', 'Cannot log in after the password reset', \
                  'Package arrived damaged', 'App crashes when uploading photos', 'Invoice shows the wrong amount', \
                  'How do I export my data', 'Delivery is late again', 'Two-factor code never arrives', \
                  'Question about the subscription renewal', 'Feature request: dark theme for the dashboard'])[1 + i % 10] \
             || (ARRAY['', ' - urgent', ', please help', ' (second time)', '', ' since yesterday', '', \
                       ' on the mobile app'])[1 + (h / 37) % 8] AS subject, \
           (ARRAY['Hello,', 'Hi team,', 'Good morning,', 'Dear support,', 'Hey there,', 'To whom it may concern,'])[1 + (h / 41) % 6] \
             || ' this is about order ORD' || lpad(((h / 43) % 2000)::text, 4, '0') || '. ' || \
             (ARRAY['It started after the latest update and nothing I do changes it.', \
                    'I contacted you last week but did not hear back.', \
                    'My colleague has the same problem on her account.', \
                    'I have attached the details you asked for in the form.', \
                    'We rely on this every day for our customers, so it is quite important.', \
                    'Is there a workaround until it is fixed?'])[1 + (h / 47) % 6] \
             || ' Thanks, customer ' || (h / 29) % {CUSTOMERS} || '.' AS description \
         FROM ({statuses}) s"
    );
    format!(
        "INSERT INTO tickets (id, organization_id, number, subject, description, status, priority, severity, \
           category, tags, customer_id, requester_name, assignee_id, team_id, source, first_response_at, \
           last_replied_at, resolved_at, closed_at, sla_policy_id, first_response_due_at, resolution_due_at, \
           sla_paused_at, first_response_breached_at, resolution_breached_at, created_at, updated_at, \
           search_public, search_all) \
         SELECT gen_random_uuid(), $1, \
           'TKT-' || extract(year FROM now() AT TIME ZONE 'UTC')::int || '-' || lpad(i::text, 6, '0'), \
           subject, description, status, priority, \
           (ARRAY['minor', 'normal', 'normal', 'normal', 'major', 'critical'])[1 + (h / 53) % 6], \
           (ARRAY['general', 'technical_issue', 'billing_payment', 'account_management', 'feature_request', 'bug', \
                  'support', 'question', 'incident', 'other'])[1 + (h / 19) % 10], \
           ARRAY[(ARRAY['billing', 'login', 'shipping', 'bug', 'mobile', 'api', 'vip', 'returns'])[1 + (h / 17) % 8]], \
           ($5::uuid[])[1 + (h / 29) % {CUSTOMERS}], 'Customer ' || (h / 29) % {CUSTOMERS}, \
           CASE WHEN status <> 'open' OR (h / 59) % 10 < 3 THEN ($3::uuid[])[1 + (h / 61) % {AGENTS}] END, team, \
           (ARRAY['web', 'email', 'email', 'whatsapp', 'api', 'messenger', 'web', 'instagram', 'web', 'tiktok'])[1 + (h / 23) % 10], \
           CASE WHEN status <> 'open' THEN LEAST(created_at + (fr_due - created_at) / 2, now()) END, \
           LEAST(created_at + make_interval(mins => 47 * (CASE WHEN i % 2 = 1 THEN 5 - ((i + 1) / 2) % 5 \
                                                            ELSE 5 + ((i + 1) / 2) % 5 END)), now()), \
           resolved, CASE WHEN status = 'closed' THEN resolved + interval '3 days' END, \
           ($4::uuid[])[p], fr_due, res_due, \
           CASE WHEN status = 'waiting' THEN now() - make_interval(mins => ((h / 67) % 600)::int) \
                WHEN status IN ('resolved', 'closed') THEN resolved END, \
           CASE WHEN status = 'open' AND fr_due < now() THEN fr_due END, \
           CASE WHEN status IN ('open', 'in_progress') AND res_due < now() THEN res_due END, \
           created_at, LEAST(created_at + interval '2 hours', now()), \
           setweight(to_tsvector('english', subject), 'A') || setweight(to_tsvector('english', description), 'B') \
             || setweight(to_tsvector('english', COALESCE(c.public_text, '')), 'C'), \
           setweight(to_tsvector('english', subject), 'A') || setweight(to_tsvector('english', description), 'B') \
             || setweight(to_tsvector('english', COALESCE(c.all_text, '')), 'C') \
         FROM ({rows}) t, LATERAL ( \
           SELECT string_agg(body, ' ' ORDER BY j) FILTER (WHERE NOT internal) AS public_text, \
                  string_agg(body, ' ' ORDER BY j) AS all_text FROM ({COMMENT_ROWS}) cr) c"
    )
}

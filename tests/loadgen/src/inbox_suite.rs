//! inbox-sync: signed WhatsApp Cloud webhooks (`POST /webhooks/whatsapp`, `X-Hub-Signature-256`)
//! from 64 concurrent senders, every body delivered twice, as Meta redelivers.
//!
//! - batches: bodies of 20 messages from a pool of 1,000 contacts. Measured: acks (p50, p99,
//!   max), messages per second stored *and published* (until the last `inbox.message.received`
//!   of the run is on the EVENTS stream and the outbox is empty), and exactly once: rows, distinct
//!   platform ids and events against the messages sent (warm-up included).
//! - singles: the same with one message per body, against a ceiling: the writes the service makes
//!   for a new message (conversation, message, conversation update, outbox events, raw body) with
//!   inbox-sync's own statements in one transaction, on a fresh database of the same schema.
//! - statuses: `sent`, `delivered` and `read` reports (`failed` instead of `read` for every 10th)
//!   of 10,000 outbound messages, each body twice, in a shuffled order. Half the messages exist
//!   with status `sent`; the other half is sent only after all their reports came (the real
//!   sender, against a Graph API stand-in that gives the ids the reports named). Every final status
//!   is checked: `failed` with the platform's errors where a failure was reported, `read`
//!   otherwise.
//!
//! A body's two copies are consecutive jobs taken by two workers, so they usually race each other.
//! `--only batches,singles,statuses` runs some parts; `--seconds N` is each timed run's length.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use futures::TryStreamExt;
use inbox_sync::platforms::{signature, Status};
use inbox_sync::store::connections::{self, NewConnection};
use inbox_sync::store::{conversations, messages, payloads};
use platform::bus::{Bus, EVENTS_STREAM};
use platform::config::Env;
use platform::crypto::KeyRing;
use proto::events::{INBOX_CONVERSATION_CREATED, INBOX_MESSAGE_RECEIVED};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::runner::{self, closed_loop, Report};

/// The schema the ceiling writes to, as inbox-sync migrates its own database.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inbox-sync");

const META_SECRET: &str = "loadgen_meta_app_secret_0123456789ab";
const ACCESS_TOKEN: &str = "EAAG-loadgen-system-user-token";
/// The fixtures' WhatsApp business account; each part has a phone number (connection) of its own.
const WABA: &str = "102290129340398";
const BATCHES_ACCOUNT: &str = "106540352200001";
const SINGLES_ACCOUNT: &str = "106540352200002";
const STATUSES_ACCOUNT: &str = "106540352200003";
const CONCURRENCY: usize = 64;
const BATCH: u64 = 20;
/// Phone numbers the customers' messages come from.
const CONTACTS: u64 = 1_000;
/// Outbound messages whose reports are sent.
const MESSAGES: u64 = 10_000;
/// Connections, prepared statements and first contacts' conversations, before a timed run.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long the outbox may take to drain after a run.
const SETTLE: Duration = Duration::from_secs(60);
const TEXTS: [&str; 5] = [
    "Hi, my parcel has not arrived yet",
    "Is anyone there?",
    "I sent the photos you asked for",
    "Thanks, that worked",
    "It is broken again today",
];

/// The variables given, in development mode (the services' default secrets).
fn env(pairs: &[(&str, &str)]) -> Env {
    let mut vars = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>();
    vars.entry("SWITCHBOARD_ENV".to_owned()).or_insert_with(|| "development".to_owned());
    Env::from_map(vars)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "MET"
    } else {
        "MISSED"
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// splitmix64: deterministic, well-spread choices without a random number generator.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fisher–Yates with [`mix`]: the same order on every run.
fn shuffle<T>(items: &mut [T], seed: u64) {
    for i in (1..items.len()).rev() {
        let j = (mix(seed.wrapping_add(i as u64)) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The contact (0 … CONTACTS-1) message `n` of a run comes from.
fn contact_of(n: u64) -> u64 {
    mix(n) % CONTACTS
}

/// A contact's WhatsApp id; the statuses part seeds the same numbers in SQL (`'1555' || lpad(k, 7, '0')`).
fn phone(contact: u64) -> String {
    format!("1555{contact:07}")
}

/// A WhatsApp Cloud webhook body as Meta posts it: one entry with one `messages` change.
fn whatsapp(account: &str, mut value: Value) -> Bytes {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({"display_phone_number": "15550783881", "phone_number_id": account});
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": value}]}],
    });
    Bytes::from(body.to_string())
}

/// The customers' bodies of one timed run: body `b` holds messages `wamid.<tag>.<b>.<k>`, k < per_body.
#[derive(Clone)]
struct Inbound {
    account: &'static str,
    tag: String,
    per_body: u64,
    /// Unix seconds the messages say they were written at.
    at: i64,
}

impl Inbound {
    fn body(&self, b: u64) -> Bytes {
        let mut contacts = Vec::with_capacity(self.per_body as usize);
        let mut messages = Vec::with_capacity(self.per_body as usize);
        for k in 0..self.per_body {
            let n = b * self.per_body + k;
            let c = contact_of(n);
            let wa_id = phone(c);
            contacts.push(json!({"profile": {"name": format!("Contact {c}")}, "wa_id": wa_id}));
            messages.push(json!({
                "from": wa_id,
                "id": format!("wamid.{}.{b}.{k}", self.tag),
                "timestamp": self.at.to_string(),
                "type": "text",
                "text": {"body": format!("{} (message {n})", TEXTS[(n % 5) as usize])},
            }));
        }
        whatsapp(self.account, json!({"contacts": contacts, "messages": messages}))
    }
}

/// The final status message `n` of the statuses part must end with.
fn final_of(n: u64) -> &'static str {
    if n.is_multiple_of(10) {
        "failed"
    } else {
        "read"
    }
}

/// One delivery report of outbound message `wamid.out.<n>`.
fn status_body(n: u64, status: &str, at: i64) -> Bytes {
    let rank = Status::parse(status).map_or(0, Status::rank);
    let mut item = json!({
        "id": format!("wamid.out.{n}"),
        "status": status,
        "timestamp": (at + i64::from(rank)).to_string(),
        "recipient_id": phone(n % CONTACTS),
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"},
    });
    if status == "failed" {
        item["errors"] = json!([{"code": 131047, "title": "Re-engagement message",
            "message": "Re-engagement message", "error_data": {"details": "More than 24 hours have passed"}}]);
    }
    whatsapp(STATUSES_ACCOUNT, json!({"statuses": [item]}))
}

/// Where bodies are posted.
#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    url: reqwest::Url,
}

/// What the service answered to a set of deliveries.
#[derive(Debug, Default)]
struct Acks {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
    /// The answers' counts (`Received`): messages stored now, stored before, updates of no connection.
    stored: u64,
    duplicates: u64,
    unknown: u64,
}

impl Acks {
    fn answered(&mut self, answer: &Value) {
        let n = |key: &str| answer[key].as_u64().unwrap_or(0);
        self.stored += n("stored");
        self.duplicates += n("duplicates");
        self.unknown += n("unknown");
    }

    fn failed(&mut self, err: anyhow::Error) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| format!("{err:#}"));
    }

    fn merge(&mut self, other: Acks) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.unknown += other.unknown;
    }

    fn failures(&self) -> String {
        let unknown =
            if self.unknown > 0 { format!(", {} updates for no connection", self.unknown) } else { String::new() };
        match &self.first_error {
            Some(e) => format!("{} failed requests (first: {e}){unknown}", self.errors),
            None => format!("0 failed requests{unknown}"),
        }
    }
}

/// Posts `body` as Meta does (raw bytes, signed with the app secret); the service's answer.
async fn deliver(t: &Target, body: Bytes) -> anyhow::Result<Value> {
    let signature = signature::meta_sign(META_SECRET.as_bytes(), &body);
    let response = t
        .http
        .post(t.url.clone())
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .context("POST /webhooks/whatsapp")?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!("POST /webhooks/whatsapp answered {status}: {text}");
    }
    response.json::<Value>().await.context("reading the answer of POST /webhooks/whatsapp")
}

/// `concurrency` workers take job numbers in turn and deliver `job(n)` until it has none or
/// `deadline` passes (every job taken is delivered); the answers, the jobs taken, the time taken.
async fn deliver_jobs<F>(
    t: &Target,
    concurrency: usize,
    deadline: Option<Instant>,
    job: F,
) -> anyhow::Result<(Acks, u64, Duration)>
where
    F: Fn(u64) -> Option<Bytes> + Send + Sync + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (t, job, next, taken) = (t.clone(), job.clone(), next.clone(), taken.clone());
        tasks.push(tokio::spawn(async move {
            let mut acks = Acks::default();
            while deadline.is_none_or(|d| Instant::now() < d) {
                let Some(body) = job(next.fetch_add(1, Ordering::Relaxed)) else { break };
                taken.fetch_add(1, Ordering::Relaxed);
                let at = Instant::now();
                match deliver(&t, body).await {
                    Ok(answer) => {
                        acks.latencies.push(at.elapsed());
                        acks.answered(&answer);
                    }
                    Err(err) => acks.failed(err),
                }
            }
            acks
        }));
    }
    let mut all = Acks::default();
    for task in tasks {
        all.merge(task.await.context("a delivery worker")?);
    }
    Ok((all, taken.load(Ordering::Relaxed), started.elapsed()))
}

/// Bodies `make(0)`, `make(1)`, … for `duration`, each delivered twice: job j is copy j % 2 of
/// body j / 2. A body whose second copy was not taken before the deadline gets it after, outside
/// the latencies. The answers, the bodies, the time until the last timed answer.
async fn twice<F>(t: &Target, duration: Duration, make: F) -> anyhow::Result<(Acks, u64, Duration)>
where
    F: Fn(u64) -> Bytes + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let job = make.clone();
    let (mut acks, jobs, took) =
        deliver_jobs(t, CONCURRENCY, Some(Instant::now() + duration), move |j| Some(job(j / 2))).await?;
    if jobs % 2 == 1 {
        match deliver(t, (*make)(jobs / 2)).await {
            Ok(answer) => acks.answered(&answer),
            Err(err) => acks.failed(err),
        }
    }
    Ok((acks, jobs.div_ceil(2), took))
}

/// A table row of `latencies` (the runner's percentiles) over `elapsed`.
fn report(name: &str, latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> Report {
    let round = Report {
        name: name.to_owned(),
        ok: 0,
        errors,
        elapsed,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        max: Duration::ZERO,
        samples: latencies,
    };
    runner::pool(name, vec![round])
}

/// A live WhatsApp connection of `account` for `org`, written as `POST /v1/connections/whatsapp`
/// writes it (its slot, the token sealed for the row), without asking Meta about the token.
async fn connect(pool: &PgPool, keys: &KeyRing, org: Uuid, account: &str) -> anyhow::Result<Uuid> {
    let mut tx = pool.begin().await?;
    let id = match connections::slot(&mut tx, org, "whatsapp", account, Uuid::now_v7()).await? {
        Ok(id) => id,
        Err(conflict) => anyhow::bail!("WhatsApp number {account} is connected already: {conflict:?}"),
    };
    let token = keys.encrypt(ACCESS_TOKEN, &inbox_sync::sealed_for(id, "access_token"))?;
    let new = NewConnection {
        id,
        org,
        platform: "whatsapp",
        account_id: account,
        business_account_id: Some(WABA),
        username: None,
        display_name: Some("Loadgen Support"),
        access_token: &token,
        refresh_token: None,
        token_expires_at: None,
        refresh_expires_at: None,
        app_secret: None,
        verify_token: None,
        created_by: None,
    };
    connections::connect(&mut tx, &new).await?.with_context(|| format!("WhatsApp number {account} not connected"))?;
    tx.commit().await?;
    Ok(id)
}

/// Meta's Graph API as the sender sees it: a WhatsApp send is taken and given the id
/// `wamid.out.<n>`, `n` being the `#<n>` that ends its text (the id its reports named).
async fn graph_standin() -> anyhow::Result<String> {
    async fn send(axum::Json(body): axum::Json<Value>) -> (axum::http::StatusCode, axum::Json<Value>) {
        let text = body.pointer("/text/body").and_then(Value::as_str).unwrap_or_default();
        match text.rsplit_once('#').and_then(|(_, n)| n.parse::<u64>().ok()) {
            Some(n) => (
                axum::http::StatusCode::OK,
                axum::Json(json!({"messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": format!("wamid.out.{n}")}]})),
            ),
            None => (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": {"message": "no #reference at the end of the text", "code": 100}})),
            ),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let router = axum::Router::new().route("/{version}/{account}/messages", axum::routing::post(send));
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

struct Stack {
    target: Target,
    state: inbox_sync::AppState,
    /// The service's database, for seeding and checking (not the service's pool).
    raw: PgPool,
    bus: Bus,
    org: Uuid,
    pool_size: u32,
}

/// `inbox.message.received` events on this run's EVENTS stream.
async fn received_events(bus: &Bus) -> anyhow::Result<u64> {
    let stream = bus.jetstream.get_stream(bus.stream_name(EVENTS_STREAM)).await?;
    let mut subjects = stream.info_with_subjects(bus.event_subject(INBOX_MESSAGE_RECEIVED)).await?;
    let mut total = 0;
    while let Some((_, count)) = subjects.try_next().await? {
        total += count as u64;
    }
    Ok(total)
}

/// Polls until the outbox is empty and at least `want` `inbox.message.received` events are on the
/// stream, or `limit` passes; the events then, and whether it got there.
async fn settle(s: &Stack, want: u64, limit: Duration) -> anyhow::Result<(u64, bool)> {
    let deadline = Instant::now() + limit;
    loop {
        // The outbox first: once it is empty, everything is on the stream and the count is final.
        let backlog = platform::outbox::backlog(&s.raw).await?;
        let events = received_events(&s.bus).await?;
        if backlog == 0 && events >= want {
            return Ok((events, true));
        }
        if Instant::now() >= deadline {
            return Ok((events, false));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Messages of a connection and their distinct platform ids.
async fn counts(raw: &PgPool, connection: Uuid) -> anyhow::Result<(u64, u64)> {
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT external_id) FROM messages WHERE connection_id = $1")
            .bind(connection)
            .fetch_one(raw)
            .await?;
    Ok((rows as u64, distinct as u64))
}

/// What a customers' messages part measured.
struct Measured {
    report: Report,
    /// Messages per second of the timed run, stored and published.
    rate: f64,
    duplicates: u64,
    missing: u64,
    lines: Vec<String>,
}

/// A warm-up, then `duration` of bodies of `per_body` messages each delivered twice, on a
/// connection of its own; then exactly once is checked over both.
async fn customers(
    s: &Stack,
    name: &str,
    account: &'static str,
    tag: &str,
    per_body: u64,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let connection = connect(&s.raw, &s.state.keys, s.org, account).await?;
    let at = chrono::Utc::now().timestamp();
    let bodies = |phase: &str| Inbound { account, tag: format!("{tag}.{phase}"), per_body, at };
    let events_before = received_events(&s.bus).await?;
    let warm = bodies("warm");
    let (warm_acks, warm_bodies, _) = twice(&s.target, WARM_UP, move |b| warm.body(b)).await?;
    let (base_rows, _) = counts(&s.raw, connection).await?;
    let (base_events, _) = settle(s, events_before + base_rows, SETTLE).await?;

    let started = Instant::now();
    let run = bodies("run");
    let (mut acks, run_bodies, stored_in) = twice(&s.target, duration, move |b| run.body(b)).await?;
    let (rows, distinct) = counts(&s.raw, connection).await?;
    let measured = rows - base_rows;
    let (events_after, complete) = settle(s, base_events + measured, SETTLE).await?;
    let published_in = started.elapsed();
    let rate = measured as f64 / published_in.as_secs_f64();

    let sent = (warm_bodies + run_bodies) * per_body;
    let events = events_after - events_before;
    // A second row or a second event of a message; a message never stored, or stored unpublished.
    let duplicates = (rows - distinct) + events.saturating_sub(rows);
    let missing = sent.saturating_sub(distinct) + rows.saturating_sub(events);
    let (latencies, run_errors) = (std::mem::take(&mut acks.latencies), acks.errors);
    let mut total = warm_acks;
    total.merge(acks);
    let lines = vec![
        format!(
            "{name}: {run_bodies} bodies × {per_body} in {:.1} s, each twice = {measured} messages stored ({:.0}/s); \
             all their events on the stream after {:.2} s = {rate:.0} messages/s stored and published{}",
            stored_in.as_secs_f64(),
            measured as f64 / stored_in.as_secs_f64(),
            published_in.as_secs_f64(),
            if complete { "" } else { " (timed out waiting for the outbox)" }
        ),
        format!(
            "  exactly once (warm-up included): {sent} messages sent twice → {rows} rows, {distinct} distinct ids, \
             {events} inbox.message.received events; {duplicates} duplicates, {missing} missing; answers said \
             {} stored, {} duplicates; {}",
            total.stored,
            total.duplicates,
            total.failures()
        ),
    ];
    Ok(Measured { report: report(name, latencies, run_errors, stored_in), rate, duplicates, missing, lines })
}

/// Ceiling of a single message: what the service writes for a new one (its conversation found or
/// opened, the message, the conversation's preview and unread count, `inbox.message.received` —
/// and `inbox.conversation.created` for a first contact — in the outbox, the raw body) with
/// inbox-sync's own statements in one transaction, without HTTP, signature, JSON or the
/// connection lookup.
async fn ceiling_message(pool: &PgPool, org: Uuid, connection: Uuid, body: &[u8], i: u64) -> anyhow::Result<()> {
    let c = contact_of(i);
    let (wa_id, name) = (phone(c), format!("Contact {c}"));
    let contact =
        conversations::Contact { external_id: &wa_id, name: Some(&name), ..conversations::Contact::default() };
    let text = format!("{} (message {i})", TEXTS[(i % 5) as usize]);
    let external = format!("wamid.ceiling.{i}");
    let at = chrono::Utc::now();
    let status = Status::Delivered;
    let mut tx = pool.begin().await?;
    let (conversation, created) = conversations::find_or_create(&mut tx, org, connection, "whatsapp", &contact).await?;
    let row = messages::NewMessage {
        org,
        conversation,
        connection,
        external_id: Some(&external),
        outbound: false,
        content_type: "text",
        content: &text,
        media: None,
        location: None,
        reply_to: None,
        reaction_to: None,
        status: status.as_str(),
        status_rank: status.rank(),
        sent_by: None,
        source_id: None,
        template: None,
        at: Some(at),
    };
    let stored = messages::insert(&mut tx, &row).await?.context("a new message collided")?;
    let (conv, _) = conversations::on_message(&mut tx, org, conversation, 1, &text, at, &contact).await?;
    if created {
        inbox_sync::events::conversation(&mut tx, INBOX_CONVERSATION_CREATED, &conv, &[]).await?;
    }
    inbox_sync::events::received(&mut tx, &conv, &stored).await?;
    payloads::insert(&mut tx, "whatsapp", None, body, (1, 0), None).await?;
    tx.commit().await?;
    Ok(())
}

/// The ceiling on a fresh database migrated as inbox-sync migrates its own, with a pool of the
/// service's size.
async fn ceiling(s: &Stack, duration: Duration) -> anyhow::Result<Report> {
    let db = platform::testing::fresh_database("bench_inbox_ceiling").await?;
    let pool = platform::db::pool(&db, s.pool_size)?;
    platform::db::migrate(&pool, &MIGRATOR).await?;
    let org = Uuid::now_v7();
    let connection = connect(&pool, &s.state.keys, org, SINGLES_ACCOUNT).await?;
    // The raw body each message keeps: one of the service's single-message bodies.
    let at = chrono::Utc::now().timestamp();
    let sample = Inbound { account: SINGLES_ACCOUNT, tag: "ceiling".to_owned(), per_body: 1, at };
    let body = sample.body(0);
    Ok(closed_loop("ceiling: a message's writes in one tx, c=64", CONCURRENCY, duration, move |i| {
        let (pool, body) = (pool.clone(), body.clone());
        async move { ceiling_message(&pool, org, connection, &body, i).await.is_ok() }
    })
    .await)
}

/// Outbound messages `from..to` of the statuses part, each in its contact's conversation:
/// `sent` with their platform id, or `pending` (the sender takes them).
async fn outbound(s: &Stack, connection: Uuid, from: u64, to: u64, pending: bool) -> anyhow::Result<()> {
    let (id, status, rank, at, due) = if pending {
        ("NULL", "'pending'", 0, "NULL", "now()")
    } else {
        ("'wamid.out.' || n", "'sent'", 1, "now()", "NULL")
    };
    sqlx::query(&format!(
        "INSERT INTO messages (id, organization_id, conversation_id, connection_id, external_id, direction, \
           content_type, content, status, status_rank, platform_timestamp, next_attempt_at) \
         SELECT gen_random_uuid(), $1, c.id, $2, {id}, 'outbound', 'text', \
           'Your order has shipped, reference #' || n, {status}, {rank}, {at}, {due} \
         FROM generate_series($3::bigint, $4::bigint - 1) AS n \
         JOIN conversations c ON c.connection_id = $2 AND c.organization_id = $1 \
           AND c.external_id = '1555' || lpad((n % $5)::text, 7, '0')"
    ))
    .bind(s.org)
    .bind(connection)
    .bind(from as i64)
    .bind(to as i64)
    .bind(CONTACTS as i64)
    .execute(&s.raw)
    .await?;
    Ok(())
}

/// Reports of 10,000 outbound messages in a shuffled order, half of them before their message
/// is sent; every final status checked. The wrong and missing final statuses.
async fn statuses(s: &Stack, reports: &mut Vec<Report>, lines: &mut Vec<String>) -> anyhow::Result<(u64, u64)> {
    let connection = connect(&s.raw, &s.state.keys, s.org, STATUSES_ACCOUNT).await?;
    sqlx::query(
        "INSERT INTO conversations (id, organization_id, connection_id, platform, external_id, contact_name, \
           last_inbound_at) \
         SELECT gen_random_uuid(), $1, $2, 'whatsapp', '1555' || lpad(k::text, 7, '0'), 'Contact ' || k, now() \
         FROM generate_series(0, $3::bigint - 1) AS k",
    )
    .bind(s.org)
    .bind(connection)
    .bind(CONTACTS as i64)
    .execute(&s.raw)
    .await?;
    let half = MESSAGES / 2;
    outbound(s, connection, 0, half, false).await?;

    let at = chrono::Utc::now().timestamp() - 60;
    let bodies: Vec<Bytes> = (0..MESSAGES)
        .flat_map(|n| ["sent", "delivered", final_of(n)].map(|status| status_body(n, status, at)))
        .collect();
    let mut order: Vec<usize> = (0..bodies.len() * 2).map(|j| j % bodies.len()).collect();
    shuffle(&mut order, 0x5EED_1A7E);
    let requests = order.len();
    let (bodies, order) = (Arc::new(bodies), Arc::new(order));
    let (acks, _, took) =
        deliver_jobs(&s.target, CONCURRENCY, None, move |j| order.get(j as usize).map(|&i| bodies[i].clone())).await?;
    let failures = acks.failures();
    reports.push(report("WhatsApp statuses, shuffled, each twice, c=64", acks.latencies, acks.errors, took));

    // The other half is sent only now, after all its reports: the sender records each send and
    // applies the reports that came first.
    let sending = Instant::now();
    outbound(s, connection, half, MESSAGES, true).await?;
    s.state.send_wake.notify_one();
    let deadline = sending + Duration::from_secs(120);
    let unsent = loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages WHERE connection_id = $1 AND status = 'pending'")
                .bind(connection)
                .fetch_one(&s.raw)
                .await?;
        if pending == 0 || Instant::now() >= deadline {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let sent_in = sending.elapsed();
    let (_, drained) = settle(s, 0, SETTLE).await?;

    let rows: Vec<(Option<String>, String, bool)> =
        sqlx::query_as("SELECT external_id, status, errors IS NOT NULL FROM messages WHERE connection_id = $1")
            .bind(connection)
            .fetch_all(&s.raw)
            .await?;
    let (mut seen, mut wrong, mut failed, mut bare) = (HashSet::new(), 0u64, 0u64, 0u64);
    for (external, status, has_errors) in &rows {
        let number = external.as_deref().and_then(|e| e.strip_prefix("wamid.out.")).and_then(|n| n.parse().ok());
        // Still without a platform id: never sent, counted as missing.
        let Some(n) = number else { continue };
        seen.insert(n);
        let want = final_of(n);
        if status != want {
            wrong += 1;
        } else if want == "failed" {
            failed += 1;
            // A failure keeps the platform's errors.
            bare += u64::from(!has_errors);
        }
    }
    let missing = MESSAGES - seen.len() as u64;
    let early_left: i64 = sqlx::query_scalar("SELECT count(*) FROM early_statuses WHERE connection_id = $1")
        .bind(connection)
        .fetch_one(&s.raw)
        .await?;
    let correct = MESSAGES - missing - wrong;
    lines.push(format!(
        "statuses: sent, delivered and read (failed for every 10th) of {MESSAGES} outbound messages = {} bodies, \
         each twice, shuffled: {requests} requests in {:.1} s ({:.0}/s); {}",
        requests / 2,
        took.as_secs_f64(),
        requests as f64 / took.as_secs_f64(),
        failures
    ));
    lines.push(format!(
        "  {half} messages were sent only after all their reports had come: {} sent in {:.1} s{}; outbox {}",
        half - unsent as u64,
        sent_in.as_secs_f64(),
        if unsent > 0 { format!(", {unsent} still pending") } else { String::new() },
        if drained { "drained" } else { "NOT drained" }
    ));
    lines.push(format!(
        "  final statuses: {correct} of {MESSAGES} correct ({failed} failed, {} read), {wrong} wrong, {missing} \
         missing, {bare} failed without the platform's errors, {early_left} early reports left over",
        correct - failed
    ));
    Ok((wrong + bare, missing))
}

pub async fn run(duration: Duration, only: Option<String>) -> anyhow::Result<()> {
    let wants = |part: &str| only.as_deref().is_none_or(|o| o.split(',').any(|p| p == part));
    let prefix = platform::testing::unique_prefix();
    let nats = platform::testing::nats_url();
    let stop = CancellationToken::new();
    let graph = graph_standin().await?;
    let db = platform::testing::fresh_database("bench_inbox").await?;
    let config = inbox_sync::Config::from_env(env(&[
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", db.expose_secret()),
        ("NATS_URL", &nats),
        ("NATS_PREFIX", &prefix),
        ("META_APP_SECRET", META_SECRET),
        // Nothing leaves the machine: sends go to the stand-in.
        ("META_GRAPH_URL", &graph),
        ("INSTAGRAM_GRAPH_URL", &graph),
    ]))?;
    let pool_size = config.common.database_max_connections;
    let app = inbox_sync::Application::build(config).await?;
    let url = reqwest::Url::parse(&format!("http://{}/webhooks/whatsapp", app.http_addr()))?;
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let name = db.expose_secret().rsplit('/').next().unwrap_or_default().to_owned();
    println!("inbox-sync database: {name}");
    let s = Stack {
        target: Target { http: reqwest::Client::builder().pool_max_idle_per_host(256).build()?, url },
        state,
        raw: platform::db::pool(&db, 4)?,
        bus: Bus::connect(&nats, &prefix, "loadgen").await?,
        org: Uuid::now_v7(),
        pool_size,
    };

    let mut reports: Vec<Report> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    if wants("batches") {
        let name = "WhatsApp batches of 20, each twice, c=64";
        let m = customers(&s, name, BATCHES_ACCOUNT, "batch", BATCH, duration).await?;
        let p99 = ms(m.report.p99);
        targets.push(format!(
            "batches of {BATCH}: {:.0} messages/s stored and published (target >= 5,000) {}; {} duplicates, {} missing \
             (target 0) {}; ack p99 {p99:.1} ms (target < 50 ms) {}",
            m.rate,
            verdict(m.rate >= 5000.0),
            m.duplicates,
            m.missing,
            verdict(m.duplicates == 0 && m.missing == 0),
            verdict(p99 < 50.0)
        ));
        reports.push(m.report);
        lines.extend(m.lines);
    }
    if wants("singles") {
        let c = ceiling(&s, duration).await?;
        let name = "WhatsApp single messages, each twice, c=64";
        let m = customers(&s, name, SINGLES_ACCOUNT, "single", 1, duration).await?;
        let (p99, share) = (ms(m.report.p99), 100.0 * m.rate / c.throughput());
        targets.push(format!(
            "single messages: {:.0} messages/s stored and published = {share:.0}% of the ceiling's {:.0}/s \
             (target >= 50%) {}; {} duplicates, {} missing {}; ack p99 {p99:.1} ms (target < 25 ms) {}",
            m.rate,
            c.throughput(),
            verdict(share >= 50.0),
            m.duplicates,
            m.missing,
            verdict(m.duplicates == 0 && m.missing == 0),
            verdict(p99 < 25.0)
        ));
        reports.push(c);
        reports.push(m.report);
        lines.extend(m.lines);
    }
    if wants("statuses") {
        let (wrong, missing) = statuses(&s, &mut reports, &mut lines).await?;
        targets.push(format!(
            "statuses out of order: {wrong} wrong and {missing} missing final statuses of {MESSAGES} (target 0) {}",
            verdict(wrong == 0 && missing == 0)
        ));
    }

    println!("\n{}", runner::header());
    for r in &reports {
        println!("{}", r.line());
    }
    println!();
    for l in &lines {
        println!("{l}");
    }
    println!();
    for t in &targets {
        println!("{t}");
    }
    stop.cancel();
    Ok(())
}

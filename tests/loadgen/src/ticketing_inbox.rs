//! `inbox.message.received` → a customer comment on the conversation's ticket, as inbox-sync
//! would publish them on the EVENTS stream. Latency is publish → the comment visible to another
//! connection: a poller asks for the outstanding message ids every millisecond (by the unique
//! `(organization_id, inbox_message_id)` index), so a figure is at most ~1 ms + one query late.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::bus::{Bus, CloudEvent};
use proto::events::{InboxContact, InboxMessageReceived, INBOX_MESSAGE_RECEIVED};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Conversations messages are spread over (each opened by a first message before measuring).
const CONVERSATIONS: usize = 1_000;

#[derive(Default)]
struct Watch {
    /// Message id → when it was (scheduled to be) published.
    outstanding: HashMap<Uuid, Instant>,
    latencies: Vec<Duration>,
    last_seen: Option<Instant>,
}

struct Inbox {
    bus: Bus,
    org: Uuid,
    conversations: Vec<Uuid>,
    watch: Arc<Mutex<Watch>>,
}

impl Inbox {
    fn event(&self, n: usize) -> (Uuid, CloudEvent<InboxMessageReceived>) {
        let k = n % self.conversations.len();
        let message_id = Uuid::now_v7();
        let texts = [
            "Hi, my parcel has not arrived yet",
            "Is anyone there?",
            "I sent the photos you asked for",
            "Thanks, that worked",
            "It is broken again today",
        ];
        let event = CloudEvent::new(
            "switchboard/inbox-sync",
            INBOX_MESSAGE_RECEIVED,
            Some(self.org),
            Some(message_id.to_string()),
            InboxMessageReceived {
                organization_id: self.org,
                connection_id: Uuid::nil(),
                platform: "whatsapp".into(),
                conversation_id: self.conversations[k],
                message_id,
                external_id: format!("wamid.{}", message_id.simple()),
                contact: InboxContact {
                    external_id: format!("+3361{k:07}"),
                    name: Some(format!("Contact {k}")),
                    username: None,
                },
                content_type: "text".into(),
                text: format!("{} (message {n})", texts[n % texts.len()]),
                media: None,
                platform_timestamp: chrono::Utc::now(),
            },
        );
        (message_id, event)
    }

    /// Publishes message `n`, counted from `at`; the ack is awaited elsewhere (`acks`).
    async fn publish(&self, n: usize, at: Instant) -> anyhow::Result<async_nats::jetstream::context::PublishAckFuture> {
        let (message_id, event) = self.event(n);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        self.watch.lock().unwrap().outstanding.insert(message_id, at);
        let ack = self
            .bus
            .jetstream
            .publish_with_headers(
                self.bus.event_subject(INBOX_MESSAGE_RECEIVED),
                headers,
                serde_json::to_vec(&event)?.into(),
            )
            .await?;
        Ok(ack)
    }

    fn reset(&self) {
        let mut w = self.watch.lock().unwrap();
        w.latencies.clear();
        w.last_seen = None;
    }

    async fn drained(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.watch.lock().unwrap().outstanding.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        false
    }

    fn latencies(&self) -> (usize, String) {
        let mut lat = self.watch.lock().unwrap().latencies.clone();
        lat.sort_unstable();
        let pick = |q: f64| {
            lat.get(((lat.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or_default().as_secs_f64()
                * 1000.0
        };
        let text = format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pick(0.5),
            pick(0.99),
            lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
        );
        (lat.len(), text)
    }

    /// Publishes `rate` per second for `seconds`, on schedule; the latencies measured from the
    /// scheduled times.
    async fn steady(&self, rate: u64, seconds: u64, offset: usize) -> anyhow::Result<String> {
        self.reset();
        let total = (rate * seconds) as usize;
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let t0 = Instant::now();
        for n in 0..total {
            let at = t0 + interval.mul_f64(n as f64);
            tokio::time::sleep_until(at.into()).await;
            let ack = self.publish(offset + n, at).await?;
            tokio::spawn(async move {
                let _ = ack.await;
            });
        }
        let complete = self.drained(Duration::from_secs(120)).await;
        let (seen, text) = self.latencies();
        Ok(format!(
            "inbox.message.received → comment visible, steady {rate}/s for {seconds} s: {seen} of {total} comments{}; {text}",
            if complete { "" } else { " (timed out)" }
        ))
    }

    /// Publishes `total` as fast as JetStream takes them; how fast the comments appear.
    async fn flood(&self, total: usize, offset: usize) -> anyhow::Result<(f64, String)> {
        self.reset();
        let started = Instant::now();
        let mut acks = Vec::with_capacity(1000);
        for n in 0..total {
            acks.push(self.publish(offset + n, Instant::now()).await?);
            if acks.len() == 1000 {
                for ack in acks.drain(..) {
                    ack.await?;
                }
            }
        }
        for ack in acks {
            ack.await?;
        }
        let published = started.elapsed();
        let complete = self.drained(Duration::from_secs(300)).await;
        let last = self.watch.lock().unwrap().last_seen.unwrap_or_else(Instant::now);
        let took = last - started;
        let rate = total as f64 / took.as_secs_f64();
        let (seen, _) = self.latencies();
        Ok((
            rate,
            format!(
                "inbox flood: {total} messages published in {:.2} s; {seen} comments visible after {:.2} s = {rate:.0}/s{}",
                published.as_secs_f64(),
                took.as_secs_f64(),
                if complete { "" } else { " (timed out)" }
            ),
        ))
    }
}

/// Asks which outstanding messages have their comment, every millisecond, until `stop`.
async fn poll(pool: PgPool, org: Uuid, watch: Arc<Mutex<Watch>>, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let ids: Vec<Uuid> = watch.lock().unwrap().outstanding.keys().take(5000).copied().collect();
        if !ids.is_empty() {
            let found: Vec<Uuid> = sqlx::query_scalar(
                "SELECT inbox_message_id FROM ticket_comments WHERE organization_id = $1 AND inbox_message_id = ANY($2)",
            )
            .bind(org)
            .bind(&ids)
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            let now = Instant::now();
            let mut w = watch.lock().unwrap();
            for id in found {
                if let Some(at) = w.outstanding.remove(&id) {
                    w.latencies.push(now.saturating_duration_since(at));
                    w.last_seen = Some(now);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The inbox scenarios' lines (and the sustained rate, for the target summary).
pub async fn run(bus: Bus, pool: PgPool, org: Uuid, flood_size: usize) -> anyhow::Result<(Vec<String>, f64)> {
    let watch = Arc::new(Mutex::new(Watch::default()));
    let stop = CancellationToken::new();
    tokio::spawn(poll(pool.clone(), org, watch.clone(), stop.clone()));
    let conversations = (0..CONVERSATIONS).map(|_| Uuid::now_v7()).collect();
    let inbox = Inbox { bus, org, conversations, watch };
    let mut lines = Vec::new();

    // First messages: each opens a ticket (customer profile, ticket, comment).
    let (opened, line) = inbox.flood(CONVERSATIONS, 0).await?;
    lines.push(format!("{line} (first messages: each opens its conversation's ticket; {opened:.0} tickets/s)"));
    let mut offset = CONVERSATIONS;
    for rate in [500, 2000] {
        lines.push(inbox.steady(rate, 10, offset).await?);
        offset += (rate * 10) as usize;
    }
    let (sustained, line) = inbox.flood(flood_size, offset).await?;
    lines.push(format!("{line} (comments on open tickets)"));
    stop.cancel();
    Ok((lines, sustained))
}

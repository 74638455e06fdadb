//! What quota checks are answered from: each organization's plan, status and usage, kept in
//! memory. The metering consumer of this replica moves the figures as it commits; the rest
//! (another replica's counting, a plan change) arrives when an organization's figures are read
//! again after the TTL. That read happens in the background while checks go on answering from
//! the figures in memory (stale-while-revalidate), so a check waits for the database only the
//! first time an organization is asked about, or when its figures are far past the TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::periods::month_start;
use crate::plans::{self, Plan};
use crate::store;

/// An organization's figures as last read.
#[derive(Debug, Clone)]
struct Figures {
    read_at: Instant,
    plan: String,
    status: String,
    period: DateTime<Utc>,
    usage: HashMap<String, i64>,
}

/// A usage change committed by the consumer: the figure after it.
#[derive(Debug, Clone)]
pub struct Moved {
    pub org: Uuid,
    pub metric: &'static str,
    pub period: DateTime<Utc>,
    pub value: i64,
    pub gauge: bool,
}

/// The catalog in memory and when it was read.
type Catalog = (Option<Instant>, HashMap<String, Arc<Plan>>);

type Orgs = Arc<RwLock<HashMap<Uuid, Figures>>>;

/// Background reads of figures at once, at most.
const REFRESH_SLOTS: usize = 4;

/// Figures older than this many TTLs are read again before answering.
const STALE_TTLS: u32 = 4;

pub struct Ledger {
    pool: PgPool,
    ttl: Duration,
    orgs: Orgs,
    /// How many times figures were forgotten: a read that began before a `forget` must not
    /// put back what it read (the plan it saw may be the one just changed).
    forgets: Arc<AtomicU64>,
    /// Organizations whose figures are being read in the background.
    refreshing: Arc<Mutex<std::collections::HashSet<Uuid>>>,
    /// At most this many background reads at once (the rest wait for a later check), so that
    /// refreshes never crowd the consumer out of the pool.
    refresh_slots: Arc<tokio::sync::Semaphore>,
    plans: Arc<RwLock<Catalog>>,
    /// The catalog is being read in the background.
    catalog_refreshing: Arc<std::sync::atomic::AtomicBool>,
    /// Changes of transactions not known to be committed yet, by event id.
    pending: Mutex<HashMap<Uuid, Moved>>,
}

/// Reads `org`'s figures of `period` and keeps them, unless figures were forgotten meanwhile
/// (then the next question reads again). A counter never goes below what this replica's
/// consumer committed meanwhile (a read that began before a commit sees less).
async fn read(
    c: &mut sqlx::PgConnection,
    orgs: &Orgs,
    forgets: &AtomicU64,
    org: Uuid,
    period: DateTime<Utc>,
) -> anyhow::Result<Figures> {
    let began = forgets.load(Ordering::SeqCst);
    let subscription = store::subscriptions::get(c, org).await?;
    let mut usage: HashMap<String, i64> = store::usage::current(c, org, period).await?.into_iter().collect();
    let (plan, status) = subscription.map_or(("free".to_owned(), "active".to_owned()), |s| (s.plan, s.status));
    let mut orgs = orgs.write().expect("orgs lock");
    if let Some(old) = orgs.get(&org).filter(|o| o.period == period) {
        for (metric, value) in &old.usage {
            if plans::COUNTERS.contains(&metric.as_str()) {
                let v = usage.entry(metric.clone()).or_insert(0);
                *v = (*v).max(*value);
            }
        }
    }
    let f = Figures { read_at: Instant::now(), plan, status, period, usage };
    // Checked under the write lock `forget` takes after counting: a forget either came first
    // (nothing is kept) or removes what is kept here.
    if forgets.load(Ordering::SeqCst) == began {
        orgs.insert(org, f.clone());
    }
    Ok(f)
}

/// What a check or an entitlements question is answered with.
#[derive(Debug, Clone)]
pub struct Standing {
    pub plan: Arc<Plan>,
    pub status: String,
    pub usage: HashMap<String, i64>,
}

impl Ledger {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl,
            orgs: Orgs::default(),
            forgets: Arc::default(),
            refreshing: Arc::default(),
            refresh_slots: Arc::new(tokio::sync::Semaphore::new(REFRESH_SLOTS)),
            plans: Arc::new(RwLock::new((None, HashMap::new()))),
            catalog_refreshing: Arc::default(),
            pending: Mutex::default(),
        }
    }

    /// The plan named `name` if the catalog in memory is fresh: `None` when it must be read.
    fn cached_plan(&self, name: &str) -> Option<Option<Arc<Plan>>> {
        let plans = self.plans.read().expect("plans lock");
        plans.0.is_some_and(|at| at.elapsed() < self.ttl).then(|| plans.1.get(name).cloned())
    }

    /// The plan named `name` from the catalog in memory even past the TTL (then read again in
    /// the background); `None` when it was never read, or was forgotten.
    fn plan_in_memory(&self, name: &str) -> Option<Arc<Plan>> {
        let (read_at, plan) = {
            let plans = self.plans.read().expect("plans lock");
            (plans.0?, plans.1.get(name).cloned()?)
        };
        if read_at.elapsed() >= self.ttl && !self.catalog_refreshing.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let (pool, plans, refreshing) = (self.pool.clone(), self.plans.clone(), self.catalog_refreshing.clone());
            let (forgets, began) = (self.forgets.clone(), self.forgets.load(Ordering::SeqCst));
            tokio::spawn(async move {
                let read = async {
                    let mut c = pool.acquire().await?;
                    anyhow::Ok(store::plans::list(&mut c).await?)
                }
                .await;
                match read {
                    Ok(all) => {
                        let map = all.into_iter().map(|p| (p.name.clone(), Arc::new(p))).collect();
                        let mut plans = plans.write().expect("plans lock");
                        // Not over a catalog forgotten meanwhile (an operator's change).
                        if forgets.load(Ordering::SeqCst) == began {
                            *plans = (Some(Instant::now()), map);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not refresh the plan catalog; answering from the previous one")
                    }
                }
                refreshing.store(false, std::sync::atomic::Ordering::Release);
            });
        }
        Some(plan)
    }

    /// The plan named `name`; the catalog is read again on `conn` after the TTL.
    pub async fn plan(&self, conn: &mut sqlx::PgConnection, name: &str) -> anyhow::Result<Option<Arc<Plan>>> {
        if let Some(found) = self.cached_plan(name) {
            return Ok(found);
        }
        let began = self.forgets.load(Ordering::SeqCst);
        let all = store::plans::list(conn).await?;
        let map: HashMap<String, Arc<Plan>> = all.into_iter().map(|p| (p.name.clone(), Arc::new(p))).collect();
        let found = map.get(name).cloned();
        let mut plans = self.plans.write().expect("plans lock");
        if self.forgets.load(Ordering::SeqCst) == began {
            *plans = (Some(Instant::now()), map);
        }
        Ok(found)
    }

    /// Forgets the catalog and `org`'s figures (after a change this replica made).
    pub fn forget(&self, org: Option<Uuid>) {
        self.forgets.fetch_add(1, Ordering::SeqCst);
        match org {
            Some(org) => {
                self.orgs.write().expect("orgs lock").remove(&org);
            }
            None => self.plans.write().expect("plans lock").0 = None,
        }
    }

    /// `org`'s plan, status and usage now; an organization billing has not heard of yet is on
    /// `free`.
    pub async fn standing(&self, org: Uuid) -> anyhow::Result<Standing> {
        let period = month_start(Utc::now());
        let cached = {
            let orgs = self.orgs.read().expect("orgs lock");
            orgs.get(&org).filter(|f| f.period == period && f.read_at.elapsed() < self.ttl * STALE_TTLS).cloned()
        };
        let mut conn = None;
        let figures = match cached {
            Some(f) => {
                if f.read_at.elapsed() >= self.ttl {
                    self.refresh_in_background(org, period);
                }
                f
            }
            None => {
                let c = conn.insert(self.pool.acquire().await?);
                read(c, &self.orgs, &self.forgets, org, period).await?
            }
        };
        let plan = match self.cached_plan(&figures.plan).flatten() {
            Some(p) => p,
            None => {
                let c = match &mut conn {
                    Some(c) => c,
                    None => conn.insert(self.pool.acquire().await?),
                };
                match self.plan(c, &figures.plan).await? {
                    Some(p) => p,
                    None => {
                        self.plan(c, "free").await?.ok_or_else(|| anyhow::anyhow!("the catalog has no free plan"))?
                    }
                }
            }
        };
        Ok(Standing { plan, status: figures.status, usage: figures.usage })
    }

    /// Reads `org`'s figures again without holding anyone up; once at a time per organization.
    fn refresh_in_background(&self, org: Uuid, period: DateTime<Utc>) {
        let Ok(slot) = self.refresh_slots.clone().try_acquire_owned() else { return };
        if !self.refreshing.lock().expect("refreshing lock").insert(org) {
            return;
        }
        let (pool, orgs, forgets, refreshing) =
            (self.pool.clone(), self.orgs.clone(), self.forgets.clone(), self.refreshing.clone());
        tokio::spawn(async move {
            let result = async {
                let mut c = pool.acquire().await?;
                read(&mut c, &orgs, &forgets, org, period).await
            }
            .await;
            if let Err(err) = result {
                tracing::warn!(%org, error = %err, "could not refresh quota figures; answering from the previous ones");
            }
            refreshing.lock().expect("refreshing lock").remove(&org);
            drop(slot);
        });
    }

    /// May `org` use `amount` more of `metric`?
    pub async fn check(&self, org: Uuid, metric: &str, amount: i64) -> anyhow::Result<(plans::Answer, String)> {
        // The usual case, answered under the read locks without copying the figures.
        let period = month_start(Utc::now());
        let fast = {
            let orgs = self.orgs.read().expect("orgs lock");
            orgs.get(&org).filter(|f| f.period == period && f.read_at.elapsed() < self.ttl * STALE_TTLS).and_then(|f| {
                let plan = self.plan_in_memory(&f.plan)?;
                let used = f.usage.get(metric).copied().unwrap_or(0);
                Some((plans::check(&plan, metric, used, amount), plan.name.clone(), f.read_at.elapsed() >= self.ttl))
            })
        };
        if let Some((answer, plan, stale)) = fast {
            if stale {
                self.refresh_in_background(org, period);
            }
            return Ok((answer, plan));
        }
        let s = self.standing(org).await?;
        let used = s.usage.get(metric).copied().unwrap_or(0);
        Ok((plans::check(&s.plan, metric, used, amount), s.plan.name.clone()))
    }

    /// Notes a change the consumer's transaction for event `event` is making.
    pub fn pending(&self, event: Uuid, moved: Moved) {
        let mut pending = self.pending.lock().expect("pending lock");
        // Changes of transactions that never committed are not kept forever.
        if pending.len() > 100_000 {
            pending.clear();
        }
        pending.insert(event, moved);
    }

    /// The transactions of `events` committed: their changes are the figures now.
    pub fn committed(&self, events: &[Uuid]) {
        let moved: Vec<Moved> = {
            let mut pending = self.pending.lock().expect("pending lock");
            events.iter().filter_map(|e| pending.remove(e)).collect()
        };
        if moved.is_empty() {
            return;
        }
        let mut orgs = self.orgs.write().expect("orgs lock");
        for m in moved {
            let Some(f) = orgs.get_mut(&m.org) else { continue };
            if m.gauge {
                f.usage.insert(m.metric.to_owned(), m.value);
            } else if f.period == m.period {
                // Row locks commit counters in order; the callbacks may not run in order.
                let v = f.usage.entry(m.metric.to_owned()).or_insert(0);
                *v = (*v).max(m.value);
            }
        }
    }
}

//! The plan catalog.

use std::collections::BTreeMap;

use sqlx::types::Json;
use sqlx::PgConnection;

use crate::plans::{Limit, Plan};

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    display_name: String,
    price_cents: i64,
    currency: String,
    billing_interval: String,
    limits: Json<BTreeMap<String, Limit>>,
    numbers: Json<BTreeMap<String, i64>>,
    flags: Json<BTreeMap<String, bool>>,
    position: i32,
    available: bool,
}

impl From<Row> for Plan {
    fn from(r: Row) -> Self {
        Plan {
            name: r.name,
            display_name: r.display_name,
            price_cents: r.price_cents,
            currency: r.currency,
            billing_interval: r.billing_interval,
            limits: r.limits.0,
            numbers: r.numbers.0,
            flags: r.flags.0,
            position: r.position,
            available: r.available,
        }
    }
}

const COLUMNS: &str =
    "name, display_name, price_cents, currency, billing_interval, limits, numbers, flags, position, available";

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<Plan>> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans ORDER BY position, name")).fetch_all(conn).await?;
    Ok(rows.into_iter().map(Plan::from).collect())
}

pub async fn get(conn: &mut PgConnection, name: &str) -> sqlx::Result<Option<Plan>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM plans WHERE name = $1")).bind(name).fetch_optional(conn).await?;
    Ok(row.map(Plan::from))
}

/// Creates or replaces plan `p`; whether it was new.
pub async fn put(conn: &mut PgConnection, p: &Plan) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "INSERT INTO plans (name, display_name, price_cents, currency, billing_interval, limits, numbers, flags, \
           position, available) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, price_cents = EXCLUDED.price_cents, \
           currency = EXCLUDED.currency, billing_interval = EXCLUDED.billing_interval, limits = EXCLUDED.limits, \
           numbers = EXCLUDED.numbers, flags = EXCLUDED.flags, position = EXCLUDED.position, \
           available = EXCLUDED.available \
         RETURNING (xmax = 0)",
    )
    .bind(&p.name)
    .bind(&p.display_name)
    .bind(p.price_cents)
    .bind(&p.currency)
    .bind(&p.billing_interval)
    .bind(Json(&p.limits))
    .bind(Json(&p.numbers))
    .bind(Json(&p.flags))
    .bind(p.position)
    .bind(p.available)
    .fetch_one(conn)
    .await
}

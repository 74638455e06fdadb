//! billing-metrics' `billing.subscription.*` events, mirrored on the organization: its plan and
//! subscription status (`GET /v1/me` shows them; every service's auth layer refuses the writes
//! of a `canceled` or `unpaid` organization). Applied once per event, and never older over newer.

use futures::future::BoxFuture;
use platform::auth::Revocation;
use platform::bus::CloudEvent;
use platform::consumer::{Delivery, Handler};
use proto::events::BillingSubscription;
use sqlx::PgConnection;

use crate::AppState;

pub struct Mirror {
    pub state: AppState,
}

/// The organization status of a subscription status.
fn org_status(subscription: &str) -> &'static str {
    match subscription {
        "trialing" => "trial",
        "canceled" | "unpaid" => "cancelled",
        _ => "active",
    }
}

impl Handler for Mirror {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, d: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let event: CloudEvent<BillingSubscription> = serde_json::from_slice(&d.payload)?;
            let s = &event.data;
            let status = org_status(&s.status);
            if crate::store::orgs::mirror_billing(tx, s.organization_id, &s.plan, &s.status, status, event.time).await?
            {
                platform::cache::touch(s.organization_id);
            }
            Ok(())
        })
    }

    fn committed<'a>(&'a self, touched: platform::cache::Touched) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(orgs) = touched.ids() {
                let revocation = Revocation { changed_orgs: orgs.to_vec(), ..Default::default() };
                crate::sessions::announce(&self.state, revocation).await;
            }
        })
    }
}

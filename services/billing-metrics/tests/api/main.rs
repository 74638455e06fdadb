//! billing-metrics' API tests: identity and billing-metrics in-process on real PostgreSQL and
//! NATS, events published as producers publish them.

mod helpers;

mod activity;
mod analytics;
mod metering;
mod plans;
mod refunds;
mod rejections;
mod stripe;
mod subscriptions;

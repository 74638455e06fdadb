//! billing-metrics' SQL, one module per table family. Every tenant-scoped statement filters by
//! organization.

pub mod activity;
pub mod analytics;
pub mod plans;
pub mod refunds;
pub mod subscriptions;
pub mod usage;

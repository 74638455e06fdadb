//! The dispatcher's SQL, one function per statement (the delivery worker's claim and outcome
//! batches live beside the worker, whose batching they are).

pub mod deliveries;
pub mod endpoints;
pub mod mail;
pub mod notifications;

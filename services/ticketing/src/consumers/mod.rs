//! What ticketing consumes from the bus: each a durable JetStream consumer whose handler runs in
//! the transaction that records the event as processed (`platform::consumer`).

pub mod inbox;
pub mod teams;

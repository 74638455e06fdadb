//! Payloads of events (`events.<type>`) and commands (`mail.send`, `notify.send`), shared by
//! producers and consumers so both compile against the same type. Each travels inside a
//! CloudEvents 1.0 envelope whose `type` is the constant beside it.

mod billing;
mod commands;
mod feedback;
mod identity;
mod inbox;
mod ticketing;
mod webhooks;

pub use billing::*;
pub use commands::*;
pub use feedback::*;
pub use identity::*;
pub use inbox::*;
pub use ticketing::*;
pub use webhooks::*;

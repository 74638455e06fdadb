//! The changes to tickets, each one transaction that writes the row, its history, the hooks'
//! effects (SLA, routing, rules, inbox) and the outbox together. HTTP handlers and consumers both
//! call these; they hold no SQL themselves.

pub mod actions;
pub mod change;
pub mod comments;
pub mod extras;
pub mod merge;
pub mod tickets;

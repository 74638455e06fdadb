//! Ticketing's rules that need no database: the ticket's vocabularies and its status graph.

pub mod agent;
pub mod changes;
pub mod customer;
pub mod escalation;
pub mod fields;
pub mod knowledge;
pub mod project;
pub mod rules;
pub mod sla;
pub mod ticket;
pub mod viewer;

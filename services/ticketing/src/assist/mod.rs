//! Assistance for agents: suggested answers from the knowledge base (and drafted replies from a
//! language model when one is configured), complexity scores and the sentiment of customer
//! messages.

pub mod complexity;
pub mod llm;
pub mod sentiment;
pub mod suggest;

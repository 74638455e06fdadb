//! Suggested answers for a ticket: the published articles closest to its subject and
//! description by full-text similarity, each with a confidence (`domain::knowledge::confidence`),
//! and, when a language model is configured, a reply drafted from the best of them. Each
//! computation is recorded as one batch of `suggested_answers`.

use platform::ApiResult;

use crate::assist::llm;
use crate::domain::knowledge::{confidence, SuggestionKind};
use crate::domain::ticket::Ticket;
use crate::store::suggestions::{self as store, Candidate, NewSuggestion, Suggestion};
use crate::AppState;

/// Articles suggested per computation.
pub const LIMIT: i64 = 5;
/// Articles a drafted reply is built from.
pub const DRAFT_FROM: usize = 3;
/// How much of the description is matched: its start says what the ticket is about, and a
/// bounded query keeps the search fast.
const MAX_QUERY_CHARS: usize = 2_000;

/// The words suggestions are matched against: the subject and the start of the description.
pub fn query_text(ticket: &Ticket) -> String {
    let description = match ticket.description.char_indices().nth(MAX_QUERY_CHARS) {
        Some((end, _)) => &ticket.description[..end],
        None => &ticket.description,
    };
    format!("{} {}", ticket.subject, description)
}

fn article(c: &Candidate) -> NewSuggestion {
    NewSuggestion {
        kind: SuggestionKind::Article,
        article_id: Some(c.id),
        response_text: c.content.clone(),
        confidence: confidence(f64::from(c.rank), c.matched, c.terms),
        model_used: None,
        prompt_tokens: None,
        completion_tokens: None,
    }
}

/// Computes and records a new batch for `ticket` (of the caller's organization); the batch as
/// recorded. The model is asked outside any transaction; its failure only leaves the draft out.
pub async fn compute(state: &AppState, ticket: &Ticket) -> ApiResult<Vec<Suggestion>> {
    let org = ticket.organization_id;
    let candidates = {
        let mut conn = state.pool.acquire().await?;
        store::candidates(&mut conn, org, &query_text(ticket), LIMIT).await?
    };
    let mut batch: Vec<NewSuggestion> = candidates.iter().map(article).collect();
    if let (Some(url), Some(best)) = (state.config.suggestions_llm_url.as_deref(), batch.first()) {
        let endpoint = llm::Endpoint {
            url,
            api_key: state.config.suggestions_llm_api_key.as_ref(),
            model: &state.config.suggestions_llm_model,
        };
        let from = &candidates[..candidates.len().min(DRAFT_FROM)];
        let best = best.confidence;
        match llm::draft(&endpoint, ticket, from).await {
            Ok(d) => batch.push(NewSuggestion {
                kind: SuggestionKind::Draft,
                article_id: None,
                response_text: d.text,
                confidence: best,
                model_used: Some(d.model),
                prompt_tokens: d.prompt_tokens,
                completion_tokens: d.completion_tokens,
            }),
            Err(err) => {
                tracing::warn!(error = %err, ticket = %ticket.id, "no drafted reply; suggesting the articles alone");
            }
        }
    }
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.pool.begin().await?;
    store::insert(&mut tx, org, ticket.id, &batch).await?;
    let recorded = store::latest(&mut tx, org, ticket.id).await?;
    tx.commit().await?;
    Ok(recorded)
}

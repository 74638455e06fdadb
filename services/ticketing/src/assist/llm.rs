//! Drafted replies from an OpenAI-compatible chat-completions endpoint (`SUGGESTIONS_LLM_URL`,
//! the full URL of `…/chat/completions`; `SUGGESTIONS_LLM_API_KEY` as a bearer token when set;
//! `SUGGESTIONS_LLM_MODEL`). Off unless configured. The caller treats every failure as "no
//! draft": the article suggestions answer regardless.

use std::sync::LazyLock;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::ticket::Ticket;
use crate::store::suggestions::Candidate;

/// A model may take a while to write; an agent waiting longer than this would rather have the
/// articles alone.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Responses larger than this are not a reply anyone wants to read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const MAX_DRAFT_CHARS: usize = 10_000;
const MAX_TICKET_CHARS: usize = 4_000;
const MAX_ARTICLE_CHARS: usize = 3_000;

pub const SYSTEM_PROMPT: &str = "You are a customer support agent. Write a reply to the customer's ticket \
    using only the knowledge base articles given. Be brief, friendly and concrete. If the articles do not \
    answer the question, say what information you need instead. Never invent facts, links or prices.";

static CLIENT: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
});

/// Where and how to ask.
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub api_key: Option<&'a SecretString>,
    pub model: &'a str,
}

/// A drafted reply and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: String,
    pub model: String,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: String,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    temperature: f32,
    max_tokens: u32,
}

#[derive(Deserialize)]
struct Completion {
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Reply,
}

#[derive(Deserialize)]
struct Reply {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
}

fn clip(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The user message: the ticket, then the articles, numbered.
pub fn prompt(ticket: &Ticket, articles: &[Candidate]) -> String {
    let mut out = format!(
        "Ticket {}: {}\n\n{}\n\nKnowledge base articles:\n",
        ticket.number,
        ticket.subject,
        clip(&ticket.description, MAX_TICKET_CHARS)
    );
    for (i, a) in articles.iter().enumerate() {
        out.push_str(&format!("\n[{}] {}\n{}\n", i + 1, a.title, clip(&a.content, MAX_ARTICLE_CHARS)));
    }
    out
}

/// Asks the model for a reply to `ticket` built from `articles`.
pub async fn draft(endpoint: &Endpoint<'_>, ticket: &Ticket, articles: &[Candidate]) -> anyhow::Result<Draft> {
    let body = Request {
        model: endpoint.model,
        messages: vec![
            Message { role: "system", content: SYSTEM_PROMPT.to_owned() },
            Message { role: "user", content: prompt(ticket, articles) },
        ],
        temperature: 0.2,
        max_tokens: 600,
    };
    let mut request = CLIENT.post(endpoint.url).json(&body);
    if let Some(key) = endpoint.api_key {
        request = request.bearer_auth(key.expose_secret());
    }
    // reqwest's errors may carry the URL, which may carry a key: never shown.
    let mut response = request.send().await.map_err(|e| anyhow::anyhow!("request failed: {}", e.without_url()))?;
    if !response.status().is_success() {
        anyhow::bail!("the endpoint answered {}", response.status());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| anyhow::anyhow!("reading failed: {}", e.without_url()))?
    {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            anyhow::bail!("the response is larger than {MAX_RESPONSE_BYTES} bytes");
        }
        bytes.extend_from_slice(&chunk);
    }
    // PostgreSQL's text cannot hold U+0000: the reply and the model's name come with U+FFFD instead.
    let completion: Completion = platform::extract::parse_json_replacing_nul(&bytes)
        .map_err(|e| anyhow::anyhow!("not a chat completion: {e}"))?;
    let text = completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .map(|t| clip(t.trim(), MAX_DRAFT_CHARS).to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| anyhow::anyhow!("the completion has no reply"))?;
    let tokens = |n: Option<i64>| n.and_then(|n| i32::try_from(n).ok()).filter(|n| *n >= 0);
    let usage = completion.usage;
    Ok(Draft {
        text,
        model: completion.model.filter(|m| !m.is_empty()).unwrap_or_else(|| endpoint.model.to_owned()),
        prompt_tokens: tokens(usage.as_ref().and_then(|u| u.prompt_tokens)),
        completion_tokens: tokens(usage.as_ref().and_then(|u| u.completion_tokens)),
    })
}

//! Knowledge articles' vocabularies and fields, and the confidence of a suggested answer.
//!
//! # Lifecycle
//!
//! `draft → published | archived`, `published → archived`, `archived → published`. Publishing a
//! published article or archiving an archived one changes nothing. Customers read published
//! articles only; votes go to published articles only.
//!
//! # Effectiveness
//!
//! `helpful_votes / (helpful_votes + unhelpful_votes)`, `null` until the first vote. One vote per
//! voter (a user, or an API key); voting again replaces the voter's vote.
//!
//! # Confidence of a suggested article
//!
//! With `rank` the article's `ts_rank_cd` against the ticket's words OR-ed together, `matched`
//! the number of the ticket's distinct words (English stems, stop words left out) found in the
//! article and `terms` the number of those words:
//!
//! ```text
//! confidence = 0.6 · rank / (rank + 1) + 0.4 · matched / terms      (0…1, two decimals)
//! ```
//!
//! The first part grows with how densely the article covers the words and saturates: each
//! occurrence of a word adds about 1 to the rank in the title and 0.4 in the content, so a rank
//! of 1 (one title word, or two or three in the content) gives half of it. The second part
//! grows with how many of the ticket's words the article has at all. A drafted reply takes the
//! confidence of the best article it was built from.

use platform::FieldError;
use serde::{Deserialize, Serialize};

/// Rank at which the density part of the confidence is half way.
pub const RANK_HALF: f64 = 1.0;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

vocabulary!(
    /// Where an article is in its life.
    ArticleStatus { Draft => "draft", Published => "published", Archived => "archived" }
);
vocabulary!(
    /// Written by hand, or from a ticket.
    ArticleSource { Manual => "manual", Ticket => "ticket" }
);
vocabulary!(
    /// An article suggestion, or a reply drafted from the articles by a language model.
    SuggestionKind { Article => "article", Draft => "draft" }
);

/// The confidence (0…1, two decimals) of an article ranked `rank` that contains `matched` of the
/// ticket's `terms` distinct words.
pub fn confidence(rank: f64, matched: i64, terms: i64) -> f64 {
    let density = if rank.is_finite() && rank > 0.0 { rank / (rank + RANK_HALF) } else { 0.0 };
    let coverage = if terms > 0 { (matched.max(0) as f64 / terms as f64).min(1.0) } else { 0.0 };
    ((0.6 * density + 0.4 * coverage) * 100.0).round().clamp(0.0, 100.0) / 100.0
}

/// An article's title, as a ticket's subject (`fields::subject`): 1–200 characters with
/// something besides white space, no control characters; trimmed.
pub fn title(field: &str, raw: &str) -> Result<String, FieldError> {
    super::fields::subject(field, raw)
}

/// An article's content: 1–100,000 characters.
pub fn content(field: &str, raw: &str) -> Result<String, FieldError> {
    if raw.trim().is_empty() || raw.chars().count() > 100_000 {
        Err(FieldError::new(field, "must be 1 to 100000 characters"))
    } else {
        Ok(raw.to_owned())
    }
}

/// A category: 1–100 characters with something besides white space, no control characters;
/// trimmed.
pub fn category(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() || raw.chars().count() > 100 || raw.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            "must be 1 to 100 characters with something besides spaces, without control characters",
        ))
    } else {
        Ok(t.to_owned())
    }
}

/// At most 20 tags as tickets have them (1–40 ASCII letters, digits, `-` or `_`), trimmed,
/// lowercased and deduplicated.
pub fn tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > 20 {
        return Err(FieldError::new(field, "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let t = super::rules::tag(t)
            .ok_or_else(|| FieldError::new(field, "tags are 1 to 40 ASCII letters, digits, - or _"))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_stays_within_bounds_and_grows_with_the_match() {
        assert_eq!(confidence(0.0, 0, 0), 0.0);
        assert_eq!(confidence(f64::NAN, 3, 0), 0.0);
        assert_eq!(confidence(1e9, 10, 10), 1.0);
        assert_eq!(confidence(1.0, 5, 10), 0.5);
        assert!(confidence(2.0, 5, 10) > confidence(1.0, 5, 10));
        assert!(confidence(1.0, 8, 10) > confidence(1.0, 5, 10));
        assert!(confidence(1.0, 20, 10) <= 1.0);
        for rank in [0.0001, 0.01, 0.5, 3.0, 100.0] {
            for matched in 0..=4 {
                let c = confidence(rank, matched, 4);
                assert!((0.0..=1.0).contains(&c), "{c}");
            }
        }
    }

    #[test]
    fn fields_are_checked() {
        assert_eq!(title("title", "  Reset a password ").unwrap(), "Reset a password");
        assert!(title("title", " ").is_err());
        assert!(content("content", "  ").is_err());
        assert_eq!(tags("tags", &["Billing".into(), "billing".into()]).unwrap(), ["billing"]);
    }
}

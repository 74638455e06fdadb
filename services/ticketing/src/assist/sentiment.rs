//! Sentiment of customer messages: the VADER lexicon and rules (the `vader_sentiment` crate, a
//! port of the original analyser), its compound score from −1 (most negative) to 1 (most
//! positive). No hand-made word list.

use std::sync::LazyLock;

use vader_sentiment::SentimentIntensityAnalyzer;

/// Built once: the analyser parses its lexicon of some 7,500 entries when first used.
static ANALYZER: LazyLock<SentimentIntensityAnalyzer<'static>> = LazyLock::new(SentimentIntensityAnalyzer::new);

/// Only the start of a very long message is read, so one message cannot hold a request for long;
/// the tone of a message shows well before this.
const MAX_CHARS: usize = 20_000;

/// The compound score of `text`, −1…1; 0 for text without sentiment (or none at all).
pub fn score(text: &str) -> f32 {
    let text = match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    if text.trim().is_empty() {
        return 0.0;
    }
    let compound = ANALYZER.polarity_scores(text).get("compound").copied().unwrap_or(0.0);
    if compound.is_finite() {
        compound.clamp(-1.0, 1.0) as f32
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_text_has_a_clear_sign() {
        assert!(score("Thank you so much, this is great and works perfectly!") > 0.5);
        assert!(score("This is terrible. I am furious, nothing works and I hate it.") < -0.5);
        assert_eq!(score(""), 0.0);
        assert_eq!(score("   "), 0.0);
        assert!(score("The invoice number is 42.").abs() < 0.2);
    }

    #[test]
    fn odd_input_stays_in_range() {
        for text in ["!!!!!!!!", "😡😡😡", "a", "NOT BAD but not good", &"awful ".repeat(10_000)] {
            let s = score(text);
            assert!((-1.0..=1.0).contains(&s), "{text:.20}: {s}");
        }
    }
}

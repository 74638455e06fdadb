//! The rules of a ticket's text fields, checked at the HTTP boundary (`http::schema` tells
//! clients the same in the OpenAPI document).

use platform::FieldError;

pub const SUBJECT_MAX: usize = 200;
pub const TEXT_MAX: usize = 20_000;
pub const MAX_TAGS: usize = 20;
/// Estimated hours at most (the column holds eight digits with two decimals).
pub const MAX_HOURS: f64 = 100_000.0;

/// A subject: 1 to 200 characters, no control character, something besides white space;
/// trimmed.
pub fn subject(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() || raw.chars().count() > SUBJECT_MAX || raw.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            "must be 1 to 200 characters with something besides spaces, without control characters",
        ))
    } else {
        Ok(t.to_owned())
    }
}

/// A long text of at most `max` characters (may be empty).
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    if raw.chars().count() > max {
        Err(FieldError::new(field, format!("must be at most {max} characters")))
    } else {
        Ok(raw.to_owned())
    }
}

/// A text of at most `max` characters with something besides white space; trimmed.
pub fn not_blank(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else if raw.chars().count() > max {
        Err(FieldError::new(field, format!("must be at most {max} characters")))
    } else {
        Ok(t.to_owned())
    }
}

/// Tags: at most 20, each 1–40 ASCII letters, digits, `-` and `_`; lowercased, deduplicated.
pub fn tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_TAGS {
        return Err(FieldError::new(field, "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let ok = (1..=40).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(FieldError::new(field, "tags are 1 to 40 ASCII letters, digits, - or _"));
        }
        let t = t.to_ascii_lowercase();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// An email address as far as a requester's goes: `local@domain.tld`, no white space or control
/// characters, at most 254 characters (`http::schema::EMAIL_PATTERN`).
pub fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '@');
    // A dot with something on both sides inside the domain.
    let dotted = |d: &str| d.char_indices().any(|(i, c)| c == '.' && i > 0 && i + 1 < d.len());
    let ok = raw.chars().count() <= 254 && raw.split_once('@').is_some_and(|(l, d)| clean(l) && clean(d) && dotted(d));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(field, "must be an email address"))
    }
}

/// Estimated hours: 0 to 100,000, kept to the hundredth.
pub fn hours(field: &str, raw: f64) -> Result<f64, FieldError> {
    if raw.is_finite() && (0.0..=MAX_HOURS).contains(&raw) {
        Ok((raw * 100.0).round() / 100.0)
    } else {
        Err(FieldError::new(field, "must be between 0 and 100000"))
    }
}

/// The words of a search query as a tsquery (`word:* & other:*`), or `None` when nothing
/// searchable is left. Only letters and digits reach PostgreSQL's parser.
pub fn search_query(raw: &str) -> Option<String> {
    let words: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("{}:*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_checked_and_trimmed() {
        assert_eq!(subject("subject", "  Printer on fire ").unwrap(), "Printer on fire");
        assert!(subject("subject", "   ").is_err());
        assert!(subject("subject", "a\u{7}b").is_err());
        assert!(subject("subject", &"x".repeat(201)).is_err());
        assert!(not_blank("body", "\n\t", 10).is_err());
        assert_eq!(tags("tags", &["VIP".into(), "vip".into()]).unwrap(), vec!["vip"]);
        assert!(tags("tags", &["no spaces".into()]).is_err());
        assert!(email("email", "a@b.co").is_ok());
        assert!(email("email", "nope").is_err());
        assert_eq!(hours("h", 1.234).unwrap(), 1.23);
        assert!(hours("h", -1.0).is_err());
        assert_eq!(search_query("Printer, on fire!").as_deref(), Some("printer:* & on:* & fire:*"));
        assert_eq!(search_query("'); --"), None);
    }
}

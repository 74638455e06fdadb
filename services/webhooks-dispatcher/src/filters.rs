//! Which events an endpoint receives: exact types or prefix wildcards (`ticket.*`, `*`), from
//! the public catalog only — commands and internal subjects never leave the platform.

/// Families of event types that may be delivered to customers' endpoints.
pub const CATALOG: &[&str] = &["identity.", "feedback.", "ticket.", "inbox.", "billing.", "webhook."];

pub fn in_catalog(event_type: &str) -> bool {
    CATALOG.iter().any(|p| event_type.starts_with(p))
}

/// Whether a filter is well formed: `*`, `family.*`, or a type of the catalog.
pub fn valid(filter: &str) -> bool {
    if filter == "*" {
        return true;
    }
    let ok_chars =
        filter.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'*');
    let base = filter.strip_suffix(".*").unwrap_or(filter);
    ok_chars && !base.contains('*') && !base.is_empty() && filter.len() <= 100 && in_catalog(&format!("{base}."))
}

/// Whether `event_type` matches any of `filters`.
pub fn matches(filters: &[String], event_type: &str) -> bool {
    filters.iter().any(|f| {
        f == "*" || f == event_type || f.strip_suffix('*').is_some_and(|prefix| event_type.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_exact_types_and_prefixes() {
        let f = vec!["ticket.*".to_owned(), "feedback.created".to_owned()];
        assert!(matches(&f, "ticket.assigned"));
        assert!(matches(&f, "feedback.created"));
        assert!(!matches(&f, "feedback.updated"));
        assert!(matches(&["*".to_owned()], "inbox.message.received"));
    }

    #[test]
    fn only_catalog_filters_are_valid() {
        for ok in ["*", "ticket.*", "feedback.vote.*", "feedback.created", "webhook.delivery.exhausted"] {
            assert!(valid(ok), "{ok}");
        }
        for bad in ["mail.send", "mail.*", "internal.*", "tick*", "", "FEEDBACK.created", "feedback.*.x"] {
            assert!(!valid(bad), "{bad}");
        }
        assert!(!in_catalog("mail.send") && !in_catalog("notify.send"));
    }
}

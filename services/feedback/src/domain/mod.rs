//! Feedback's domain values, parsed at the boundary, and its visibility rule.

pub mod visibility;

use platform::FieldError;
use serde::{Deserialize, Serialize};

pub use visibility::{audience, Viewer};

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        // `rename_all` is for the OpenAPI schema, which does not see the variants' renames
        // through the macro; the unit test holds the two spellings together.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                match raw {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(FieldError::new(field, format!("must be one of: {}", Self::ALL.join(", ")))),
                }
            }
        }
    };
}

string_enum!(
    /// Where a post is in its life.
    Status {
        Open => "open",
        UnderReview => "under_review",
        Planned => "planned",
        InProgress => "in_progress",
        Completed => "completed",
        Rejected => "rejected",
        Duplicate => "duplicate",
    }
);

string_enum!(
    /// The statuses a status change may set: every one but `duplicate`, which only a merge sets.
    SettableStatus {
        Open => "open",
        UnderReview => "under_review",
        Planned => "planned",
        InProgress => "in_progress",
        Completed => "completed",
        Rejected => "rejected",
    }
);

impl SettableStatus {
    pub fn status(self) -> Status {
        match self {
            Self::Open => Status::Open,
            Self::UnderReview => Status::UnderReview,
            Self::Planned => Status::Planned,
            Self::InProgress => Status::InProgress,
            Self::Completed => Status::Completed,
            Self::Rejected => Status::Rejected,
        }
    }
}

string_enum!(
    Priority { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
);

string_enum!(
    VoteType { Up => "up", Down => "down" }
);

string_enum!(
    /// List orders. `relevance` ranks by the search query `q`; without searchable words it is
    /// `new`.
    Sort { New => "new", Top => "top", Trending => "trending", Discussed => "discussed", Relevance => "relevance" }
);

/// A title: at most 200 characters, none a control character, at least 3 left after trimming
/// (which is what is kept). `http::schema::TITLE_PATTERN` says the same to clients.
pub fn title(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if raw.chars().count() > 200 || t.chars().count() < 3 || raw.chars().any(char::is_control) {
        Err(FieldError::new(field, "must be 3 to 200 characters, without control characters"))
    } else {
        Ok(t.to_owned())
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

/// A long text up to `max` characters.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    if raw.chars().count() > max {
        Err(FieldError::new(field, format!("must be at most {max} characters")))
    } else {
        Ok(raw.to_owned())
    }
}

/// Tags: at most 20, each 1–40 ASCII letters, digits, `-` and `_` (`http::schema::TAG_PATTERN`);
/// lowercased and deduplicated. ASCII only, so that the pattern clients see is the same rule in
/// every regex engine.
pub fn tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > 20 {
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

/// A post's metadata: a JSON object whose numbers fit a 64-bit float. The body's parser leaves it
/// unread ([`RawValue`]) so that a number beyond that range is refused here, naming the field,
/// instead of as a malformed body. Whatever passes is stored as PostgreSQL `jsonb` and read back
/// by the same parser, with the same depth limit, so reading a stored post cannot fail.
///
/// [`RawValue`]: serde_json::value::RawValue
pub fn metadata(
    field: &str,
    raw: &serde_json::value::RawValue,
) -> Result<serde_json::Map<String, serde_json::Value>, FieldError> {
    serde_json::from_str(raw.get()).map_err(|e| {
        let message = e.to_string();
        let message = if message.starts_with("number out of range") {
            "numbers must be within ±1.7976931348623157e308 (a 64-bit float)"
        } else if message.starts_with("recursion limit exceeded") {
            "is nested too deeply"
        } else {
            "must be a JSON object"
        };
        FieldError::new(field, message)
    })
}

/// `#rrggbb`.
pub fn color(field: &str, raw: &str) -> Result<String, FieldError> {
    let ok = raw.len() == 7 && raw.starts_with('#') && raw[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(FieldError::new(field, "must be a color like #6366f1"))
    }
}

/// The words of a search query as a prefix-matching tsquery (`tick:* & ticket:*`), or `None` if
/// nothing searchable is left. Only letters and digits reach PostgreSQL's parser.
pub fn prefix_query(raw: &str, joiner: &str) -> Option<String> {
    let words: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("{}:*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(joiner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_and_name_their_choices() {
        assert_eq!(Status::parse("status", "in_progress").unwrap(), Status::InProgress);
        let err = Status::parse("status", "done").unwrap_err();
        assert!(err.message.contains("under_review"));
    }

    #[test]
    fn schemas_name_the_values_the_api_takes() {
        use utoipa::PartialSchema;
        let names = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            let value = serde_json::to_value(schema).unwrap();
            value["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(names(Status::schema()), Status::ALL);
        assert_eq!(names(Priority::schema()), Priority::ALL);
        assert_eq!(names(VoteType::schema()), VoteType::ALL);
        assert_eq!(names(Sort::schema()), Sort::ALL);
        assert_eq!(names(SettableStatus::schema()), SettableStatus::ALL);
        assert_eq!(serde_json::to_value(Status::UnderReview).unwrap(), "under_review");
    }

    #[test]
    fn queries_keep_only_words() {
        assert_eq!(prefix_query("Dark mode!", " & ").as_deref(), Some("dark:* & mode:*"));
        assert_eq!(prefix_query("'); DROP TABLE --", " | ").as_deref(), Some("drop:* | table:*"));
        assert_eq!(prefix_query("!!", " & "), None);
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(tags("tags", &["UI".into(), "ui".into(), "dark-mode".into()]).unwrap(), ["ui", "dark-mode"]);
        assert!(tags("tags", &["has space".into()]).is_err());
        assert!(tags("tags", &[" ui".into()]).is_err());
        assert!(tags("tags", &["été".into()]).is_err());
        assert!(tags("tags", &["".into()]).is_err());
        assert!(tags("tags", &["a".repeat(41)]).is_err());
    }

    #[test]
    fn titles_are_trimmed_and_counted_as_sent() {
        assert_eq!(title("title", "  Dark mode ").unwrap(), "Dark mode");
        assert!(title("title", " a  b ").is_ok());
        assert!(title("title", "  ab  ").is_err());
        assert!(title("title", "bad\u{7}title").is_err());
        assert!(title("title", &format!("{} ", "a".repeat(200))).is_err());
    }

    #[test]
    fn metadata_numbers_fit_a_float() {
        let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).unwrap();
        assert!(metadata("metadata", &raw(r#"{"a": 1.7976931348623157e308, "b": [-5e-324]}"#)).is_ok());
        let err = metadata("metadata", &raw(r#"{"a": {"b": 1e309}}"#)).unwrap_err();
        assert!(err.message.contains("64-bit float"), "{}", err.message);
        assert_eq!(metadata("metadata", &raw("[1]")).unwrap_err().message, "must be a JSON object");
    }

    #[test]
    fn settable_statuses_are_the_statuses_but_duplicate() {
        let settable: Vec<&str> =
            SettableStatus::ALL.iter().map(|s| SettableStatus::parse("s", s).unwrap().status().as_str()).collect();
        let all: Vec<&str> = Status::ALL.iter().copied().filter(|s| *s != "duplicate").collect();
        assert_eq!(settable, all);
    }
}

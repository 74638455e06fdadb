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
    Priority { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
);

string_enum!(
    VoteType { Up => "up", Down => "down" }
);

string_enum!(
    /// List orders; `relevance` only with a search query.
    Sort { New => "new", Top => "top", Trending => "trending", Discussed => "discussed", Relevance => "relevance" }
);

/// A title: 3–200 characters after trimming.
pub fn title(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    let n = t.chars().count();
    if !(3..=200).contains(&n) || t.chars().any(char::is_control) {
        Err(FieldError::new(field, "must be 3 to 200 characters"))
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

/// Tags: at most 20, each 1–40 of lowercase letters, digits, `-` and `_`; deduplicated.
pub fn tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > 20 {
        return Err(FieldError::new(field, "at most 20 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for t in raw {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.len() > 40 || !t.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            return Err(FieldError::new(field, "tags are 1 to 40 letters, digits, - or _"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
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
    }
}

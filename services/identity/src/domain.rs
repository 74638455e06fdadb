//! Identity's domain values, parsed once at the boundary.

use platform::FieldError;
use serde::Serialize;

/// A normalised (trimmed, lower-cased) email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let valid = s.len() <= 254
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            })
            && s.matches('@').count() == 1
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(s))
        } else {
            Err(FieldError::new(field, "must be a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An organization's URL name: 3–63 of a–z, 0–9 and inner hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        // Not trimmed: the document's pattern is the rule, and a padded slug breaks links.
        let s = raw;
        let ok = (3..=63).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::new(field, "3 to 63 lowercase letters, digits and inner hyphens"))
        }
    }

    /// A slug made from a display name (`"Acme, Inc."` → `acme-inc`), padded when too short.
    pub fn from_name(name: &str) -> Self {
        let mut s = String::new();
        for c in name.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        let mut s = s.trim_end_matches('-').chars().take(48).collect::<String>();
        s = s.trim_end_matches('-').to_owned();
        if s.len() < 3 {
            s = format!("org-{s}").trim_end_matches('-').to_owned();
        }
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: at most 200 characters, not blank, no control characters; kept trimmed.
/// The length counts what was sent, as the OpenAPI `maxLength` does.
pub fn parse_name(field: &str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() || raw.chars().count() > 200 || s.chars().any(char::is_control) {
        Err(FieldError::new(field, "must be 1 to 200 characters"))
    } else {
        Ok(s.to_owned())
    }
}

/// A free-text description: at most 2000 characters.
pub fn check_description(field: &str, raw: &str) -> Result<(), FieldError> {
    if raw.chars().count() > 2000 {
        Err(FieldError::new(field, "must be at most 2000 characters"))
    } else {
        Ok(())
    }
}

/// A link shown to people: http(s), at most 500 characters.
pub fn check_url(field: &str, raw: &str) -> Result<(), FieldError> {
    if (raw.starts_with("https://") || raw.starts_with("http://")) && raw.chars().count() <= 500 {
        Ok(())
    } else {
        Err(FieldError::new(field, "must be an http(s) URL of at most 500 characters"))
    }
}

/// A PATCH field that may be left out but not set to null: its value, if given.
pub fn not_null<T>(field: &str, value: Option<Option<T>>) -> Result<Option<T>, FieldError> {
    match value {
        Some(None) => Err(FieldError::new(field, "cannot be null")),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A new password: 10–256 characters (NIST 800-63B favours length over composition rules).
pub fn check_password(field: &str, raw: &str) -> Result<(), FieldError> {
    let n = raw.chars().count();
    if n < 10 {
        Err(FieldError::new(field, "must be at least 10 characters"))
    } else if n > 256 {
        Err(FieldError::new(field, "must be at most 256 characters"))
    } else {
        Ok(())
    }
}

/// Collects field errors; `finish` answers 422 naming all of them.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), platform::Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(platform::Problem::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("email", " Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@x.io", "a@b", "a b@x.io", "a@@x.io", "a@x..io"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(Slug::from_name("Acme, Inc.").as_str(), "acme-inc");
        assert_eq!(Slug::from_name("X").as_str(), "org-x");
        assert_eq!(Slug::from_name("!!!").as_str(), "org");
        assert!(Slug::parse("slug", "Bad_Slug").is_err());
        assert!(Slug::parse("slug", "good-slug").is_ok());
    }
}

//! A customer profile (seed 001): who the customer is — an identity user, an inbox contact
//! (platform + external id) or an email — and what the desk knows of their account: tier,
//! standing, lifetime value, billing cycle, token and site usage, context and preferences.

use platform::FieldError;
use uuid::Uuid;

/// Declares a closed vocabulary stored as text, snake_case on the wire and in the database.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value named `raw`, or a field error listing the accepted ones.
            pub fn parse(field: &str, raw: &str) -> Result<Self, platform::FieldError> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(platform::FieldError::new(
                        field,
                        format!("must be one of: {}", Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
                    )),
                }
            }
        }
    };
}
pub(crate) use choice;

choice!(
    /// The customer's plan tier.
    Tier { Free => "free", Starter => "starter", Pro => "pro", Enterprise => "enterprise" }
);

choice!(
    /// The account's standing.
    Standing { Good => "good", Warning => "warning", Suspended => "suspended", Closed => "closed" }
);

choice!(BillingCycle { Monthly => "monthly", Quarterly => "quarterly", Yearly => "yearly" });

choice!(
    /// The messaging platforms inbox contacts come from.
    ContactPlatform { Whatsapp => "whatsapp", Messenger => "messenger", Instagram => "instagram", Tiktok => "tiktok" }
);

/// Largest amount accepted (the column is NUMERIC(14, 2)).
pub const MAX_AMOUNT: f64 = 999_999_999_999.99;
/// Largest serialised `context` or `preferences` object.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// A profile's every field, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: Option<Uuid>,
    pub contact: Option<(ContactPlatform, String)>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub tier: Tier,
    pub standing: Standing,
    pub lifetime_value: f64,
    pub billing_cycle: Option<BillingCycle>,
    pub token_balance: i64,
    pub token_limit: Option<i64>,
    pub active_sites: i32,
    pub sites_limit: Option<i32>,
    pub context: serde_json::Value,
    pub preferences: serde_json::Value,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            user_id: None,
            contact: None,
            email: None,
            name: None,
            tier: Tier::Free,
            standing: Standing::Good,
            lifetime_value: 0.0,
            billing_cycle: None,
            token_balance: 0,
            token_limit: None,
            active_sites: 0,
            sites_limit: None,
            context: serde_json::json!({}),
            preferences: serde_json::json!({}),
        }
    }
}

/// Parsed changes: `None` keeps a field; `Some(None)` clears a nullable one. The contact changes
/// as a pair.
#[derive(Debug, Default)]
pub struct Changes {
    pub user_id: Option<Option<Uuid>>,
    pub contact: Option<Option<(ContactPlatform, String)>>,
    pub email: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub tier: Option<Tier>,
    pub standing: Option<Standing>,
    pub lifetime_value: Option<f64>,
    pub billing_cycle: Option<Option<BillingCycle>>,
    pub token_balance: Option<i64>,
    pub token_limit: Option<Option<i64>>,
    pub active_sites: Option<i32>,
    pub sites_limit: Option<Option<i32>>,
    pub context: Option<serde_json::Value>,
    pub preferences: Option<serde_json::Value>,
}

impl Profile {
    /// The profile after `changes`, or why it would not identify anybody.
    pub fn apply(mut self, c: Changes) -> Result<Self, FieldError> {
        if let Some(v) = c.user_id {
            self.user_id = v;
        }
        if let Some(v) = c.contact {
            self.contact = v;
        }
        if let Some(v) = c.email {
            self.email = v;
        }
        if let Some(v) = c.name {
            self.name = v;
        }
        self.tier = c.tier.unwrap_or(self.tier);
        self.standing = c.standing.unwrap_or(self.standing);
        self.lifetime_value = c.lifetime_value.unwrap_or(self.lifetime_value);
        if let Some(v) = c.billing_cycle {
            self.billing_cycle = v;
        }
        self.token_balance = c.token_balance.unwrap_or(self.token_balance);
        if let Some(v) = c.token_limit {
            self.token_limit = v;
        }
        self.active_sites = c.active_sites.unwrap_or(self.active_sites);
        if let Some(v) = c.sites_limit {
            self.sites_limit = v;
        }
        if let Some(v) = c.context {
            self.context = v;
        }
        if let Some(v) = c.preferences {
            self.preferences = v;
        }
        // A profile nobody can be matched to is of no use to the desk: the inbox finds customers
        // by contact, tickets by user or email.
        if self.user_id.is_none() && self.contact.is_none() && self.email.is_none() {
            return Err(FieldError::new("user_id", "a customer needs a user_id, a contact or an email"));
        }
        Ok(self)
    }
}

/// One line of 1–200 characters, not blank, without control characters; stored trimmed.
pub fn line(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if raw.chars().count() > 200 || t.is_empty() || raw.chars().any(char::is_control) {
        Err(FieldError::new(field, "must be 1 to 200 characters, not blank, without control characters"))
    } else {
        Ok(t.to_owned())
    }
}

/// An email address: `local@domain.tld`, at most 254 characters, no spaces.
pub fn email(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw;
    let well_formed = t.chars().count() <= 254
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && t.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if well_formed {
        Ok(t.to_owned())
    } else {
        Err(FieldError::new(field, "must be an email address"))
    }
}

/// An amount of money: 0 to [`MAX_AMOUNT`], kept to the cent.
pub fn amount(field: &str, raw: f64) -> Result<f64, FieldError> {
    if raw.is_finite() && (0.0..=MAX_AMOUNT).contains(&raw) {
        Ok((raw * 100.0).round() / 100.0)
    } else {
        Err(FieldError::new(field, "must be between 0 and 999999999999.99"))
    }
}

/// A count that cannot be negative.
pub fn count<T: PartialOrd + Default>(field: &str, raw: T) -> Result<T, FieldError> {
    if raw >= T::default() {
        Ok(raw)
    } else {
        Err(FieldError::new(field, "must not be negative"))
    }
}

/// A free-form JSON object of at most [`MAX_JSON_BYTES`] serialised.
pub fn object(field: &str, raw: serde_json::Value) -> Result<serde_json::Value, FieldError> {
    if !raw.is_object() {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    if serde_json::to_vec(&raw).map_or(usize::MAX, |b| b.len()) > MAX_JSON_BYTES {
        return Err(FieldError::new(field, "must be at most 16384 bytes of JSON"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_must_identify_somebody() {
        let p = Profile { email: Some("a@b.co".into()), ..Profile::default() };
        assert!(p.clone().apply(Changes { email: Some(None), ..Changes::default() }).is_err());
        let linked = p.apply(Changes { user_id: Some(Some(Uuid::nil())), email: Some(None), ..Changes::default() });
        assert_eq!(linked.unwrap().email, None);
    }

    #[test]
    fn values_are_checked() {
        assert!(email("email", "ada@example.com").is_ok());
        for bad in ["ada", "@example.com", "ada@example", "ada@@example.com", "a da@example.com", "ada@.com"] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
        assert_eq!(amount("v", 10.005).unwrap(), 10.01);
        assert!(amount("v", -0.01).is_err());
        assert!(count("n", -1i64).is_err());
        assert!(object("context", serde_json::json!([1])).is_err());
        assert_eq!(Tier::parse("tier", "pro"), Ok(Tier::Pro));
        assert!(Tier::parse("tier", "gold").unwrap_err().message.contains("free, starter, pro, enterprise"));
    }
}

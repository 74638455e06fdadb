//! Decision rules: conditions over a ticket and its customer, joined by `all` or `any`, and the
//! actions a matching rule takes. Parsed at the boundary from JSON into these types — every error
//! names its path (`conditions[1].operator`) — stored back as their canonical JSON, and matched
//! here without a database.
//!
//! # Fields, operators and values
//!
//! | field | kind | operators | value |
//! | --- | --- | --- | --- |
//! | `priority`, `severity`, `customer_tier` | ordered choice | `eq ne in not_in gt gte lt lte` | one of the field's values (a list for `in`/`not_in`) |
//! | `category`, `status`, `channel` | choice | `eq ne in not_in` | one of the field's values (a list for `in`/`not_in`) |
//! | `tags` | tag set | `contains not_contains in not_in` | a tag; a list for `in` (has any) / `not_in` (has none) |
//! | `subject`, `description`, `text` | text | `eq ne contains not_contains` | a string, compared case-insensitively |
//! | `sentiment` (−1…1), `hours_open` (≥ 0) | number | `eq ne gt gte lt lte` | a number |
//! | `assignee_id`, `team_id` | id | `eq ne in not_in` | a UUID (a list for `in`/`not_in`) |
//!
//! `text` is the subject, the description and the latest customer message. `channel` is the
//! ticket's source. Ordered choices compare by their order (`low < normal < high < urgent`,
//! `minor < normal < major < critical`, `free < starter < pro < enterprise`). `eq`/`ne` with
//! `null` test for a missing value on `customer_tier`, `sentiment`, `assignee_id` and `team_id`
//! (no customer, no customer message yet, unassigned). A missing value fails every positive
//! operator; `ne`, `not_in` and `not_contains` are exact negations, so they hold for it.
//! A rule without conditions matches every ticket.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ticket::{Category, Priority, Severity, Source, Status};

/// A customer profile's tiers, in order (customer_profiles_tier_check).
pub const TIERS: &[&str] = &["free", "starter", "pro", "enterprise"];
/// Escalation reasons and priorities a rule may use (escalations_reason_check / _priority_check).
pub const ESCALATION_REASONS: &[&str] = &[
    "ai_unable_to_resolve",
    "customer_request",
    "sla_breach",
    "high_complexity",
    "negative_sentiment",
    "rule",
    "other",
];
pub const ESCALATION_PRIORITIES: &[&str] = &["low", "normal", "high", "urgent", "critical"];
/// Bounds of a rule's parts, so one rule stays cheap to evaluate on every ticket change.
pub const MAX_CONDITIONS: usize = 50;
pub const MAX_ACTIONS: usize = 20;
const MAX_LIST: usize = 100;
const MAX_TEXT: usize = 500;

macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some($name::$variant),)+ _ => None }
            }

            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

words!(
    /// When a rule is evaluated.
    Trigger { Created => "created", Updated => "updated", CustomerReply => "customer_reply" }
);
words!(
    /// How conditions combine.
    Match { All => "all", Any => "any" }
);
words!(
    /// What a condition looks at.
    Field {
        Priority => "priority", Severity => "severity", Category => "category", Status => "status",
        Tags => "tags", Channel => "channel", Subject => "subject", Description => "description",
        Text => "text", Sentiment => "sentiment", CustomerTier => "customer_tier", HoursOpen => "hours_open",
        AssigneeId => "assignee_id", TeamId => "team_id",
    }
);
words!(
    /// How a condition compares.
    Operator {
        Eq => "eq", Ne => "ne", In => "in", NotIn => "not_in", Contains => "contains",
        NotContains => "not_contains", Gt => "gt", Gte => "gte", Lt => "lt", Lte => "lte",
    }
);

words!(
    /// Why a rule escalates (escalations_reason_check).
    EscalationReason {
        AiUnableToResolve => "ai_unable_to_resolve", CustomerRequest => "customer_request",
        SlaBreach => "sla_breach", HighComplexity => "high_complexity",
        NegativeSentiment => "negative_sentiment", Rule => "rule", Other => "other",
    }
);
words!(
    /// An escalation's priority (escalations_priority_check).
    EscalationPriority { Low => "low", Normal => "normal", High => "high", Urgent => "urgent", Critical => "critical" }
);
words!(
    /// The statuses a rule may set: all but `merged`.
    StatusTarget { Open => "open", InProgress => "in_progress", Waiting => "waiting", Resolved => "resolved", Closed => "closed" }
);

/// The shape of a field's values, which decides its operators and operands.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Ordered(Vec<&'static str>),
    Choice(Vec<&'static str>),
    Tags,
    Text,
    Number { min: f64, max: f64 },
    Id,
}

fn names_of<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

impl Field {
    fn kind(self) -> Kind {
        use Field as F;
        match self {
            F::Priority => Kind::Ordered(names_of(Priority::ALL, Priority::as_str)),
            F::Severity => Kind::Ordered(names_of(Severity::ALL, Severity::as_str)),
            F::CustomerTier => Kind::Ordered(TIERS.to_vec()),
            F::Category => Kind::Choice(names_of(Category::ALL, Category::as_str)),
            F::Status => Kind::Choice(names_of(Status::ALL, Status::as_str)),
            F::Channel => Kind::Choice(names_of(Source::ALL, Source::as_str)),
            F::Tags => Kind::Tags,
            F::Subject | F::Description | F::Text => Kind::Text,
            F::Sentiment => Kind::Number { min: -1.0, max: 1.0 },
            F::HoursOpen => Kind::Number { min: 0.0, max: 1e9 },
            F::AssigneeId | F::TeamId => Kind::Id,
        }
    }

    /// Whether the field can be missing (and so compared with `null`).
    fn nullable(self) -> bool {
        matches!(self, Field::CustomerTier | Field::Sentiment | Field::AssigneeId | Field::TeamId)
    }

    pub fn operators(self) -> &'static [Operator] {
        use Operator::*;
        match self.kind() {
            Kind::Ordered(_) => &[Eq, Ne, In, NotIn, Gt, Gte, Lt, Lte],
            Kind::Choice(_) | Kind::Id => &[Eq, Ne, In, NotIn],
            Kind::Tags => &[Contains, NotContains, In, NotIn],
            Kind::Text => &[Eq, Ne, Contains, NotContains],
            Kind::Number { .. } => &[Eq, Ne, Gt, Gte, Lt, Lte],
        }
    }
}

/// A condition's operand, typed for its field and operator.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Operand {
    Null,
    Text(String),
    Texts(Vec<String>),
    Number(f64),
    Id(Uuid),
    Ids(Vec<Uuid>),
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Condition {
    pub field: Field,
    pub operator: Operator,
    /// A string, number, UUID, list or `null`, as the field and operator take (see the rules'
    /// documentation).
    #[schema(value_type = Value)]
    pub value: Operand,
}

/// What a matching rule does; the core applies these as a system change, without evaluating
/// the rules again (so no action can set off another rule, or the same one, in a loop).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    AssignUser(Uuid),
    AssignTeam(Uuid),
    /// Gives the ticket to the team, whose round-robin picks the agent.
    RoundRobin(Uuid),
    SetPriority(Priority),
    SetStatus(Status),
    AddTag(String),
    Escalate {
        reason: String,
        priority: String,
    },
    ReplyWithArticle(Uuid),
}

/// An action as JSON: `{"type": "assign_user", "user_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    AssignUser {
        user_id: Uuid,
    },
    AssignTeam {
        team_id: Uuid,
    },
    RoundRobin {
        team_id: Uuid,
    },
    SetPriority {
        priority: Priority,
    },
    /// Any status but `merged` (only a merge sets it).
    SetStatus {
        #[schema(value_type = StatusTarget)]
        status: Status,
    },
    AddTag {
        #[schema(pattern = "^[A-Za-z0-9_-]{1,40}$")]
        tag: String,
    },
    Escalate {
        #[schema(value_type = EscalationReason)]
        reason: String,
        #[schema(value_type = EscalationPriority)]
        priority: String,
    },
    ReplyWithArticle {
        article_id: Uuid,
    },
}

impl From<&Action> for ActionSpec {
    fn from(a: &Action) -> Self {
        match a.clone() {
            Action::AssignUser(user_id) => Self::AssignUser { user_id },
            Action::AssignTeam(team_id) => Self::AssignTeam { team_id },
            Action::RoundRobin(team_id) => Self::RoundRobin { team_id },
            Action::SetPriority(priority) => Self::SetPriority { priority },
            Action::SetStatus(status) => Self::SetStatus { status },
            Action::AddTag(tag) => Self::AddTag { tag },
            Action::Escalate { reason, priority } => Self::Escalate { reason, priority },
            Action::ReplyWithArticle(article_id) => Self::ReplyWithArticle { article_id },
        }
    }
}

impl From<ActionSpec> for Action {
    fn from(a: ActionSpec) -> Self {
        match a {
            ActionSpec::AssignUser { user_id } => Self::AssignUser(user_id),
            ActionSpec::AssignTeam { team_id } => Self::AssignTeam(team_id),
            ActionSpec::RoundRobin { team_id } => Self::RoundRobin(team_id),
            ActionSpec::SetPriority { priority } => Self::SetPriority(priority),
            ActionSpec::SetStatus { status } => Self::SetStatus(status),
            ActionSpec::AddTag { tag } => Self::AddTag(tag),
            ActionSpec::Escalate { reason, priority } => Self::Escalate { reason, priority },
            ActionSpec::ReplyWithArticle { article_id } => Self::ReplyWithArticle(article_id),
        }
    }
}

const ACTION_TYPES: &[&str] = &[
    "assign_user",
    "assign_team",
    "round_robin",
    "set_priority",
    "set_status",
    "add_tag",
    "escalate",
    "reply_with_article",
];

/// What the conditions see of a ticket and its customer.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub priority: Priority,
    pub severity: Severity,
    pub category: Category,
    pub status: Status,
    pub tags: &'a [String],
    pub channel: Source,
    pub subject: &'a str,
    pub description: &'a str,
    pub text: &'a str,
    pub sentiment: Option<f64>,
    pub customer_tier: Option<&'a str>,
    pub hours_open: f64,
    pub assignee_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
}

impl Condition {
    pub fn holds(&self, f: &Facts<'_>) -> bool {
        use Operator as O;
        let negated = matches!(self.operator, O::Ne | O::NotIn | O::NotContains);
        let positive = match self.operator {
            O::Ne => O::Eq,
            O::NotIn => O::In,
            O::NotContains => O::Contains,
            o => o,
        };
        self.positive(positive, f) != negated
    }

    fn positive(&self, op: Operator, f: &Facts<'_>) -> bool {
        use Operator as O;
        let choice = |value: Option<&str>, order: &[&str]| -> bool {
            let rank = |v: &str| order.iter().position(|o| *o == v);
            match (op, &self.value, value) {
                (O::Eq, Operand::Null, v) => v.is_none(),
                (O::Eq, Operand::Text(t), Some(v)) => t == v,
                (O::In, Operand::Texts(ts), Some(v)) => ts.iter().any(|t| t == v),
                (O::Gt | O::Gte | O::Lt | O::Lte, Operand::Text(t), Some(v)) => match (rank(v), rank(t)) {
                    (Some(a), Some(b)) => compare(op, a as f64, b as f64),
                    _ => false,
                },
                _ => false,
            }
        };
        match self.field {
            Field::Priority => choice(Some(f.priority.as_str()), &self.order()),
            Field::Severity => choice(Some(f.severity.as_str()), &self.order()),
            Field::CustomerTier => choice(f.customer_tier, TIERS),
            Field::Category => choice(Some(f.category.as_str()), &[]),
            Field::Status => choice(Some(f.status.as_str()), &[]),
            Field::Channel => choice(Some(f.channel.as_str()), &[]),
            Field::Tags => {
                let has = |t: &str| f.tags.iter().any(|x| x.eq_ignore_ascii_case(t));
                match (op, &self.value) {
                    (O::Contains, Operand::Text(t)) => has(t),
                    (O::In, Operand::Texts(ts)) => ts.iter().any(|t| has(t)),
                    _ => false,
                }
            }
            Field::Subject | Field::Description | Field::Text => {
                let text = match self.field {
                    Field::Subject => f.subject,
                    Field::Description => f.description,
                    _ => f.text,
                }
                .to_lowercase();
                match (op, &self.value) {
                    (O::Eq, Operand::Text(t)) => text.trim() == t.to_lowercase().trim(),
                    (O::Contains, Operand::Text(t)) => text.contains(&t.to_lowercase()),
                    _ => false,
                }
            }
            Field::Sentiment | Field::HoursOpen => {
                let value = if self.field == Field::Sentiment { f.sentiment } else { Some(f.hours_open) };
                match (&self.value, value) {
                    (Operand::Null, v) => op == O::Eq && v.is_none(),
                    (Operand::Number(n), Some(v)) => compare(op, v, *n),
                    _ => false,
                }
            }
            Field::AssigneeId | Field::TeamId => {
                let value = if self.field == Field::AssigneeId { f.assignee_id } else { f.team_id };
                match (op, &self.value, value) {
                    (O::Eq, Operand::Null, v) => v.is_none(),
                    (O::Eq, Operand::Id(id), Some(v)) => *id == v,
                    (O::In, Operand::Ids(ids), Some(v)) => ids.contains(&v),
                    _ => false,
                }
            }
        }
    }

    fn order(&self) -> Vec<&'static str> {
        match self.field.kind() {
            Kind::Ordered(order) => order,
            _ => Vec::new(),
        }
    }
}

fn compare(op: Operator, a: f64, b: f64) -> bool {
    match op {
        Operator::Eq => a == b,
        Operator::Gt => a > b,
        Operator::Gte => a >= b,
        Operator::Lt => a < b,
        Operator::Lte => a <= b,
        _ => false,
    }
}

/// Whether `conditions` joined by `how` hold; none always do.
pub fn matches(how: Match, conditions: &[Condition], facts: &Facts<'_>) -> bool {
    if conditions.is_empty() {
        return true;
    }
    match how {
        Match::All => conditions.iter().all(|c| c.holds(facts)),
        Match::Any => conditions.iter().any(|c| c.holds(facts)),
    }
}

#[path = "rules_parse.rs"]
mod parse;
pub use parse::{parse_actions, parse_conditions, parse_triggers, shapes, tag, ValueShape};

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

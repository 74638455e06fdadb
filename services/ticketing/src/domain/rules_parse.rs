//! Parsing rules from JSON, each error naming its path, and the shapes the API's schema states
//! (exactly what the parser accepts).

use platform::FieldError;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    Action, Condition, Field, Kind, Operand, Operator, Trigger, ACTION_TYPES, ESCALATION_PRIORITIES,
    ESCALATION_REASONS, MAX_ACTIONS, MAX_CONDITIONS, MAX_LIST, MAX_TEXT,
};
use crate::domain::ticket::{Priority, Status};

/// What a condition's value must be, for a group of a field's operators (for the API's schema).
#[derive(Debug, Clone, PartialEq)]
pub enum ValueShape {
    /// One of these (or `null`, when `nullable`).
    Choice {
        values: Vec<&'static str>,
        nullable: bool,
    },
    /// 1 to 100 of these.
    Choices(Vec<&'static str>),
    Tag,
    Tags,
    /// 1 to 500 characters.
    Text,
    Number {
        min: f64,
        max: f64,
        nullable: bool,
    },
    Id {
        nullable: bool,
    },
    Ids,
}

/// Every valid (field, operators, value) combination, one entry per field and operator group:
/// exactly what `parse_conditions` accepts.
pub fn shapes() -> Vec<(Field, Vec<Operator>, ValueShape)> {
    use Operator::*;
    let mut out = Vec::new();
    for field in Field::ALL.iter().copied() {
        let nullable = field.nullable();
        match field.kind() {
            Kind::Ordered(values) | Kind::Choice(values) => {
                let ordered = matches!(field.kind(), Kind::Ordered(_));
                out.push((field, vec![Eq, Ne], ValueShape::Choice { values: values.clone(), nullable }));
                if ordered {
                    out.push((
                        field,
                        vec![Gt, Gte, Lt, Lte],
                        ValueShape::Choice { values: values.clone(), nullable: false },
                    ));
                }
                out.push((field, vec![In, NotIn], ValueShape::Choices(values)));
            }
            Kind::Tags => {
                out.push((field, vec![Contains, NotContains], ValueShape::Tag));
                out.push((field, vec![In, NotIn], ValueShape::Tags));
            }
            Kind::Text => out.push((field, vec![Eq, Ne, Contains, NotContains], ValueShape::Text)),
            Kind::Number { min, max } => {
                out.push((field, vec![Eq, Ne], ValueShape::Number { min, max, nullable }));
                out.push((field, vec![Gt, Gte, Lt, Lte], ValueShape::Number { min, max, nullable: false }));
            }
            Kind::Id => {
                out.push((field, vec![Eq, Ne], ValueShape::Id { nullable }));
                out.push((field, vec![In, NotIn], ValueShape::Ids));
            }
        }
    }
    out
}

fn err(errors: &mut Vec<FieldError>, path: String, message: impl Into<String>) {
    errors.push(FieldError::new(path, message));
}

/// The object at `path`, refusing keys outside `keys`.
fn object<'v>(
    raw: &'v Value,
    path: &str,
    keys: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<&'v Map<String, Value>> {
    let Some(map) = raw.as_object() else {
        err(errors, path.to_owned(), "must be an object");
        return None;
    };
    for k in map.keys().filter(|k| !keys.contains(&k.as_str())) {
        err(errors, format!("{path}.{k}"), format!("is not a key here; use: {}", keys.join(", ")));
    }
    Some(map)
}

/// Conditions from JSON, each error naming its path (`conditions[1].operator`).
pub fn parse_conditions(raw: &[Value], errors: &mut Vec<FieldError>) -> Vec<Condition> {
    if raw.len() > MAX_CONDITIONS {
        err(errors, "conditions".into(), format!("at most {MAX_CONDITIONS} conditions"));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, c) in raw.iter().enumerate() {
        let path = format!("conditions[{i}]");
        let Some(map) = object(c, &path, &["field", "operator", "value"], errors) else { continue };
        let field = match map.get("field").and_then(Value::as_str).and_then(Field::parse) {
            Some(f) => Some(f),
            None => {
                err(errors, format!("{path}.field"), format!("must be one of: {}", Field::names()));
                None
            }
        };
        let operator = match map.get("operator").and_then(Value::as_str).and_then(Operator::parse) {
            Some(o) => Some(o),
            None => {
                err(errors, format!("{path}.operator"), format!("must be one of: {}", Operator::names()));
                None
            }
        };
        let (Some(field), Some(operator)) = (field, operator) else { continue };
        if !field.operators().contains(&operator) {
            let ops = field.operators().iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ");
            err(errors, format!("{path}.operator"), format!("is not valid for {}; use one of: {ops}", field.as_str()));
            continue;
        }
        let Some(value) = map.get("value") else {
            err(errors, format!("{path}.value"), "is required (null where the field may be missing)");
            continue;
        };
        match operand(field, operator, value) {
            Ok(value) => out.push(Condition { field, operator, value }),
            Err(message) => err(errors, format!("{path}.value"), message),
        }
    }
    out
}

/// The operand of `field op value`, or what it must be.
fn operand(field: Field, op: Operator, value: &Value) -> Result<Operand, String> {
    let list = matches!(op, Operator::In | Operator::NotIn);
    if value.is_null() && !list && matches!(op, Operator::Eq | Operator::Ne) && field.nullable() {
        return Ok(Operand::Null);
    }
    let items = |what: &str| -> Result<&Vec<Value>, String> {
        match value.as_array() {
            Some(items) if !items.is_empty() && items.len() <= MAX_LIST => Ok(items),
            _ => Err(format!("must be a list of 1 to {MAX_LIST} {what}")),
        }
    };
    match field.kind() {
        Kind::Ordered(choices) | Kind::Choice(choices) => {
            let one = |v: &Value| {
                v.as_str().filter(|s| choices.contains(s)).map(str::to_owned).ok_or_else(|| choices.join(", "))
            };
            if list {
                let texts = items("values").and_then(|items| {
                    items
                        .iter()
                        .map(one)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|c| format!("values must be among: {c}"))
                })?;
                Ok(Operand::Texts(texts))
            } else {
                one(value).map(Operand::Text).map_err(|c| format!("must be one of: {c}"))
            }
        }
        Kind::Tags => {
            let one = |v: &Value| {
                v.as_str().and_then(tag).ok_or_else(|| "tags are 1 to 40 ASCII letters, digits, - or _".to_owned())
            };
            if list {
                Ok(Operand::Texts(items("tags")?.iter().map(one).collect::<Result<_, _>>()?))
            } else {
                one(value).map(Operand::Text)
            }
        }
        Kind::Text => match value.as_str() {
            Some(s) if (1..=MAX_TEXT).contains(&s.chars().count()) => Ok(Operand::Text(s.to_owned())),
            _ => Err(format!("must be a string of 1 to {MAX_TEXT} characters")),
        },
        Kind::Number { min, max } => match value.as_f64() {
            Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(Operand::Number(n)),
            _ => Err(format!("must be a number from {min} to {max}")),
        },
        Kind::Id => {
            let one = |v: &Value| v.as_str().and_then(|s| s.parse::<Uuid>().ok());
            if list {
                let ids = items("UUIDs")?.iter().map(one).collect::<Option<Vec<_>>>();
                ids.map(Operand::Ids).ok_or_else(|| "must be a list of UUIDs".to_owned())
            } else {
                one(value).map(Operand::Id).ok_or_else(|| "must be a UUID or null".to_owned())
            }
        }
    }
}

/// A tag as tickets have them (`fields::tags`): 1–40 ASCII letters, digits, `-` or `_`,
/// lowercased.
pub fn tag(raw: &str) -> Option<String> {
    crate::domain::fields::tags("tag", &[raw.to_owned()]).ok().and_then(|t| t.into_iter().next())
}

/// Actions from JSON, each error naming its path (`actions[0].type`).
pub fn parse_actions(raw: &[Value], errors: &mut Vec<FieldError>) -> Vec<Action> {
    if raw.is_empty() || raw.len() > MAX_ACTIONS {
        err(errors, "actions".into(), format!("must be 1 to {MAX_ACTIONS} actions"));
        return Vec::new();
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, a) in raw.iter().enumerate() {
        let path = format!("actions[{i}]");
        let Some(kind) = a.get("type").and_then(Value::as_str).filter(|t| ACTION_TYPES.contains(t)) else {
            if a.is_object() {
                err(errors, format!("{path}.type"), format!("must be one of: {}", ACTION_TYPES.join(", ")));
            } else {
                err(errors, path, "must be an object {type, ...}");
            }
            continue;
        };
        let keys: &[&str] = match kind {
            "assign_user" => &["type", "user_id"],
            "assign_team" | "round_robin" => &["type", "team_id"],
            "set_priority" => &["type", "priority"],
            "set_status" => &["type", "status"],
            "add_tag" => &["type", "tag"],
            "escalate" => &["type", "reason", "priority"],
            _ => &["type", "article_id"],
        };
        let before = errors.len();
        let Some(map) = object(a, &path, keys, errors) else { continue };
        let mut text = |key: &str, ok: &dyn Fn(&str) -> Option<String>, expected: &str| -> Option<String> {
            let found = map.get(key).and_then(Value::as_str).and_then(ok);
            if found.is_none() {
                err(errors, format!("{path}.{key}"), expected.to_owned());
            }
            found
        };
        let id = |s: &str| s.parse::<Uuid>().ok().map(|u| u.to_string());
        let among = |choices: &'static [&'static str]| move |s: &str| choices.contains(&s).then(|| s.to_owned());
        let statuses: Vec<&str> = Status::ALL.iter().filter(|s| **s != Status::Merged).map(|s| s.as_str()).collect();
        let action = match kind {
            "assign_user" => text("user_id", &id, "must be a user's UUID").map(|u| Action::AssignUser(uuid(&u))),
            "assign_team" => text("team_id", &id, "must be a team's UUID").map(|t| Action::AssignTeam(uuid(&t))),
            "round_robin" => text("team_id", &id, "must be a team's UUID").map(|t| Action::RoundRobin(uuid(&t))),
            "set_priority" => text(
                "priority",
                &|s| s.parse::<Priority>().ok().map(|p| p.as_str().to_owned()),
                &format!("must be one of: {}", Priority::names()),
            )
            .and_then(|p| p.parse().ok())
            .map(Action::SetPriority),
            "set_status" => text(
                "status",
                &|s| statuses.contains(&s).then(|| s.to_owned()),
                &format!("must be one of: {}", statuses.join(", ")),
            )
            .and_then(|s| s.parse().ok())
            .map(Action::SetStatus),
            "add_tag" => {
                text("tag", &tag, "must be a tag of 1 to 40 ASCII letters, digits, - or _").map(Action::AddTag)
            }
            "escalate" => {
                let reason = text(
                    "reason",
                    &among(ESCALATION_REASONS),
                    &format!("must be one of: {}", ESCALATION_REASONS.join(", ")),
                );
                let priority = text(
                    "priority",
                    &among(ESCALATION_PRIORITIES),
                    &format!("must be one of: {}", ESCALATION_PRIORITIES.join(", ")),
                );
                reason.zip(priority).map(|(reason, priority)| Action::Escalate { reason, priority })
            }
            _ => text("article_id", &id, "must be an article's UUID").map(|a| Action::ReplyWithArticle(uuid(&a))),
        };
        if let (Some(action), true) = (action, errors.len() == before) {
            out.push(action);
        }
    }
    out
}

fn uuid(s: &str) -> Uuid {
    s.parse().unwrap_or_default()
}

/// Triggers from their names: 1 to 3 given, deduplicated; errors name `triggers[i]`.
pub fn parse_triggers(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<Trigger> {
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        match Trigger::parse(t) {
            Some(t) if !out.contains(&t) => out.push(t),
            Some(_) => {}
            None => err(errors, format!("triggers[{i}]"), format!("must be one of: {}", Trigger::names())),
        }
    }
    if raw.is_empty() || raw.len() > Trigger::ALL.len() {
        err(errors, "triggers".into(), format!("1 to {} of: {}", Trigger::ALL.len(), Trigger::names()));
    }
    out
}

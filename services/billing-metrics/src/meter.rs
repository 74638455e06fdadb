//! What an event means for usage and for the activity log: the metric it counts, the gauge it
//! adds to or takes from, and the row it writes. Pure: the consumer applies it.

use serde_json::Value;
use uuid::Uuid;

/// One change an event makes to usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// One more of a monthly counter.
    Count(&'static str),
    /// `member` now counts toward a gauge (a repeat changes nothing).
    Add(&'static str, Uuid),
    /// `member` no longer counts.
    Remove(&'static str, Uuid),
}

fn id(data: &Value, field: &str) -> Option<Uuid> {
    data.get(field).and_then(Value::as_str).and_then(|s| s.parse().ok())
}

/// The usage effect of an event of `event_type` carrying `data`.
pub fn effect(event_type: &str, data: &Value) -> Option<Effect> {
    let gauge = |metric: &'static str, field: &str, add: bool| {
        id(data, field).map(|m| if add { Effect::Add(metric, m) } else { Effect::Remove(metric, m) })
    };
    match event_type {
        "feedback.created" => Some(Effect::Count("feedback_posts")),
        "ticket.created" => Some(Effect::Count("tickets")),
        "inbox.message.received" | "inbox.message.sent" => Some(Effect::Count("messages")),
        "identity.member.added" => gauge("seats", "user_id", true),
        "identity.member.removed" => gauge("seats", "user_id", false),
        "inbox.connection.connected" => gauge("connections", "connection_id", true),
        "inbox.connection.disconnected" => gauge("connections", "connection_id", false),
        "webhook.endpoint.created" => gauge("webhook_endpoints", "endpoint_id", true),
        "webhook.endpoint.deleted" => gauge("webhook_endpoints", "endpoint_id", false),
        "identity.api_key.created" => gauge("api_keys", "api_key_id", true),
        "identity.api_key.revoked" => gauge("api_keys", "api_key_id", false),
        _ => None,
    }
}

/// Fields that carry what people wrote (messages, descriptions, comments): the activity log
/// records that something happened and by whom, not a second copy of customers' words.
const CONTENT: [&str; 9] = ["text", "content", "body", "description", "comment", "title", "subject", "email", "url"];

/// An activity log row of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub metadata: Value,
}

/// The activity an event is: its type as the action, its family and noun as the resource
/// (`ticket.comment.created` → `ticket.comment`), the first actor field the payload names.
pub fn activity(event_type: &str, subject: Option<&str>, data: &Value) -> Activity {
    let resource_type = event_type.rsplit_once('.').map_or(event_type, |(r, _)| r).to_owned();
    let actor_id = ["actor_id", "created_by", "author_id", "sent_by_user_id", "invited_by", "changed_by"]
        .iter()
        .find_map(|f| id(data, f));
    let mut metadata = match data {
        Value::Object(map) => Value::Object(map.clone()),
        _ => Value::Object(Default::default()),
    };
    if let Value::Object(map) = &mut metadata {
        for field in CONTENT {
            map.remove(field);
        }
    }
    Activity {
        actor_id,
        action: event_type.to_owned(),
        resource_type,
        resource_id: subject.map(str::to_owned),
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_count_what_plans_limit() {
        let u = Uuid::now_v7();
        assert_eq!(effect("ticket.created", &json!({})), Some(Effect::Count("tickets")));
        assert_eq!(effect("inbox.message.sent", &json!({})), Some(Effect::Count("messages")));
        assert_eq!(effect("identity.member.added", &json!({"user_id": u})), Some(Effect::Add("seats", u)));
        assert_eq!(effect("identity.api_key.revoked", &json!({"api_key_id": u})), Some(Effect::Remove("api_keys", u)));
        assert_eq!(effect("ticket.updated", &json!({})), None);
        assert_eq!(effect("identity.member.added", &json!({"user_id": "nope"})), None);
    }

    #[test]
    fn the_activity_log_keeps_who_and_what_not_the_words() {
        let u = Uuid::now_v7();
        let a = activity(
            "ticket.comment.created",
            Some("t1"),
            &json!({"author_id": u, "body": "my card number is…", "ticket_id": "t1", "is_internal": false}),
        );
        assert_eq!(a.resource_type, "ticket.comment");
        assert_eq!(a.actor_id, Some(u));
        assert_eq!(a.metadata, json!({"author_id": u, "ticket_id": "t1", "is_internal": false}));
    }
}

//! What changed between two versions of a ticket: the fields people edit (not the clocks the
//! service keeps), for history entries and for the `changed` list of `ticket.updated`.

use serde_json::{json, Value};

use super::ticket::{Status, Ticket};

/// One changed field with its values before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Value,
    pub after: Value,
}

impl FieldChange {
    /// The history kind of a change to this field (rules' changes are recorded as `rule`).
    pub fn kind(&self) -> &'static str {
        match self.field {
            "status" => "status",
            "assignee_id" | "team_id" => "assigned",
            "merged_into_id" => "merged",
            _ => "updated",
        }
    }
}

/// The edited fields that differ between `a` and `b`, in a fixed order.
pub fn diff(a: &Ticket, b: &Ticket) -> Vec<FieldChange> {
    let mut out = Vec::new();
    macro_rules! field {
        ($name:ident) => {
            if a.$name != b.$name {
                out.push(FieldChange { field: stringify!($name), before: json!(a.$name), after: json!(b.$name) });
            }
        };
    }
    field!(subject);
    field!(description);
    field!(status);
    field!(priority);
    field!(severity);
    field!(category);
    field!(tags);
    field!(project_id);
    field!(customer_id);
    field!(requester_user_id);
    field!(requester_email);
    field!(requester_name);
    field!(assignee_id);
    field!(team_id);
    field!(due_at);
    field!(estimated_hours);
    field!(conversation_id);
    field!(merged_into_id);
    out
}

/// Moves `t` to `to` with the clocks that go with it: resolving stamps `resolved_at`, closing
/// `closed_at`, leaving `resolved` for an active status is a reopen (counted; `resolved_at`
/// cleared). The caller has checked the move against the graph.
pub fn move_status(t: &mut Ticket, to: Status, now: chrono::DateTime<chrono::Utc>) {
    let from = t.status;
    if from == to {
        return;
    }
    if Status::is_reopen(from, to) {
        t.reopen_count += 1;
        t.resolved_at = None;
    }
    match to {
        Status::Resolved => t.resolved_at = Some(now),
        Status::Closed => {
            t.closed_at = Some(now);
            t.resolved_at = t.resolved_at.or(Some(now));
        }
        _ => {}
    }
    t.status = to;
}

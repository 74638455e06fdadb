//! Escalations (seed 001): their vocabularies and the status workflow.
//!
//! ```text
//! pending     → assigned              (giving it an assignee does this by itself)
//! assigned    → in_progress, pending  (taking the assignee away goes back to pending)
//! in_progress → resolved, assigned
//! resolved    → (none)
//! ```
//!
//! `assigned` and `in_progress` need an assignee. The wait time is `assigned_at − created_at`:
//! how long it waited for its first owner (a later reassignment does not move it).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "must be one of {}",
                        Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
    };
}

words!(
    /// Why it was escalated.
    Reason {
        AiUnableToResolve => "ai_unable_to_resolve",
        CustomerRequest => "customer_request",
        SlaBreach => "sla_breach",
        HighComplexity => "high_complexity",
        NegativeSentiment => "negative_sentiment",
        Rule => "rule",
        Other => "other",
    }
);

words!(
    #[derive(Default)]
    EscalationPriority { Low => "low", #[default] Normal => "normal", High => "high", Urgent => "urgent", Critical => "critical" }
);

words!(
    EscalationStatus { Pending => "pending", Assigned => "assigned", InProgress => "in_progress", Resolved => "resolved" }
);

words!(
    /// Who opened it: a person, a decision rule, or the SLA scanner.
    Origin { Manual => "manual", Rule => "rule", SlaBreach => "sla_breach" }
);

impl EscalationStatus {
    pub fn allowed_moves(self) -> &'static [EscalationStatus] {
        use EscalationStatus::*;
        match self {
            Pending => &[Assigned],
            Assigned => &[InProgress, Pending],
            InProgress => &[Resolved, Assigned],
            Resolved => &[],
        }
    }
}

/// What a change asks for; `None` keeps.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub status: Option<EscalationStatus>,
    /// `Some(None)` takes the assignee away.
    pub assignee: Option<Option<Uuid>>,
}

/// Why a change is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The status cannot go there from where it is.
    Move { from: EscalationStatus, to: EscalationStatus },
    /// `assigned` / `in_progress` without anyone.
    NeedsAssignee(EscalationStatus),
}

/// The status and assignee after `change`, from `status` with `assignee`.
pub fn apply(
    status: EscalationStatus,
    assignee: Option<Uuid>,
    change: &Change,
) -> Result<(EscalationStatus, Option<Uuid>), Refusal> {
    use EscalationStatus::*;
    let new_assignee = change.assignee.unwrap_or(assignee);
    let target = match change.status {
        Some(s) => s,
        // Giving a pending escalation an owner assigns it; taking it away un-assigns it.
        None if status == Pending && new_assignee.is_some() => Assigned,
        None if change.assignee == Some(None) && assignee.is_some() => Pending,
        None => status,
    };
    if target != status && !status.allowed_moves().contains(&target) {
        return Err(Refusal::Move { from: status, to: target });
    }
    if target == Resolved && status == Resolved && change.assignee.is_some_and(|a| a != assignee) {
        return Err(Refusal::Move { from: status, to: Assigned });
    }
    match target {
        // Back to the queue: nobody owns it.
        Pending => Ok((Pending, None)),
        Assigned | InProgress if new_assignee.is_none() => Err(Refusal::NeedsAssignee(target)),
        _ => Ok((target, new_assignee)),
    }
}

#[cfg(test)]
mod tests {
    use super::EscalationStatus::*;
    use super::*;

    fn change(status: Option<EscalationStatus>, assignee: Option<Option<Uuid>>) -> Change {
        Change { status, assignee }
    }

    #[test]
    fn the_workflow_goes_forward_one_step_at_a_time() {
        let a = Uuid::now_v7();
        assert_eq!(apply(Pending, None, &change(None, Some(Some(a)))), Ok((Assigned, Some(a))));
        assert_eq!(apply(Assigned, Some(a), &change(Some(InProgress), None)), Ok((InProgress, Some(a))));
        assert_eq!(apply(InProgress, Some(a), &change(Some(Resolved), None)), Ok((Resolved, Some(a))));
        assert_eq!(
            apply(Pending, None, &change(Some(Resolved), None)),
            Err(Refusal::Move { from: Pending, to: Resolved })
        );
        assert!(matches!(apply(Resolved, Some(a), &change(Some(InProgress), None)), Err(Refusal::Move { .. })));
    }

    #[test]
    fn assigning_needs_someone_and_unassigning_goes_back_to_pending() {
        let a = Uuid::now_v7();
        assert_eq!(apply(Pending, None, &change(Some(Assigned), None)), Err(Refusal::NeedsAssignee(Assigned)));
        assert_eq!(apply(Assigned, Some(a), &change(None, Some(None))), Ok((Pending, None)));
        assert_eq!(
            apply(InProgress, Some(a), &change(None, Some(None))),
            Err(Refusal::Move { from: InProgress, to: Pending })
        );
        // Reassigning while in progress keeps the status.
        let b = Uuid::now_v7();
        assert_eq!(apply(InProgress, Some(a), &change(None, Some(Some(b)))), Ok((InProgress, Some(b))));
        assert_eq!("sla_breach".parse::<Reason>(), Ok(Reason::SlaBreach));
        assert!("bogus".parse::<Origin>().unwrap_err().contains("manual, rule, sla_breach"));
    }
}

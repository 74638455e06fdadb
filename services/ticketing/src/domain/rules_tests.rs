use platform::FieldError;
use serde_json::json;

use super::*;

fn facts<'a>(tags: &'a [String], text: &'a str) -> Facts<'a> {
    Facts {
        priority: Priority::High,
        severity: Severity::Normal,
        category: Category::BillingPayment,
        status: Status::Open,
        tags,
        channel: Source::Email,
        subject: "Refund please",
        description: "I was charged twice",
        text,
        sentiment: Some(-0.6),
        customer_tier: Some("pro"),
        hours_open: 5.0,
        assignee_id: None,
        team_id: None,
    }
}

fn conditions(raw: serde_json::Value) -> Result<Vec<Condition>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let parsed = parse_conditions(raw.as_array().unwrap(), &mut errors);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

fn holds(raw: serde_json::Value) -> bool {
    let tags = vec!["vip".to_owned(), "billing".to_owned()];
    let c = conditions(json!([raw])).unwrap();
    c[0].holds(&facts(&tags, "refund please i was charged twice"))
}

#[test]
fn conditions_compare_by_kind() {
    assert!(holds(json!({"field": "priority", "operator": "gte", "value": "high"})));
    assert!(!holds(json!({"field": "priority", "operator": "gt", "value": "high"})));
    assert!(holds(json!({"field": "severity", "operator": "lt", "value": "major"})));
    assert!(holds(json!({"field": "customer_tier", "operator": "in", "value": ["pro", "enterprise"]})));
    assert!(holds(json!({"field": "category", "operator": "eq", "value": "billing_payment"})));
    assert!(holds(json!({"field": "channel", "operator": "not_in", "value": ["web", "api"]})));
    assert!(holds(json!({"field": "tags", "operator": "contains", "value": "VIP"})));
    assert!(holds(json!({"field": "tags", "operator": "not_in", "value": ["spam"]})));
    assert!(holds(json!({"field": "text", "operator": "contains", "value": "Charged TWICE"})));
    assert!(holds(json!({"field": "subject", "operator": "eq", "value": "refund PLEASE"})));
    assert!(holds(json!({"field": "sentiment", "operator": "lt", "value": -0.5})));
    assert!(holds(json!({"field": "hours_open", "operator": "gte", "value": 4})));
    assert!(holds(json!({"field": "assignee_id", "operator": "eq", "value": null})));
    assert!(!holds(json!({"field": "team_id", "operator": "ne", "value": null})));
}

#[test]
fn a_missing_value_fails_positive_operators_and_passes_their_negations() {
    let tags = Vec::new();
    let mut f = facts(&tags, "");
    f.sentiment = None;
    f.customer_tier = None;
    let c = conditions(json!([
        {"field": "sentiment", "operator": "lt", "value": 0},
        {"field": "sentiment", "operator": "ne", "value": 0.5},
        {"field": "customer_tier", "operator": "eq", "value": "free"},
        {"field": "customer_tier", "operator": "not_in", "value": ["free"]},
        {"field": "customer_tier", "operator": "eq", "value": null},
    ]))
    .unwrap();
    let got: Vec<bool> = c.iter().map(|c| c.holds(&f)).collect();
    assert_eq!(got, [false, true, false, true, true]);
}

#[test]
fn all_any_and_no_conditions() {
    let tags = Vec::new();
    let f = facts(&tags, "");
    let c = conditions(json!([
        {"field": "priority", "operator": "eq", "value": "high"},
        {"field": "priority", "operator": "eq", "value": "low"},
    ]))
    .unwrap();
    assert!(!matches(Match::All, &c, &f));
    assert!(matches(Match::Any, &c, &f));
    assert!(matches(Match::All, &[], &f));
    assert!(matches(Match::Any, &[], &f));
}

#[test]
fn bad_conditions_name_their_path() {
    let errors = conditions(json!([
        {"field": "priority", "operator": "eq", "value": "high"},
        {"field": "priority", "operator": "like", "value": "high"},
        {"field": "mood", "operator": "eq", "value": "x"},
        {"field": "sentiment", "operator": "contains", "value": "x"},
        {"field": "sentiment", "operator": "gt", "value": "very"},
        {"field": "priority", "operator": "in", "value": ["high", "huge"]},
        {"field": "team_id", "operator": "eq", "value": "not-a-uuid"},
        {"field": "subject", "operator": "eq", "value": "x", "extra": 1},
        "nope",
        {"field": "assignee_id", "operator": "eq"},
    ]))
    .unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        paths,
        [
            "conditions[1].operator",
            "conditions[2].field",
            "conditions[3].operator",
            "conditions[4].value",
            "conditions[5].value",
            "conditions[6].value",
            "conditions[7].extra",
            "conditions[8]",
            "conditions[9].value",
        ]
    );
    assert!(errors[2].message.contains("eq, ne, gt"), "{}", errors[2].message);
}

#[test]
fn conditions_round_trip_through_their_json() {
    let raw = json!([
        {"field": "tags", "operator": "in", "value": ["a", "b"]},
        {"field": "sentiment", "operator": "lte", "value": -0.25},
        {"field": "assignee_id", "operator": "eq", "value": null},
        {"field": "team_id", "operator": "in", "value": [Uuid::nil()]},
    ]);
    let parsed = conditions(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), raw);
}

#[test]
fn actions_parse_every_kind_and_round_trip() {
    let id = Uuid::now_v7();
    let raw = json!([
        {"type": "assign_user", "user_id": id},
        {"type": "assign_team", "team_id": id},
        {"type": "round_robin", "team_id": id},
        {"type": "set_priority", "priority": "urgent"},
        {"type": "set_status", "status": "in_progress"},
        {"type": "add_tag", "tag": "vip"},
        {"type": "escalate", "reason": "negative_sentiment", "priority": "critical"},
        {"type": "reply_with_article", "article_id": id},
    ]);
    let mut errors = Vec::new();
    let actions = parse_actions(raw.as_array().unwrap(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(actions[3], Action::SetPriority(Priority::Urgent));
    assert_eq!(actions[6], Action::Escalate { reason: "negative_sentiment".into(), priority: "critical".into() });
    let specs: Vec<ActionSpec> = actions.iter().map(ActionSpec::from).collect();
    assert_eq!(serde_json::to_value(&specs).unwrap(), raw);
}

#[test]
fn bad_actions_name_their_path() {
    let raw = json!([
        {"type": "delete_everything"},
        {"type": "set_status", "status": "merged"},
        {"type": "assign_user"},
        {"type": "add_tag", "tag": "x", "colour": "red"},
        {"type": "escalate", "reason": "boredom", "priority": "high"},
        42,
    ]);
    let mut errors = Vec::new();
    let actions = parse_actions(raw.as_array().unwrap(), &mut errors);
    assert!(actions.is_empty());
    let paths: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        paths,
        [
            "actions[0].type",
            "actions[1].status",
            "actions[2].user_id",
            "actions[3].colour",
            "actions[4].reason",
            "actions[5]"
        ]
    );
    let mut errors = Vec::new();
    parse_actions(&[], &mut errors);
    assert_eq!(errors[0].field, "actions");
}

#[test]
fn the_schema_vocabularies_match_the_checks() {
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&EscalationReason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()), names(ESCALATION_REASONS));
    assert_eq!(
        names(&EscalationPriority::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
        names(ESCALATION_PRIORITIES)
    );
    let targets: Vec<&str> = Status::ALL.iter().filter(|s| **s != Status::Merged).map(|s| s.as_str()).collect();
    assert_eq!(StatusTarget::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(), targets);
}

#[test]
fn triggers_are_known_and_deduplicated() {
    let mut errors = Vec::new();
    let t = parse_triggers(&["created".into(), "created".into(), "customer_reply".into()], &mut errors);
    assert_eq!(t, [Trigger::Created, Trigger::CustomerReply]);
    parse_triggers(&["deleted".into()], &mut errors);
    assert_eq!(errors[0].field, "triggers[0]");
}

#[test]
fn schemas_name_the_values_the_api_takes() {
    use utoipa::PartialSchema;
    let names = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
        let value = serde_json::to_value(schema).unwrap();
        value["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let all = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(names(Field::schema()), all(&Field::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>()));
    assert_eq!(names(Operator::schema()), all(&Operator::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>()));
    assert_eq!(names(Trigger::schema()), all(&Trigger::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>()));
}

#[test]
fn the_shapes_cover_every_operator_of_every_field_once() {
    for field in Field::ALL {
        let mut ops: Vec<Operator> =
            shapes().into_iter().filter(|(f, ..)| f == field).flat_map(|(_, o, _)| o).collect();
        ops.sort_by_key(|o| o.as_str());
        let mut want = field.operators().to_vec();
        want.sort_by_key(|o| o.as_str());
        assert_eq!(ops, want, "{}", field.as_str());
    }
}

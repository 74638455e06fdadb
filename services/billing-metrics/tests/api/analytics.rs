//! Support and inbox analytics against a hand-computed set of events: tickets created,
//! answered, escalated, resolved (by agents and by the system), rated; conversations and their
//! replies. Published out of order and partly twice, as a stream may deliver them; another
//! organization's events never counted.

use chrono::{DateTime, Utc};
use proto::events as ev;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

struct Desk {
    org: Uuid,
    events: Vec<platform::bus::CloudEvent<Value>>,
}

#[derive(Clone, Copy, Default)]
struct T<'a> {
    status: &'a str,
    created: &'a str,
    assignee: Option<Uuid>,
    actor: Option<Uuid>,
    first_response: Option<&'a str>,
    resolved: Option<&'a str>,
}

impl Desk {
    fn push(&mut self, kind: &str, time: &str, data: Value) {
        let mut e = event(kind, self.org, data);
        e.time = at(time);
        self.events.push(e);
    }

    /// A ticket event as ticketing writes it, at `time`.
    fn ticket(&mut self, kind: &str, time: &str, id: Uuid, t: T<'_>) {
        let data = ev::Ticket {
            organization_id: self.org,
            ticket_id: id,
            number: "TKT-2026-000001".into(),
            subject: "It broke".into(),
            status: t.status.into(),
            status_before: None,
            priority: "normal".into(),
            severity: "normal".into(),
            category: "general".into(),
            tags: vec![],
            source: "web".into(),
            customer_id: None,
            assignee_id: t.assignee,
            team_id: None,
            project_id: None,
            conversation_id: None,
            changed: vec![],
            actor_id: t.actor,
            created_at: Some(at(t.created)),
            first_response_at: t.first_response.map(at),
            resolved_at: t.resolved.map(at),
            closed_at: None,
            reopen_count: 0,
        };
        self.push(kind, time, serde_json::to_value(data).unwrap());
    }

    fn reply(&mut self, time: &str, ticket: Uuid, agent: Uuid) {
        let data = json!({"organization_id": self.org, "ticket_id": ticket, "number": "TKT-2026-000001",
            "comment_id": Uuid::now_v7(), "is_internal": false, "author_kind": "agent", "author_id": agent,
            "body": "Try turning it off and on"});
        self.push(ev::TICKET_COMMENT_CREATED, time, data);
    }

    fn received(&mut self, time: &str, sent_at: &str, conversation: Uuid) {
        let data = json!({"organization_id": self.org, "connection_id": Uuid::now_v7(), "platform": "whatsapp",
            "conversation_id": conversation, "message_id": Uuid::now_v7(), "external_id": Uuid::now_v7().to_string(),
            "contact": {"external_id": "15551234567", "name": null, "username": null}, "content_type": "text",
            "text": "hello?", "platform_timestamp": sent_at});
        self.push(ev::INBOX_MESSAGE_RECEIVED, time, data);
    }

    fn sent(&mut self, time: &str, conversation: Uuid) {
        let data = json!({"organization_id": self.org, "conversation_id": conversation,
            "message_id": Uuid::now_v7(), "source_id": null, "platform": "whatsapp"});
        self.push(ev::INBOX_MESSAGE_SENT, time, data);
    }
}

#[tokio::test]
async fn figures_match_a_hand_computed_week_of_tickets_and_conversations() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let other = app.owner("eve@example.com", "Evil").await;
    let (ag1, ag2) = (Uuid::now_v7(), Uuid::now_v7());
    let [t1, t2, t3, t4, t5, t6, t8] = [(); 7].map(|_| Uuid::now_v7());
    let mut d = Desk { org: owner.org, events: vec![] };
    use ev::{TICKET_ASSIGNED as ASSIGNED, TICKET_CREATED as CREATED, TICKET_STATUS_CHANGED as STATUS};

    // T1 (Mon 2 March): ag1 answers in 30 min, resolves in 2 h, rated 5 the next day.
    let t = T { status: "open", created: "2026-03-02T10:00:00Z", ..T::default() };
    d.ticket(CREATED, "2026-03-02T10:00:00Z", t1, t);
    d.ticket(ASSIGNED, "2026-03-02T10:01:00Z", t1, T { assignee: Some(ag1), ..t });
    d.reply("2026-03-02T10:30:00Z", t1, ag1);
    let done = T {
        status: "resolved",
        assignee: Some(ag1),
        actor: Some(ag1),
        first_response: Some("2026-03-02T10:30:00Z"),
        resolved: Some("2026-03-02T12:00:00Z"),
        ..t
    };
    d.ticket(STATUS, "2026-03-02T12:00:00Z", t1, done);
    d.push(ev::TICKET_CSAT_SUBMITTED, "2026-03-03T09:00:00Z",
        json!({"organization_id": owner.org, "ticket_id": t1, "number": "TKT-2026-000001", "rating": 5, "comment": null, "assignee_id": ag1}));

    // T2: ag2 answers in 1 h, replies again, escalated, resolved after a day, rated 2.
    let t = T { status: "open", created: "2026-03-02T11:00:00Z", assignee: Some(ag2), ..T::default() };
    d.ticket(CREATED, "2026-03-02T11:00:00Z", t2, t);
    d.reply("2026-03-02T12:00:00Z", t2, ag2);
    d.push(ev::TICKET_ESCALATED, "2026-03-02T12:30:00Z",
        json!({"organization_id": owner.org, "ticket_id": t2, "escalation_id": Uuid::now_v7(), "reason": "angry", "priority": "high", "origin": "manual", "assignee_id": null}));
    d.reply("2026-03-02T13:00:00Z", t2, ag2);
    let done = T {
        status: "resolved",
        actor: Some(ag2),
        first_response: Some("2026-03-02T12:00:00Z"),
        resolved: Some("2026-03-03T11:00:00Z"),
        ..t
    };
    d.ticket(STATUS, "2026-03-03T11:00:00Z", t2, done);
    d.push(ev::TICKET_CSAT_SUBMITTED, "2026-03-03T12:00:00Z",
        json!({"organization_id": owner.org, "ticket_id": t2, "number": "TKT-2026-000002", "rating": 2, "comment": "slow", "assignee_id": ag2}));

    // T3 (Tue): a rule resolves it in 5 min, nobody replied: automated. Its resolution arrives
    // before its creation.
    let t = T { status: "open", created: "2026-03-03T08:00:00Z", ..T::default() };
    d.ticket(STATUS, "2026-03-03T08:05:00Z", t3, T { status: "resolved", resolved: Some("2026-03-03T08:05:00Z"), ..t });
    d.ticket(CREATED, "2026-03-03T08:00:00Z", t3, t);

    // T4 (Wed): ag1 answers in 10 min; still open.
    let t = T { status: "open", created: "2026-03-04T09:00:00Z", assignee: Some(ag1), ..T::default() };
    d.ticket(CREATED, "2026-03-04T09:00:00Z", t4, t);
    d.reply("2026-03-04T09:10:00Z", t4, ag1);

    // The week before: ag2 resolved two.
    for (id, day) in [(t5, "2026-02-24"), (t6, "2026-02-25")] {
        let created = format!("{day}T10:00:00Z");
        let resolved = format!("{day}T11:00:00Z");
        let t = T {
            status: "resolved",
            created: &created,
            assignee: Some(ag2),
            actor: Some(ag2),
            resolved: Some(&resolved),
            ..T::default()
        };
        d.ticket(CREATED, &created, id, T { status: "open", resolved: None, ..t });
        d.ticket(STATUS, &resolved, id, t);
    }

    // T8: created and deleted the same Monday: in no figure.
    let t = T { status: "open", created: "2026-03-02T09:00:00Z", assignee: Some(ag1), ..T::default() };
    d.ticket(CREATED, "2026-03-02T09:00:00Z", t8, t);
    d.ticket(ev::TICKET_DELETED, "2026-03-02T09:30:00Z", t8, t);

    // Inbox. C1 Monday: two messages (the first written at 08:59), one reply at 09:09 → 600 s.
    // C2: a reply after 120 s, then another reply nobody waited for. C1 again late Tuesday,
    // answered after midnight: 1,200 s on Wednesday.
    let (c1, c2) = (Uuid::now_v7(), Uuid::now_v7());
    let conversation = |c: Uuid| {
        json!({"organization_id": owner.org, "conversation_id": c, "connection_id": Uuid::now_v7(),
        "platform": "whatsapp", "contact": {"external_id": "1", "name": null, "username": null}, "status": "open", "assignee_id": null, "changed": []})
    };
    d.push(ev::INBOX_CONVERSATION_CREATED, "2026-03-02T09:00:00Z", conversation(c1));
    d.received("2026-03-02T09:00:00Z", "2026-03-02T08:59:00Z", c1);
    d.received("2026-03-02T09:01:00Z", "2026-03-02T09:01:00Z", c1);
    d.sent("2026-03-02T09:09:00Z", c1);
    d.push(ev::INBOX_CONVERSATION_CREATED, "2026-03-02T10:00:00Z", conversation(c2));
    d.received("2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z", c2);
    d.sent("2026-03-02T10:02:00Z", c2);
    d.sent("2026-03-02T10:05:00Z", c2);
    d.received("2026-03-03T23:50:00Z", "2026-03-03T23:50:00Z", c1);
    d.sent("2026-03-04T00:10:00Z", c1);

    // Everything once, then again (a redelivering stream); Evil's ticket on the same Monday.
    for e in d.events.iter().chain(d.events.iter()) {
        app.publish(e).await;
    }
    let mut theirs = Desk { org: other.org, events: vec![] };
    theirs.ticket(
        CREATED,
        "2026-03-02T10:00:00Z",
        Uuid::now_v7(),
        T { status: "open", created: "2026-03-02T10:00:00Z", ..T::default() },
    );
    app.publish(&theirs.events[0]).await;

    let expected = i64::try_from(d.events.len()).unwrap();
    let sql = format!(
        "SELECT count(*) FROM activity_logs WHERE organization_id = '{}' AND (action LIKE 'ticket.%' OR action LIKE 'inbox.%')",
        owner.org
    );
    until_some("every event metered", || async { (app.count(&sql).await == expected).then_some(()) }).await;
    until_some("Evil's ticket metered", || async {
        (app.count(&format!("SELECT count(*) FROM ticket_facts WHERE organization_id = '{}'", other.org)).await == 1)
            .then_some(())
    })
    .await;

    let days = app
        .get_json("/v1/metrics/performance?period=day&from=2026-03-02T00:00:00Z&to=2026-03-05T00:00:00Z", &owner.token)
        .await;
    assert_eq!(days["period"], "day");
    let data = days["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(
        data[0],
        json!({"period_start": "2026-03-02T00:00:00Z", "period_end": "2026-03-03T00:00:00Z",
            "tickets_created": 2, "tickets_resolved": 1,
            "first_response": {"count": 2, "average_seconds": 2700.0, "p90_seconds": 3420.0},
            "resolution": {"count": 1, "average_seconds": 7200.0, "p90_seconds": 7200.0},
            "first_contact_resolution_rate": 100.0, "escalation_rate": 50.0, "automated_resolution_rate": 0.0,
            "csat": {"average": null, "ratings": 0}})
    );
    assert_eq!(
        data[1],
        json!({"period_start": "2026-03-03T00:00:00Z", "period_end": "2026-03-04T00:00:00Z",
            "tickets_created": 1, "tickets_resolved": 2,
            "first_response": {"count": 0, "average_seconds": null, "p90_seconds": null},
            "resolution": {"count": 2, "average_seconds": 43350.0, "p90_seconds": 77790.0},
            "first_contact_resolution_rate": 50.0, "escalation_rate": 0.0, "automated_resolution_rate": 50.0,
            "csat": {"average": 3.5, "ratings": 2}})
    );
    assert_eq!(data[2]["tickets_created"], 1);
    assert_eq!(data[2]["first_response"], json!({"count": 1, "average_seconds": 600.0, "p90_seconds": 600.0}));
    assert_eq!(data[2]["first_contact_resolution_rate"], Value::Null);

    let week = app
        .get_json("/v1/metrics/performance?period=week&from=2026-03-04T00:00:00Z&to=2026-03-09T00:00:00Z", &owner.token)
        .await;
    let w = &week["data"][0];
    assert_eq!(w["period_start"], "2026-03-02T00:00:00Z");
    assert_eq!((w["tickets_created"].as_i64(), w["tickets_resolved"].as_i64()), (Some(4), Some(3)));
    assert_eq!(w["csat"], json!({"average": 3.5, "ratings": 2}));

    let team = app.get_json("/v1/metrics/team?period=week&at=2026-03-04T12:00:00Z", &owner.token).await;
    assert_eq!(team["period_start"], "2026-03-02T00:00:00Z");
    assert_eq!(team["previous_period_start"], "2026-02-23T00:00:00Z");
    let agent = |id: Uuid| {
        team["agents"].as_array().unwrap().iter().find(|a| a["agent_id"] == id.to_string()).cloned().unwrap()
    };
    assert_eq!(
        agent(ag1),
        json!({"agent_id": ag1, "tickets_handled": 2, "tickets_resolved": 1, "resolution_rate": 50.0,
            "avg_first_response_seconds": 1200.0, "csat": {"average": 5.0, "ratings": 1},
            "previous_tickets_resolved": 0, "trend": "up"})
    );
    assert_eq!(
        agent(ag2),
        json!({"agent_id": ag2, "tickets_handled": 1, "tickets_resolved": 1, "resolution_rate": 100.0,
            "avg_first_response_seconds": 3600.0, "csat": {"average": 2.0, "ratings": 1},
            "previous_tickets_resolved": 2, "trend": "down"})
    );
    assert_eq!(team["agents"].as_array().unwrap().len(), 2);

    let inbox = app.get_json("/v1/metrics/inbox?from=2026-03-02&to=2026-03-04", &owner.token).await;
    assert_eq!(
        inbox["data"],
        json!([
            {"date": "2026-03-02", "messages_received": 3, "messages_sent": 3, "conversations_new": 2, "avg_response_seconds": 360.0, "responses": 2},
            {"date": "2026-03-03", "messages_received": 1, "messages_sent": 0, "conversations_new": 0, "avg_response_seconds": null, "responses": 0},
            {"date": "2026-03-04", "messages_received": 0, "messages_sent": 1, "conversations_new": 0, "avg_response_seconds": 1200.0, "responses": 1},
        ])
    );
    assert_eq!(inbox["total"]["messages_received"], 4);
    assert_eq!(inbox["total"]["avg_response_seconds"], 640.0);

    // A rule's resolution whose event arrives after a later update of the ticket still counts
    // as automated.
    let t9 = Uuid::now_v7();
    let mut late = Desk { org: owner.org, events: vec![] };
    let t = T {
        status: "resolved",
        created: "2026-03-05T10:00:00Z",
        resolved: Some("2026-03-05T10:05:00Z"),
        ..T::default()
    };
    late.ticket(ev::TICKET_UPDATED, "2026-03-05T10:10:00Z", t9, T { actor: Some(ag1), ..t });
    late.ticket(STATUS, "2026-03-05T10:05:00Z", t9, t);
    app.publish(&late.events[0]).await;
    let applied = format!("SELECT count(*) FROM ticket_facts WHERE ticket_id = '{t9}'");
    until_some("the later update first", || async { (app.count(&applied).await == 1).then_some(()) }).await;
    app.publish(&late.events[1]).await;
    let path = "/v1/metrics/performance?period=day&from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z";
    let day = until_some("the late resolution", || async {
        let d = app.get_json(path, &owner.token).await;
        (d["data"][0]["automated_resolution_rate"] == 100.0).then_some(d)
    })
    .await;
    assert_eq!(day["data"][0]["tickets_resolved"], 1);

    // Evil sees its own ticket only.
    let evil = app
        .get_json("/v1/metrics/performance?period=week&from=2026-03-02T00:00:00Z&to=2026-03-09T00:00:00Z", &other.token)
        .await;
    assert_eq!(evil["data"][0]["tickets_created"], 1);
    assert_eq!(evil["data"][0]["tickets_resolved"], 0);

    for bad in [
        "/v1/metrics/performance?period=fortnight",
        "/v1/metrics/performance?from=2026-03-05T00:00:00Z&to=2026-03-02T00:00:00Z",
        "/v1/metrics/performance?period=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/v1/metrics/team?at=yesterday",
        "/v1/metrics/inbox?from=2026-03-05&to=2026-03-01",
        "/v1/metrics/inbox?from=2024-01-01&to=2026-01-01",
    ] {
        let r = app.get(bad, &owner.token).await;
        assert!(matches!(r.status().as_u16(), 400 | 422), "{bad}: {}", r.status());
    }
    let key = app.api_key(&owner, &["feedback:read"]).await;
    assert_problem(app.get("/v1/metrics/team", &key).await, StatusCode::FORBIDDEN).await;
    let analyst = app.api_key(&owner, &["metrics:read"]).await;
    assert_eq!(app.get("/v1/metrics/inbox", &analyst).await.status(), StatusCode::OK);
    app.stop().await;
}

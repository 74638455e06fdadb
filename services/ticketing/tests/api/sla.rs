//! SLA policies and due times: business hours, the category's own policy, priority changes, the
//! pause while waiting, and breaches announced exactly once with two replicas scanning.

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use ticketing::domain::sla::{BusinessHours, Calendar, Clock};

use crate::helpers::{assert_problem, eventually, invalid_fields, spawn_app, spawn_app_with, TestApp, User};
use crate::routing::{agent, mirrored, team};

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap_or_else(|| panic!("a time, not {v}")).parse().unwrap()
}

fn office_hours() -> Value {
    json!({"timezone": "America/New_York", "schedule": {
        "mon": [["08:00", "12:00"], ["13:00", "17:00"]], "tue": [["08:00", "12:00"], ["13:00", "17:00"]],
        "wed": [["08:00", "12:00"], ["13:00", "17:00"]], "thu": [["08:00", "12:00"], ["13:00", "17:00"]],
        "fri": [["08:00", "12:00"]]
    }})
}

fn clock_of(hours: &Value) -> Clock {
    let hours: BusinessHours = serde_json::from_value(hours.clone()).unwrap();
    Clock::Business(Calendar::parse("business_hours", &hours).unwrap())
}

async fn policy(app: &TestApp, owner: &User, body: Value) -> Value {
    let r = app.post("/v1/sla-policies", &body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED, "policy {body}");
    r.json().await.unwrap()
}

async fn patch_ticket(app: &TestApp, owner: &User, t: &Value, body: Value) -> Value {
    let r = app.patch(&format!("/v1/tickets/{}", t["id"].as_str().unwrap()), &body, &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK, "patch {body}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn policies_are_written_by_managers_and_checked_field_by_field() {
    let app = spawn_app().await;
    let owner = app.owner("owner@policies.test", "Policies").await;
    let ann = app.member(&owner, "ann@policies.test", "agent").await;
    let body = json!({"name": "Normal", "priority": "normal", "first_response_minutes": 60,
        "resolution_minutes": 480, "business_hours": office_hours()});
    let p = policy(&app, &owner, body.clone()).await;
    assert_eq!(p["business_hours"], office_hours());
    assert_eq!(p["enabled"], true);
    assert!(p["category"].is_null());
    // One per priority and category.
    assert_problem(app.post("/v1/sla-policies", &body, &owner.token).await, StatusCode::CONFLICT).await;
    let bug = policy(
        &app,
        &owner,
        json!({"name": "Bugs", "priority": "normal", "category": "bug",
        "first_response_minutes": 30, "resolution_minutes": 240}),
    )
    .await;
    // Agents read, only managers write.
    assert_eq!(app.get_json("/v1/sla-policies", &ann.token).await["data"].as_array().unwrap().len(), 2);
    let r = app
        .post(
            "/v1/sla-policies",
            &json!({"name": "Mine", "priority": "low",
        "first_response_minutes": 1, "resolution_minutes": 1}),
            &ann.token,
        )
        .await;
    assert_problem(r, StatusCode::FORBIDDEN).await;
    let path = format!("/v1/sla-policies/{}", p["id"].as_str().unwrap());
    assert_problem(app.patch(&path, &json!({"enabled": false}), &ann.token).await, StatusCode::FORBIDDEN).await;
    assert_problem(app.delete(&path, &ann.token).await, StatusCode::FORBIDDEN).await;

    // Every invalid field is named.
    let r = app
        .post(
            "/v1/sla-policies",
            &json!({"name": " ", "priority": "low", "first_response_minutes": 0,
        "resolution_minutes": 600000, "business_hours": {"timezone": "Mars/Olympus",
        "schedule": {"mon": [["17:00", "09:00"]], "tue": [["09:00", "25:00"]]}}}),
            &owner.token,
        )
        .await;
    assert_eq!(
        invalid_fields(r).await,
        [
            "name",
            "first_response_minutes",
            "resolution_minutes",
            "business_hours.timezone",
            "business_hours.schedule.mon[0]",
            "business_hours.schedule.tue[0]"
        ]
    );
    let r = app
        .post(
            "/v1/sla-policies",
            &json!({"name": "Low", "priority": "whenever",
        "first_response_minutes": 9, "resolution_minutes": 60}),
            &owner.token,
        )
        .await;
    assert_eq!(invalid_fields(r).await, ["priority"]);
    let r = app.patch(&path, &json!({"business_hours": {"timezone": "UTC", "schedule": {}}}), &owner.token).await;
    assert_eq!(invalid_fields(r).await, ["business_hours.schedule"]);
    // Moving the bug policy onto the catch-all's place conflicts.
    let bug_path = format!("/v1/sla-policies/{}", bug["id"].as_str().unwrap());
    let r = app.patch(&bug_path, &json!({"category": null}), &owner.token).await;
    assert_problem(r, StatusCode::CONFLICT).await;
    // None of that changed anything.
    assert_eq!(app.get_json(&path, &owner.token).await, p);

    let changed = app.patch(&path, &json!({"business_hours": null, "resolution_minutes": 300}), &owner.token).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert!(changed["business_hours"].is_null());
    assert_eq!(changed["resolution_minutes"], 300);

    // Another organization sees none of them.
    let other = app.owner("owner@other-policies.test", "Other").await;
    assert_problem(app.get(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.patch(&path, &json!({"enabled": false}), &other.token).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.delete(&path, &other.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_json("/v1/sla-policies", &other.token).await["data"], json!([]));

    assert_eq!(app.delete(&path, &owner.token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, &owner.token).await, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn due_times_count_business_hours_prefer_the_category_and_follow_the_priority() {
    let app = spawn_app().await;
    let owner = app.owner("owner@due.test", "Due").await;
    let normal = policy(
        &app,
        &owner,
        json!({"name": "Normal", "priority": "normal", "first_response_minutes": 90,
        "resolution_minutes": 960, "business_hours": office_hours()}),
    )
    .await;
    let bug = policy(
        &app,
        &owner,
        json!({"name": "Bugs", "priority": "normal", "category": "bug",
        "first_response_minutes": 45, "resolution_minutes": 600, "business_hours": office_hours()}),
    )
    .await;
    let urgent = policy(
        &app,
        &owner,
        json!({"name": "Urgent", "priority": "urgent",
        "first_response_minutes": 15, "resolution_minutes": 120}),
    )
    .await;
    let clock = clock_of(&office_hours());

    let t = app.create(&owner, json!({"subject": "Printer on fire"})).await;
    let created = time(&t["created_at"]);
    assert_eq!(t["sla_policy_id"], normal["id"]);
    assert_eq!(time(&t["first_response_due_at"]), clock.add(created, 90 * 60));
    assert_eq!(time(&t["resolution_due_at"]), clock.add(created, 960 * 60));
    // Sixteen office hours are two working days: 33 h of wall time at the least (08:00 one day
    // to 17:00 the next), whatever the day and hour the test runs at.
    assert!(time(&t["resolution_due_at"]) - created >= TimeDelta::hours(33));

    let b = app.create(&owner, json!({"subject": "Crash", "category": "bug"})).await;
    assert_eq!(b["sla_policy_id"], bug["id"]);
    assert_eq!(time(&b["first_response_due_at"]), clock.add(time(&b["created_at"]), 45 * 60));

    // Urgent counts wall-clock time from creation.
    let u = patch_ticket(&app, &owner, &t, json!({"priority": "urgent"})).await;
    assert_eq!(u["sla_policy_id"], urgent["id"]);
    assert_eq!(time(&u["first_response_due_at"]), created + TimeDelta::minutes(15));
    assert_eq!(time(&u["resolution_due_at"]), created + TimeDelta::minutes(120));
    // No policy for low: no targets.
    let l = patch_ticket(&app, &owner, &t, json!({"priority": "low"})).await;
    assert!(l["sla_policy_id"].is_null() && l["first_response_due_at"].is_null() && l["resolution_due_at"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn waiting_pauses_the_clock_and_resuming_moves_the_due_times() {
    let app = spawn_app().await;
    let owner = app.owner("owner@pause.test", "Pause").await;
    let high = policy(
        &app,
        &owner,
        json!({"name": "High", "priority": "high", "first_response_minutes": 30,
        "resolution_minutes": 240}),
    )
    .await;
    let normal = policy(
        &app,
        &owner,
        json!({"name": "Normal", "priority": "normal", "first_response_minutes": 60,
        "resolution_minutes": 600, "business_hours": office_hours()}),
    )
    .await;
    let t = app.create(&owner, json!({"subject": "Waiting for logs", "priority": "high"})).await;
    assert_eq!(t["sla_policy_id"], high["id"]);
    let (first, resolution) = (time(&t["first_response_due_at"]), time(&t["resolution_due_at"]));

    let w = patch_ticket(&app, &owner, &t, json!({"status": "waiting"})).await;
    assert!(w["sla_paused_at"].is_string());
    assert_eq!(time(&w["resolution_due_at"]), resolution);
    // Two hours pass while the customer is away.
    let id: uuid::Uuid = t["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE tickets SET sla_paused_at = sla_paused_at - interval '2 hours' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let o = patch_ticket(&app, &owner, &t, json!({"status": "open"})).await;
    assert!(o["sla_paused_at"].is_null());
    for (before, after) in [(first, &o["first_response_due_at"]), (resolution, &o["resolution_due_at"])] {
        let moved = time(after) - before;
        assert!(moved >= TimeDelta::hours(2) && moved < TimeDelta::hours(2) + TimeDelta::seconds(30), "{moved}");
    }
    let paused: i64 = sqlx::query_scalar("SELECT sla_paused_seconds FROM tickets WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!((7200..7230).contains(&paused), "{paused}");

    // A new priority counts its targets from creation plus the time paused, in business hours.
    let n = patch_ticket(&app, &owner, &t, json!({"priority": "normal"})).await;
    assert_eq!(n["sla_policy_id"], normal["id"]);
    let clock = clock_of(&office_hours());
    let created = time(&t["created_at"]);
    assert_eq!(time(&n["first_response_due_at"]), clock.add(created, 3600 + paused));
    assert_eq!(time(&n["resolution_due_at"]), clock.add(created, 600 * 60 + paused));

    // A pause in business hours moves the due times by the business time paused only.
    patch_ticket(&app, &owner, &t, json!({"status": "waiting"})).await;
    sqlx::query("UPDATE tickets SET sla_paused_at = sla_paused_at - interval '3 days' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let paused_at: DateTime<Utc> = sqlx::query_scalar("SELECT sla_paused_at FROM tickets WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let asked = Utc::now();
    let r = patch_ticket(&app, &owner, &t, json!({"status": "in_progress"})).await;
    let answered = Utc::now();
    let due = time(&n["resolution_due_at"]);
    let (least, most) =
        (clock.add(due, clock.between(paused_at, asked)), clock.add(due, clock.between(paused_at, answered)));
    let got = time(&r["resolution_due_at"]);
    assert!(least <= got && got <= most, "{least} <= {got} <= {most}");
    app.stop().await;
}

/// The ticket's id as a UUID.
fn id_of(t: &Value) -> uuid::Uuid {
    t["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_breach_is_announced_once_per_target_even_with_two_replicas_scanning() {
    let app = spawn_app_with(&[("SLA_SCAN_INTERVAL_SECS", "1")]).await;
    app.replica().await;
    let owner = app.owner("owner@breach.test", "Breach").await;
    let ann = app.member(&owner, "ann@breach.test", "agent").await;
    let bob = app.member(&owner, "bob@breach.test", "agent").await;
    agent(&app, &owner, &bob, "offline", 5).await;
    let team = team(&app, &owner, "Night shift", &[&bob]).await;
    mirrored(&app, &owner, &team, 1).await;
    policy(
        &app,
        &owner,
        json!({"name": "Normal", "priority": "normal", "first_response_minutes": 60,
        "resolution_minutes": 600}),
    )
    .await;
    let mine = app.create(&owner, json!({"subject": "Slow", "assignee_id": ann.id})).await;
    let theirs = app.create(&owner, json!({"subject": "Nobody online", "team_id": team})).await;
    assert!(theirs["assignee_id"].is_null());

    sqlx::query(
        "UPDATE tickets SET first_response_due_at = now() - interval '5 minutes', \
         resolution_due_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(id_of(&mine))
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/v1/tickets/{}", mine["id"].as_str().unwrap());
    eventually("both breaches stamped", || async {
        let t = app.get_json(&path, &owner.token).await;
        t["first_response_breached_at"].is_string() && t["resolution_breached_at"].is_string()
    })
    .await;
    // A later breach on another ticket, as a marker: once it is out, any duplicate of the
    // earlier ones would be too.
    sqlx::query("UPDATE tickets SET first_response_due_at = now() - interval '1 minute' WHERE id = $1")
        .bind(id_of(&theirs))
        .execute(&app.pool)
        .await
        .unwrap();
    let events = app.messages("EVENTS", "events.ticket.sla.breached", 3).await;
    let of = |t: &Value| -> Vec<String> {
        let mut targets: Vec<String> = events
            .iter()
            .filter(|(_, e)| e["data"]["ticket_id"] == t["id"])
            .map(|(_, e)| e["data"]["target"].as_str().unwrap().to_owned())
            .collect();
        targets.sort();
        targets
    };
    assert_eq!(of(&mine), ["first_response", "resolution"]);
    assert_eq!(of(&theirs), ["first_response"]);
    assert_eq!(events.len(), 3, "{events:?}");
    let e = events.iter().find(|(_, e)| e["data"]["ticket_id"] == mine["id"]).unwrap();
    assert_eq!(e.1["data"]["assignee_id"], ann.id.as_str());
    assert_eq!(e.1["data"]["number"], mine["number"]);

    // The assignee hears of their breaches; the team's members of the unassigned one.
    let notes = app
        .notifications_until(|n| {
            n["data"]["reason"] == "ticket.sla.breached" && n["data"]["recipients"] == json!([bob.id])
        })
        .await;
    let to_ann = notes
        .iter()
        .filter(|n| n["data"]["reason"] == "ticket.sla.breached" && n["data"]["recipients"] == json!([ann.id]))
        .count();
    assert_eq!(to_ann, 2, "{notes:?}");

    // Each breach opened an escalation.
    let list = app.get_json(&format!("/v1/escalations?ticket_id={}", mine["id"].as_str().unwrap()), &owner.token).await;
    let escalations = list["data"].as_array().unwrap();
    assert_eq!(escalations.len(), 2);
    assert!(escalations.iter().all(|e| e["origin"] == "sla_breach" && e["reason"] == "sla_breach"));
    assert!(escalations.iter().all(|e| e["status"] == "pending" && e["priority"] == "high"));
    let escalated = app.messages("EVENTS", "events.ticket.escalated", 3).await;
    assert_eq!(escalated.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_target_missed_before_the_scanner_looked_is_recorded_when_met() {
    let app = spawn_app().await;
    let owner = app.owner("owner@late.test", "Late").await;
    policy(
        &app,
        &owner,
        json!({"name": "Normal", "priority": "normal", "first_response_minutes": 60,
        "resolution_minutes": 600}),
    )
    .await;
    let t = app.create(&owner, json!({"subject": "Answered late"})).await;
    sqlx::query(
        "UPDATE tickets SET first_response_due_at = now() - interval '2 minutes', \
         resolution_due_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(id_of(&t))
    .execute(&app.pool)
    .await
    .unwrap();
    let path = format!("/v1/tickets/{}", t["id"].as_str().unwrap());
    let r = app.post(&format!("{path}/comments"), &json!({"body": "Sorry for the wait"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let replied = app.get_json(&path, &owner.token).await;
    assert!(replied["first_response_at"].is_string() && replied["first_response_breached_at"].is_string());
    assert!(replied["resolution_breached_at"].is_null());
    let resolved = patch_ticket(&app, &owner, &t, json!({"status": "resolved"})).await;
    assert!(resolved["resolution_breached_at"].is_string());
    let events = app.messages("EVENTS", "events.ticket.sla.breached", 2).await;
    let mut targets: Vec<&str> = events.iter().map(|(_, e)| e["data"]["target"].as_str().unwrap()).collect();
    targets.sort();
    assert_eq!(targets, ["first_response", "resolution"]);
    // Reopening does not breach it again.
    patch_ticket(&app, &owner, &t, json!({"status": "open"})).await;
    patch_ticket(&app, &owner, &t, json!({"status": "resolved"})).await;
    let history = app.get_json(&format!("{path}/history"), &owner.token).await;
    let stamps = history["data"].as_array().unwrap().iter().filter(|h| h["kind"] == "sla").count();
    assert_eq!(stamps, 2, "{history}");
    app.stop().await;
}

#[tokio::test]
async fn lists_filter_breached_and_at_risk_tickets_and_sort_by_due_time() {
    let app = spawn_app().await;
    let owner = app.owner("owner@risk.test", "Risk").await;
    // Targets of 240 and 600 minutes: at risk within an hour, and within 150 minutes.
    policy(
        &app,
        &owner,
        json!({"name": "Normal", "priority": "normal", "first_response_minutes": 240,
        "resolution_minutes": 600}),
    )
    .await;
    let mut t = Vec::new();
    for subject in ["Fine", "Close", "Late", "Waiting"] {
        t.push(app.create(&owner, json!({"subject": subject})).await);
    }
    let set = |i: usize, sql: &'static str| {
        let (pool, id) = (app.pool.clone(), id_of(&t[i]));
        async move { sqlx::query(sql).bind(id).execute(&pool).await.unwrap() }
    };
    // "Fine" keeps its targets (four and ten hours away).
    set(
        1,
        "UPDATE tickets SET resolution_due_at = now() + interval '2 hours', \
            first_response_due_at = now() + interval '90 minutes' WHERE id = $1",
    )
    .await;
    set(2, "UPDATE tickets SET first_response_due_at = now() - interval '1 minute' WHERE id = $1").await;
    patch_ticket(&app, &owner, &t[3], json!({"status": "waiting"})).await;
    set(3, "UPDATE tickets SET resolution_due_at = now() + interval '5 minutes' WHERE id = $1").await;
    let subjects = |page: Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|t| t["subject"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(subjects(app.get_json("/v1/tickets?sla=breached", &owner.token).await), ["Late"]);
    // Paused tickets are not at risk; "Close" is due within 150 minutes of a 600-minute target.
    assert_eq!(subjects(app.get_json("/v1/tickets?sla=at_risk", &owner.token).await), ["Close"]);
    let by_due = subjects(app.get_json("/v1/tickets?sort=sla_due&status=open", &owner.token).await);
    // By the resolution due time (the listing's `sla_due` order), nearest first.
    assert_eq!(by_due, ["Close", "Fine", "Late"]);
    app.stop().await;
}

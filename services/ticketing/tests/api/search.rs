//! Listing and search: every filter, sorts, ranking and cursors that page through everything.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, User};

/// Every ticket of the list at `path` (which has its own query), following cursors.
async fn all_pages(app: &TestApp, user: &User, path: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = app.get_json(&url, &user.token).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        out.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

fn subjects(list: &[Value]) -> Vec<String> {
    list.iter().map(|t| t["subject"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn filters_sorts_and_cursors_cover_every_ticket_once() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let agent = app.member(&owner, "agent@example.com", "agent").await;
    let priorities = ["low", "normal", "high", "urgent"];
    for i in 0..23 {
        let mut body = json!({"subject": format!("Ticket {i:02}"), "priority": priorities[i % 4], "tags": if i % 3 == 0 { json!(["vip"]) } else { json!([]) }});
        if i % 5 == 0 {
            body["assignee_id"] = json!(agent.id);
        }
        app.create(&owner, body).await;
    }
    for sort in ["created", "updated", "priority", "sla_due"] {
        let list = all_pages(&app, &owner, &format!("/v1/tickets?sort={sort}"), 4).await;
        let ids: HashSet<&str> = list.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!((list.len(), ids.len()), (23, 23), "sort {sort}");
        if sort == "created" {
            let s = subjects(&list);
            assert_eq!(s.first().unwrap(), "Ticket 22");
            assert_eq!(s.last().unwrap(), "Ticket 00");
        }
        if sort == "priority" {
            let ranks: Vec<usize> =
                list.iter().map(|t| 3 - priorities.iter().position(|p| *p == t["priority"]).unwrap()).collect();
            assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
            // Ties newest first.
            let urgent = subjects(&list[..5]);
            assert_eq!(urgent, ["Ticket 19", "Ticket 15", "Ticket 11", "Ticket 07", "Ticket 03"]);
        }
    }
    let vip = all_pages(&app, &owner, "/v1/tickets?tag=VIP", 3).await;
    assert_eq!(vip.len(), 8);
    let mine = all_pages(&app, &owner, &format!("/v1/tickets?assignee_id={}", agent.id), 2).await;
    assert_eq!(mine.len(), 5);
    let urgent_vip = all_pages(&app, &owner, "/v1/tickets?priority=urgent&tag=vip", 10).await;
    assert_eq!(subjects(&urgent_vip), ["Ticket 15", "Ticket 03"]);
    let first = &mine[0]["id"];
    let r = app
        .patch(&format!("/v1/tickets/{}", first.as_str().unwrap()), &json!({"status": "waiting"}), &agent.token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let waiting = app.get_json("/v1/tickets?status=waiting", &agent.token).await;
    assert_eq!(waiting["data"].as_array().unwrap().len(), 1);
    assert_eq!(&waiting["data"][0]["id"], first);
    // Updated sort puts the changed one first.
    assert_eq!(&app.get_json("/v1/tickets?sort=updated&limit=1", &agent.token).await["data"][0]["id"], first);
    app.stop().await;
}

#[tokio::test]
async fn search_ranks_subject_over_description_over_comments_and_pages_through() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let comment_hit = app.create(&owner, json!({"subject": "Unrelated one", "description": "nothing"})).await;
    let r = app
        .post(
            &format!("/v1/tickets/{}/comments", comment_hit["id"].as_str().unwrap()),
            &json!({"body": "the printer jammed"}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    app.create(&owner, json!({"subject": "Something else", "description": "our printer is smoking"})).await;
    app.create(&owner, json!({"subject": "Printer down", "description": "help"})).await;
    app.create(&owner, json!({"subject": "No match here", "description": "at all"})).await;
    let found = app.get_json("/v1/tickets?q=printer", &owner.token).await;
    assert_eq!(subjects(found["data"].as_array().unwrap()), ["Printer down", "Something else", "Unrelated one"]);
    // Prefixes match; every word must.
    assert_eq!(app.get_json("/v1/tickets?q=print%20jam", &owner.token).await["data"].as_array().unwrap().len(), 1);
    // A search pages like any list, with a sort of its own when asked.
    let paged = all_pages(&app, &owner, "/v1/tickets?q=printer", 1).await;
    assert_eq!(subjects(&paged), ["Printer down", "Something else", "Unrelated one"]);
    let by_time = all_pages(&app, &owner, "/v1/tickets?q=printer&sort=created", 2).await;
    assert_eq!(subjects(&by_time), ["Printer down", "Something else", "Unrelated one"]);
    // Words changed by an edit are found, the old ones no longer.
    let id = by_time[0]["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/tickets/{id}"), &json!({"subject": "Scanner down"}), &owner.token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get_json("/v1/tickets?q=scanner", &owner.token).await["data"][0]["id"], by_time[0]["id"]);
    assert_eq!(app.get_json("/v1/tickets?q=printer", &owner.token).await["data"].as_array().unwrap().len(), 2);
    // Nothing searchable in `q`: the plain list.
    assert_eq!(app.get_json("/v1/tickets?q=%21%21", &owner.token).await["data"].as_array().unwrap().len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn a_long_search_result_has_no_cap() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let org: uuid::Uuid = owner.org.parse().unwrap();
    // Rows written straight to the table: the point is the size of the result, not the API's
    // create path (tested elsewhere).
    sqlx::query(
        "INSERT INTO tickets (id, organization_id, number, subject, search_public, search_all) \
         SELECT gen_random_uuid(), $1, 'BULK-' || n, 'Bulk printer ' || n, \
                to_tsvector('english', 'Bulk printer ' || n), to_tsvector('english', 'Bulk printer ' || n) \
         FROM generate_series(1, 1200) AS n",
    )
    .bind(org)
    .execute(&app.pool)
    .await
    .unwrap();
    let all = all_pages(&app, &owner, "/v1/tickets?q=printer", 200).await;
    let ids: HashSet<&str> = all.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!((all.len(), ids.len()), (1200, 1200));
    app.stop().await;
}

#[tokio::test]
async fn sla_filters_and_the_due_sort() {
    let app = spawn_app().await;
    let owner = app.owner("ada@example.com", "Acme").await;
    let r = app
        .post(
            "/v1/sla-policies",
            &json!({"name": "Urgent", "priority": "urgent", "first_response_minutes": 480, "resolution_minutes": 960}),
            &owner.token,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut ids = Vec::new();
    for name in ["late", "soon", "later", "resolving"] {
        let t = app.create(&owner, json!({"subject": name, "priority": "urgent"})).await;
        assert!(t["resolution_due_at"].is_string(), "{t}");
        ids.push(t["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    let none = app.create(&owner, json!({"subject": "no policy", "priority": "low"})).await;
    // Clocks moved as time would: `late` is past its first response, `soon` has 90 minutes
    // left (within a quarter of 8 hours), `later` 3 hours (outside it).
    for (id, minutes) in [(ids[0], -5), (ids[1], 90), (ids[2], 180)] {
        sqlx::query("UPDATE tickets SET first_response_due_at = now() + make_interval(mins => $2) WHERE id = $1")
            .bind(id)
            .bind(minutes)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE tickets SET resolution_due_at = now() + interval '10 minutes' WHERE id = $1")
        .bind(ids[3])
        .execute(&app.pool)
        .await
        .unwrap();
    let breached = app.get_json("/v1/tickets?sla=breached", &owner.token).await;
    assert_eq!(subjects(breached["data"].as_array().unwrap()), ["late"]);
    let mut at_risk = subjects(app.get_json("/v1/tickets?sla=at_risk", &owner.token).await["data"].as_array().unwrap());
    at_risk.sort();
    assert_eq!(at_risk, ["resolving", "soon"]);
    // Due soonest first, those without a due time last; across pages too.
    let by_due = all_pages(&app, &owner, "/v1/tickets?sort=sla_due", 2).await;
    assert_eq!(subjects(&by_due).first().unwrap(), "resolving");
    assert_eq!(by_due.last().unwrap()["id"], none["id"]);
    assert_eq!(by_due.len(), 5);
    app.stop().await;
}

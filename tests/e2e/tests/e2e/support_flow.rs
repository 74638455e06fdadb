//! Flow 4: a support team at work. A ticket for the team goes round-robin to its online agent,
//! who is notified in the app, and the organization's endpoint receives the signed
//! `ticket.created` and `ticket.assigned` deliveries.

use serde_json::json;

use crate::desk::delivery;
use crate::helpers::Stack;
use crate::receiver::Receiver;

#[tokio::test]
async fn a_team_ticket_goes_to_its_online_agent_who_is_notified_and_the_endpoint_told() {
    let stack = Stack::start().await;
    let rx = Receiver::start().await;
    let desk = stack.support_desk(&rx).await;

    let body = json!({"subject": "Cannot log in", "description": "The page spins forever", "team_id": desk.team});
    let created = stack.ticketing_post("/v1/tickets", &desk.owner.token, body).await;
    let (id, number) = (created["id"].as_str().unwrap(), created["number"].as_str().unwrap());
    assert_eq!(created["team_id"], desk.team.as_str());
    // Membership reaches ticketing through identity's event or, first, its GetTeam answer; either
    // way the ticket is the agent's soon after the create.
    let ticket = stack
        .ticket_until(&desk.owner.token, id, "the round-robin assignment", |t| {
            t["assignee_id"] == desk.agent.id.as_str()
        })
        .await;
    assert_eq!(ticket["number"], number);
    assert_eq!(ticket["status"], "open");
    let mine = stack.ticketing_get(&format!("/v1/tickets?assignee_id={}", desk.agent.id), &desk.agent.token).await;
    assert_eq!(mine["data"][0]["id"], id, "the agent finds it among theirs: {mine}");

    let notice = stack
        .notification(&desk.agent.token, "the agent's assignment notification", |n| n["reason"] == "ticket.assigned")
        .await;
    assert_eq!(notice["title"], format!("{number} was assigned to you"));
    assert_eq!(notice["body"], "Cannot log in");
    let link = notice["link"].as_str().expect("a link to the ticket");
    assert!(link.ends_with(&format!("/tickets/{number}")), "{link}");
    assert!(notice["read_at"].is_null());

    let is_it = |d: &serde_json::Value| d["ticket_id"] == id;
    let created = delivery(&rx, "ticket.created", is_it).await;
    let assigned = delivery(&rx, "ticket.assigned", is_it).await;
    for d in [&created, &assigned] {
        d.verify(&desk.secret).expect("signed with the endpoint's secret");
        let body = d.json();
        assert_eq!(body["data"]["organization_id"], desk.org.as_str());
        assert_eq!(body["data"]["number"], number);
        assert_eq!(body["data"]["subject"], "Cannot log in");
        assert_eq!(body["data"]["team_id"], desk.team.as_str());
        assert!(!body.to_string().contains(&desk.secret), "the secret never travels");
    }
    assert_eq!(assigned.json()["data"]["assignee_id"], desk.agent.id.as_str());
    assert_eq!(assigned.json()["data"]["changed"], json!(["assignee_id"]));
}

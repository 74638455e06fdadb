//! Flow 1: sign up, invite a teammate (the mail in the dev mailbox), accept, sign in, create a
//! webhook endpoint, post feedback, receive the signed `feedback.created` delivery.

use crate::client::{eventually, DEADLINE};
use crate::helpers::Stack;
use crate::receiver::Receiver;

#[tokio::test]
async fn a_teammate_posts_feedback_and_the_endpoint_receives_it_signed() {
    let stack = Stack::start().await;
    let rx = Receiver::start().await;
    let team = stack.team_with_webhook(&rx).await;

    let post = stack.post_feedback(&team.token, "Dark mode, please").await;
    let delivery = eventually("the feedback.created delivery", DEADLINE, || async {
        rx.received().into_iter().find(|r| r.feedback_id().as_deref() == Some(post.as_str()))
    })
    .await;
    delivery.verify(&team.secret).expect("signed with the endpoint's secret");
    let other = format!("whsec_{}", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=");
    assert!(delivery.verify(&other).is_err(), "another secret does not verify it");
    let body = delivery.json();
    assert_eq!(body["type"], "feedback.created");
    assert_eq!(body["data"]["title"], "Dark mode, please");
    assert_eq!(body["data"]["status"], "open");
    assert!(!body.to_string().contains(&team.secret), "the secret never travels");
    stack.assert_all_delivered_once(&team, &rx, vec![post]).await;
}

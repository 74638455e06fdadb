//! Flow 3: a burst of posts while the dispatcher is killed without grace mid-delivery and a new
//! replica starts on the same database; every post is delivered, once per webhook-id.

use std::time::Duration;

use crate::client::{eventually, Burst, DEADLINE};
use crate::helpers::Stack;
use crate::receiver::Receiver;

#[tokio::test]
async fn every_post_is_delivered_once_when_the_dispatcher_is_killed() {
    let mut stack = Stack::start().await;
    // A slow receiver keeps requests in flight, so the dead replica dies holding leases.
    let rx = Receiver::start_answering_after(Duration::from_millis(200)).await;
    let team = stack.team_with_webhook(&rx).await;

    let burst = Burst::start(&stack, &team.token, 200);
    eventually("the first deliveries", DEADLINE, || async { (rx.received().len() >= 20).then_some(()) }).await;
    stack.kill_dispatcher();
    let delivered_before = rx.posts_seen().len();
    stack.start_new_dispatcher().await;
    let posts = burst.finish().await;
    assert!(delivered_before < posts.len(), "killed mid-burst ({delivered_before} delivered before)");
    stack.assert_all_delivered_once(&team, &rx, posts).await;
}

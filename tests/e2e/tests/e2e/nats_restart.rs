//! Flow 2: a burst of posts while NATS is killed and started again; every post is delivered,
//! once per webhook-id.

use crate::client::Burst;
use crate::helpers::Stack;
use crate::receiver::Receiver;
use platform::testing::PrivateNats;

#[tokio::test]
async fn every_post_is_delivered_once_across_a_nats_restart() {
    let mut nats = PrivateNats::start().await.expect("private nats-server");
    let stack = Stack::start_on(&nats.url()).await;
    let rx = Receiver::start().await;
    let team = stack.team_with_webhook(&rx).await;

    let burst = Burst::start(&stack, &team.token, 200);
    burst.reached(50).await;
    nats.kill().await.expect("nats-server killed");
    // Posts are accepted while NATS is down: their events wait in feedback's outbox.
    burst.reached(120).await;
    let seen = rx.posts_seen().len();
    assert!(seen < 120, "posts made while NATS is down cannot have been delivered ({seen} were)");
    nats.resume().await.expect("nats-server restarted");
    let posts = burst.finish().await;
    stack.assert_all_delivered_once(&team, &rx, posts).await;
}

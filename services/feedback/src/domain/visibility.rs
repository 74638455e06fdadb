//! Who sees what: the one visibility rule of feedback, used by every read (get, list, search,
//! similar, comments, attachments, votes, subscriptions) and by notifications.
//!
//! Staff (agents and above) see every post and internal note. Everyone else sees public posts and
//! the private posts they wrote. Authorship needs a user on both sides: an API key acts for the
//! organization and has no user, so it is never the author of anything here — two posts made by
//! API keys do not belong to each other (`None == None` must never mean "mine").

use std::collections::HashSet;

use platform::auth::{Principal, Role};
use uuid::Uuid;

/// Whoever is looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    org: Uuid,
    staff: bool,
    user: Option<Uuid>,
}

impl Viewer {
    /// A caller with credentials of `org`.
    pub fn member(org: Uuid, role: Role, user: Option<Uuid>) -> Self {
        Self { org, staff: role >= Role::Agent, user }
    }

    pub fn of(p: &Principal) -> Self {
        Self::member(p.org_id, p.role, p.user_id)
    }

    /// An anonymous visitor of `org`'s public board: public posts and public comments only.
    pub fn visitor(org: Uuid) -> Self {
        Self { org, staff: false, user: None }
    }

    pub fn org(&self) -> Uuid {
        self.org
    }

    /// Sees every private post and internal note of the organization.
    pub fn is_staff(&self) -> bool {
        self.staff
    }

    /// The user whose own private posts this viewer also sees; `None` for API keys and visitors.
    pub fn own(&self) -> Option<Uuid> {
        self.user
    }

    /// Whether this viewer wrote what `author` wrote. Never true without a user on both sides.
    pub fn is_author(&self, author: Option<Uuid>) -> bool {
        matches!((self.user, author), (Some(me), Some(them)) if me == them)
    }

    /// Whether this viewer may see a post that is `public` or not, written by `author`.
    pub fn sees_post(&self, public: bool, author: Option<Uuid>) -> bool {
        public || self.staff || self.is_author(author)
    }

    /// Whether this viewer sees internal notes (and the files attached to them).
    pub fn sees_internal(&self) -> bool {
        self.staff
    }
}

/// Which of a post's `subscribers` may be told about it, decided when the notification is made
/// (not when they subscribed: roles change). A public post tells everyone. A private one tells
/// its author and the subscribers who are staff now, per `staff_now` (identity's current roles);
/// `None` means identity could not say, and then only the author is told: private text goes to
/// nobody who might have been demoted. The one who acted is never told.
pub fn audience(
    subscribers: &[Uuid],
    public: bool,
    author: Option<Uuid>,
    staff_now: Option<&HashSet<Uuid>>,
    actor: Option<Uuid>,
) -> Vec<Uuid> {
    subscribers
        .iter()
        .copied()
        .filter(|u| Some(*u) != actor)
        .filter(|u| public || author == Some(*u) || staff_now.is_some_and(|s| s.contains(u)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_is_never_an_author() {
        let org = Uuid::now_v7();
        let customer_key = Viewer::member(org, Role::Customer, None);
        assert!(!customer_key.sees_post(false, None), "a private post by another API key");
        assert!(!customer_key.is_author(None));
        assert!(customer_key.sees_post(true, None));
        let user = Uuid::now_v7();
        let customer = Viewer::member(org, Role::Customer, Some(user));
        assert!(customer.sees_post(false, Some(user)));
        assert!(!customer.sees_post(false, None));
        assert!(!customer.sees_post(false, Some(Uuid::now_v7())));
        assert!(Viewer::member(org, Role::Agent, None).sees_post(false, None));
        assert!(!Viewer::visitor(org).sees_internal());
    }

    #[test]
    fn private_posts_tell_the_author_and_current_staff_only() {
        let (author, agent, demoted, actor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let subs = [author, agent, demoted, actor];
        let staff: HashSet<Uuid> = [agent, actor].into();
        assert_eq!(audience(&subs, false, Some(author), Some(&staff), Some(actor)), [author, agent]);
        assert_eq!(audience(&subs, false, Some(author), None, Some(actor)), [author], "fails closed");
        assert_eq!(audience(&subs, true, Some(author), None, Some(actor)), [author, agent, demoted]);
        assert_eq!(audience(&subs, false, None, None, None), Vec::<Uuid>::new());
    }
}

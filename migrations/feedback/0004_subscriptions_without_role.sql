-- Whether a subscriber was staff was a snapshot taken when they subscribed, so a demoted member
-- kept hearing about private posts. Visibility is now decided when a notification is made, from
-- identity's current roles: the snapshot goes.
ALTER TABLE subscriptions DROP COLUMN staff;

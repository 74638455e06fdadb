-- Whether a subscriber is staff (agent or above) when subscribing: private posts notify only
-- staff and their author.
ALTER TABLE subscriptions ADD COLUMN staff BOOLEAN NOT NULL DEFAULT false;

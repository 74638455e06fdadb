-- The organization's plan and subscription status, mirrored from billing-metrics'
-- `billing.subscription.*` events. Plans are the catalog's names (data in billing-metrics), so
-- the check is on the shape of a name, not a list. `billing_updated_at` is the time of the last
-- event applied: an older one arriving late changes nothing.
ALTER TABLE organizations DROP CONSTRAINT organizations_plan_check;
ALTER TABLE organizations ADD CONSTRAINT organizations_plan_check CHECK (plan ~ '^[a-z][a-z0-9_-]{0,39}$');
ALTER TABLE organizations ADD COLUMN subscription_status TEXT
    CHECK (subscription_status IN ('trialing', 'active', 'past_due', 'canceled', 'unpaid'));
ALTER TABLE organizations ADD COLUMN billing_updated_at TIMESTAMPTZ;

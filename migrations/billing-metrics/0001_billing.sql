-- billing-metrics (seeds 000, 001, 004): the plan catalog, one subscription per organization,
-- usage per organization, metric and period, the threshold alerts sent, Stripe events seen and
-- the activity log. Organizations and users live in identity; ids refer to them without
-- foreign keys. Every tenant table carries organization_id and every query filters by it.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

-- The catalog is data: operators change it through the API. `limits` maps a metric to
-- {"limit": n (-1 unlimited), "hard": bool}; `numbers` are numeric entitlements (-1 unlimited),
-- `flags` yes-or-no ones.
CREATE TABLE plans (
    name TEXT PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,39}$'),
    display_name TEXT NOT NULL CHECK (display_name <> ''),
    price_cents BIGINT NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency TEXT NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    billing_interval TEXT NOT NULL DEFAULT 'month' CHECK (billing_interval IN ('month', 'year')),
    limits JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limits) = 'object'),
    numbers JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(numbers) = 'object'),
    flags JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(flags) = 'object'),
    -- Order on the pricing page.
    position INT NOT NULL DEFAULT 0,
    -- Retired plans keep their subscribers but cannot be chosen.
    available BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER plans_updated_at BEFORE UPDATE ON plans FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO plans (name, display_name, price_cents, position, limits, numbers, flags) VALUES
('free', 'Free', 0, 0,
 '{"seats": {"limit": 3, "hard": true}, "feedback_posts": {"limit": 100, "hard": true},
   "tickets": {"limit": 100, "hard": true}, "messages": {"limit": 1000, "hard": false},
   "connections": {"limit": 2, "hard": true}, "webhook_endpoints": {"limit": 3, "hard": true},
   "api_keys": {"limit": 2, "hard": true}}',
 '{"history_days": 30, "sla_policies": 1}', '{"api_access": false, "custom_ticket_prefix": false}'),
('starter', 'Starter', 1900, 1,
 '{"seats": {"limit": 5, "hard": true}, "feedback_posts": {"limit": 1000, "hard": true},
   "tickets": {"limit": 1000, "hard": true}, "messages": {"limit": 10000, "hard": false},
   "connections": {"limit": 3, "hard": true}, "webhook_endpoints": {"limit": 5, "hard": true},
   "api_keys": {"limit": 5, "hard": true}}',
 '{"history_days": 90, "sla_policies": 3}', '{"api_access": true, "custom_ticket_prefix": false}'),
('pro', 'Pro', 4900, 2,
 '{"seats": {"limit": 10, "hard": true}, "feedback_posts": {"limit": 10000, "hard": false},
   "tickets": {"limit": 10000, "hard": true}, "messages": {"limit": 100000, "hard": false},
   "connections": {"limit": 10, "hard": true}, "webhook_endpoints": {"limit": 20, "hard": true},
   "api_keys": {"limit": 20, "hard": true}}',
 '{"history_days": -1, "sla_policies": 10}', '{"api_access": true, "custom_ticket_prefix": true}'),
('business', 'Business', 9900, 3,
 '{"seats": {"limit": 25, "hard": true}, "feedback_posts": {"limit": -1, "hard": false},
   "tickets": {"limit": 50000, "hard": false}, "messages": {"limit": 500000, "hard": false},
   "connections": {"limit": 25, "hard": true}, "webhook_endpoints": {"limit": 50, "hard": true},
   "api_keys": {"limit": 50, "hard": true}}',
 '{"history_days": -1, "sla_policies": -1}', '{"api_access": true, "custom_ticket_prefix": true}'),
('enterprise', 'Enterprise', 49900, 4,
 '{"seats": {"limit": -1, "hard": false}, "feedback_posts": {"limit": -1, "hard": false},
   "tickets": {"limit": -1, "hard": false}, "messages": {"limit": -1, "hard": false},
   "connections": {"limit": -1, "hard": false}, "webhook_endpoints": {"limit": -1, "hard": false},
   "api_keys": {"limit": -1, "hard": false}}',
 '{"history_days": -1, "sla_policies": -1}', '{"api_access": true, "custom_ticket_prefix": true}');

-- Seed 000's subscriptions, one per organization.
CREATE TABLE subscriptions (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL UNIQUE,
    plan TEXT NOT NULL REFERENCES plans (name),
    status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled', 'unpaid')),
    current_period_start TIMESTAMPTZ NOT NULL,
    current_period_end TIMESTAMPTZ NOT NULL CHECK (current_period_end > current_period_start),
    trial_start TIMESTAMPTZ,
    trial_end TIMESTAMPTZ,
    cancel_at_period_end BOOLEAN NOT NULL DEFAULT false,
    canceled_at TIMESTAMPTZ,
    stripe_customer_id TEXT,
    stripe_subscription_id TEXT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_period_end ON subscriptions (current_period_end);
CREATE INDEX subscriptions_stripe_customer ON subscriptions (stripe_customer_id) WHERE stripe_customer_id IS NOT NULL;
CREATE TRIGGER subscriptions_updated_at BEFORE UPDATE ON subscriptions FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Seed 000's usage_metrics: counters per calendar month (UTC) and gauges (period_start is
-- the epoch: a gauge is not per period).
CREATE TABLE usage (
    organization_id UUID NOT NULL,
    metric TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    value BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, metric, period_start)
);

-- What a gauge counts, so that a repeated add or remove changes nothing.
CREATE TABLE gauge_members (
    organization_id UUID NOT NULL,
    metric TEXT NOT NULL,
    member_id UUID NOT NULL,
    PRIMARY KEY (organization_id, metric, member_id)
);

-- Members and their roles, from identity's events: who hears of thresholds.
CREATE TABLE members (
    organization_id UUID NOT NULL,
    user_id UUID NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);

-- A threshold alert is sent once per organization, metric, period and percent.
CREATE TABLE usage_alerts (
    organization_id UUID NOT NULL,
    metric TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    percent INT NOT NULL CHECK (percent IN (80, 100)),
    used BIGINT NOT NULL,
    usage_limit BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, metric, period_start, percent)
);

-- Stripe events applied, by Stripe's id: a replayed event changes nothing.
CREATE TABLE stripe_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    organization_id UUID,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Seed 000's activity_logs: every event, by its id.
CREATE TABLE activity_logs (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    actor_id UUID,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX activity_logs_recent ON activity_logs (organization_id, created_at DESC, id DESC);
CREATE INDEX activity_logs_action ON activity_logs (organization_id, action, created_at DESC);
CREATE INDEX activity_logs_actor ON activity_logs (organization_id, actor_id, created_at DESC) WHERE actor_id IS NOT NULL;

-- Webhook endpoints, their signing secrets, deliveries and attempts; in-app notifications; the
-- development mailbox.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

CREATE TABLE endpoints (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    -- Exact event types or prefix wildcards: 'ticket.*', '*'.
    events TEXT[] NOT NULL,
    rate_limit_per_second INT CHECK (rate_limit_per_second > 0),
    max_concurrency INT NOT NULL DEFAULT 16 CHECK (max_concurrency > 0),
    ordered BOOLEAN NOT NULL DEFAULT false,
    enabled BOOLEAN NOT NULL DEFAULT true,
    disabled_reason TEXT,
    -- First failure of the current unbroken run of failures; cleared by a success.
    failing_since TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_org ON endpoints (organization_id) WHERE enabled;
CREATE TRIGGER endpoints_updated_at BEFORE UPDATE ON endpoints FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Every secret that signs: the current one (expires_at NULL) and rotated ones until they expire.
CREATE TABLE endpoint_secrets (
    id UUID PRIMARY KEY,
    endpoint_id UUID NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ
);
CREATE INDEX endpoint_secrets_endpoint ON endpoint_secrets (endpoint_id);

CREATE SEQUENCE delivery_sequence;

CREATE TABLE deliveries (
    -- Also the webhook-id header: the same across retries.
    id UUID PRIMARY KEY,
    endpoint_id UUID NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    event_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    -- The body POSTed: {"type", "timestamp", "data"}; NULL once pruned.
    payload JSONB,
    -- Event order, for endpoints that want deliveries one at a time in order.
    sequence BIGINT NOT NULL DEFAULT nextval('delivery_sequence'),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    leased_until TIMESTAMPTZ,
    last_status_code INT,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT deliveries_event_once UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX deliveries_endpoint_pending ON deliveries (endpoint_id, sequence) WHERE status = 'pending';

CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deliveries', '');
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();

CREATE TABLE attempts (
    id UUID PRIMARY KEY,
    delivery_id UUID NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code INT,
    response_body TEXT,
    duration_ms INT NOT NULL,
    error TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempted_at);

CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    user_id UUID NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    reason TEXT NOT NULL,
    read_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_inbox ON notifications (user_id, organization_id, (read_at IS NULL) DESC, created_at DESC, id DESC);

-- Development only: mail kept instead of sent, readable at GET /v1/dev/mailbox.
CREATE TABLE mailbox (
    id UUID PRIMARY KEY,
    organization_id UUID,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    link TEXT,
    variables JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mailbox_recent ON mailbox (created_at DESC);

-- OAuth: every `state` handed out is good once (its nonce is recorded when it comes back), and
-- when a connection's token was last issued (Instagram refreshes only tokens a day old).
CREATE TABLE oauth_states_used (
    nonce UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    used_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_used_at ON oauth_states_used (used_at);

ALTER TABLE connections ADD COLUMN token_issued_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX connections_expiring ON connections (token_expires_at) WHERE status = 'active' AND token_expires_at IS NOT NULL;

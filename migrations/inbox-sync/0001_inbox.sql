-- The inbox (seed 004): platform connections with encrypted tokens, the raw inbound payloads,
-- conversations, messages with delivery status, statuses that arrived before their message,
-- labels and notes. Users and organizations live in identity; ids here refer to them without
-- foreign keys. Every tenant table carries organization_id and every query filters by it.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

-- A platform account an organization connected. Secrets are AES-256-GCM ciphertexts of
-- platform::crypto (`v1:<key id>:…`), bound to the row id and the column name.
CREATE TABLE connections (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    platform TEXT NOT NULL CHECK (platform IN ('whatsapp', 'messenger', 'instagram', 'tiktok')),
    -- WhatsApp phone_number_id, Messenger page id, Instagram account id, TikTok business open id.
    account_id TEXT NOT NULL CHECK (account_id <> ''),
    -- WhatsApp business account id.
    business_account_id TEXT,
    username TEXT,
    display_name TEXT,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    token_expires_at TIMESTAMPTZ,
    refresh_expires_at TIMESTAMPTZ,
    -- The organization's own Meta app: its secret signs the webhooks of this connection.
    app_secret TEXT,
    verify_token TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'error', 'disconnected')),
    last_error TEXT,
    last_sync_at TIMESTAMPTZ,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    disconnected_at TIMESTAMPTZ
);
-- The seed's key: one connection per platform account per organization.
CREATE UNIQUE INDEX connections_org_account ON connections (organization_id, platform, account_id);
-- A platform account delivers to one organization: webhooks find their connection by it, so
-- two live connections of one account (in two organizations) would be ambiguous.
CREATE UNIQUE INDEX connections_live_account ON connections (platform, account_id) WHERE status <> 'disconnected';
CREATE INDEX connections_org ON connections (organization_id, created_at DESC, id DESC);
CREATE INDEX connections_refresh ON connections (token_expires_at) WHERE status = 'active' AND refresh_token IS NOT NULL;
CREATE TRIGGER connections_updated_at BEFORE UPDATE ON connections FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Every signed inbound body as received, byte for byte, for inspection and replay. Written in
-- the transaction that stores what it carried, before the platform gets its 200.
CREATE TABLE inbound_payloads (
    id UUID PRIMARY KEY,
    platform TEXT NOT NULL,
    connection_id UUID,
    body BYTEA NOT NULL,
    body_sha256 BYTEA NOT NULL,
    updates INT NOT NULL DEFAULT 0,
    skipped INT NOT NULL DEFAULT 0,
    error TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inbound_payloads_received ON inbound_payloads (received_at);

CREATE TABLE conversations (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    -- The customer's id on the platform (one conversation per contact and connection).
    external_id TEXT NOT NULL,
    contact_name TEXT,
    contact_username TEXT,
    contact_avatar_url TEXT,
    last_message_preview TEXT,
    last_message_at TIMESTAMPTZ,
    -- The customer's last message: WhatsApp's 24-hour window runs from it.
    last_inbound_at TIMESTAMPTZ,
    unread_count INT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'archived')),
    assignee_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Ordering of lists: last activity, newest first.
    activity_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, external_id)
);
CREATE INDEX conversations_org_activity ON conversations (organization_id, activity_at DESC, id DESC);
CREATE TRIGGER conversations_updated_at BEFORE UPDATE ON conversations FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE messages (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    connection_id UUID NOT NULL,
    -- The platform's id; NULL only while an outbound message is not sent yet.
    external_id TEXT,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    content_type TEXT NOT NULL CHECK (content_type IN ('text', 'image', 'video', 'audio', 'file', 'sticker', 'location', 'reaction', 'template')),
    content TEXT NOT NULL DEFAULT '',
    media JSONB,
    location JSONB,
    reply_to TEXT,
    reaction_to TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed')),
    -- pending 0 < sent 1 < delivered 2 < read 3 < failed 4: a report only raises it.
    status_rank SMALLINT NOT NULL,
    errors JSONB,
    sent_by_user_id UUID,
    -- The sender's idempotency id of an outbound message (ticketing's comment id).
    source_id TEXT,
    -- Sending: attempts so far, when the next may start, and until when a replica owns it.
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    lease_until TIMESTAMPTZ,
    -- A WhatsApp template sent instead of free text: {name, language, parameters}.
    template JSONB,
    platform_timestamp TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Exactly one row per platform message.
CREATE UNIQUE INDEX messages_external ON messages (connection_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX messages_source ON messages (organization_id, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, created_at DESC, id DESC);
CREATE INDEX messages_outbound_sent ON messages (conversation_id, platform_timestamp) WHERE direction = 'outbound';
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_to_send ON messages (next_attempt_at) WHERE status = 'pending' AND direction = 'outbound';
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A status report for a message not stored yet (it raced its own send, or the echo is late):
-- the highest is kept and applied when the message arrives.
CREATE TABLE early_statuses (
    connection_id UUID NOT NULL,
    external_id TEXT NOT NULL,
    status TEXT NOT NULL,
    status_rank SMALLINT NOT NULL,
    errors JSONB,
    reported_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, external_id)
);

CREATE TABLE labels (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL,
    color TEXT NOT NULL DEFAULT '#6366f1',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

CREATE TABLE conversation_labels (
    organization_id UUID NOT NULL,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id UUID NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label_id);

CREATE TABLE conversation_notes (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id UUID,
    content TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX conversation_notes_conversation ON conversation_notes (conversation_id, created_at);

-- Media of messages, fetched from the platform on first read and kept (platform media ids and
-- URLs expire). In PostgreSQL: every replica reads them, backups hold them, and retention of a
-- message removes its file with it.
CREATE TABLE message_media (
    message_id UUID PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    content_type TEXT NOT NULL,
    size INT NOT NULL,
    sha256 BYTEA NOT NULL,
    body BYTEA NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Mail to send over SMTP. The mail.send consumer records a row in its transaction (no network
-- I/O there); a sender claims due rows with a lease (FOR UPDATE SKIP LOCKED), talks to the SMTP
-- server holding no database connection, and deletes the row once the server accepted it.
CREATE TABLE outgoing_mail (
    -- The mail.send command's event id: a command is recorded once.
    id UUID PRIMARY KEY,
    organization_id UUID,
    -- The whole command (CloudEvent), parked as it came if it cannot be sent.
    command JSONB NOT NULL,
    -- When the one-time link inside stops working; the mail is pointless after it.
    expires_at TIMESTAMPTZ,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    leased_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at);

CREATE FUNCTION outgoing_mail_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outgoing_mail', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outgoing_mail_notify AFTER INSERT ON outgoing_mail FOR EACH STATEMENT
    EXECUTE FUNCTION outgoing_mail_notify();

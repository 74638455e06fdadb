-- A platform redelivers a body byte for byte: the raw body is written first and is unique, so a
-- redelivery (or a concurrent second delivery) stops at it instead of redoing every message.
DELETE FROM inbound_payloads a USING inbound_payloads b WHERE a.body_sha256 = b.body_sha256 AND a.id > b.id;
CREATE UNIQUE INDEX inbound_payloads_body ON inbound_payloads (body_sha256);

-- The sender claims the oldest pending reply of each conversation: found by this index.
CREATE INDEX messages_pending_heads ON messages (conversation_id, created_at, id)
    WHERE status = 'pending' AND direction = 'outbound';

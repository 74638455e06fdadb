-- TikTok replies go to a conversation id of TikTok's, not to the contact: kept from the
-- customer's messages.
ALTER TABLE conversations ADD COLUMN thread_id TEXT;

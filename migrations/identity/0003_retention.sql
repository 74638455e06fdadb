-- Indexes the retention job deletes by, so each batch finds its rows without a full scan.
CREATE INDEX login_throttle_window ON login_throttle (window_started_at);
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX password_resets_expiry ON password_resets (expires_at);
CREATE INDEX email_verifications_expiry ON email_verifications (expires_at);
CREATE INDEX invitations_expiry ON invitations (expires_at) WHERE status <> 'accepted';

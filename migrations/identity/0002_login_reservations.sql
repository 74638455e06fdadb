-- Sign-in attempts in flight per email: reserved before the password is checked, so a burst of
-- parallel guesses cannot all be verified before the failures are counted.
ALTER TABLE login_throttle ADD COLUMN pending INT NOT NULL DEFAULT 0;
ALTER TABLE login_throttle ADD COLUMN pending_since TIMESTAMPTZ;

-- How long each organization's messages are kept: its plan's `history_days`, as billing-metrics
-- last said (NULL: the plan keeps everything). Organizations billing has not answered for keep
-- the default (DEFAULT_HISTORY_DAYS, the free plan's 30).
CREATE TABLE history_windows (
    organization_id UUID PRIMARY KEY,
    history_days INT CHECK (history_days IS NULL OR history_days >= 1),
    plan TEXT NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

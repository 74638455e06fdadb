-- Routing and SLA bookkeeping.

-- The latest team-membership event applied per team and user (present or not), so that events
-- handled out of order (two replicas, parallel handlers) never undo a later one, and a GetTeam
-- answer fills only users no event has spoken of yet. `team_members` holds the present ones.
CREATE TABLE team_member_state (
    organization_id UUID NOT NULL,
    team_id UUID NOT NULL,
    user_id UUID NOT NULL,
    present BOOLEAN NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, team_id, user_id)
);

-- Business seconds the ticket spent paused (waiting, resolved, closed) so far: when the
-- priority or category changes, the new targets count from creation plus this.
ALTER TABLE tickets ADD COLUMN sla_paused_seconds BIGINT NOT NULL DEFAULT 0;

-- Analytics (seeds 001 and 004), kept current by the metering consumer from ticket.* and
-- inbox.* events, in the transaction that records each event as processed.

-- Per ticket, the times and facts the performance figures are made of. Each ticket event
-- carries the ticket's own clock (created, first response, resolved, closed, reopens), so the
-- newest snapshot wins whatever order events arrive in; replies, escalations and ratings add to
-- it. Figures per period are aggregated from these rows when read: exact averages and p90s for
-- any period from an hour to a year.
CREATE TABLE ticket_facts (
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL,
    created_at TIMESTAMPTZ,
    first_response_at TIMESTAMPTZ,
    -- Who gave the first public agent reply, and when its event says it happened.
    first_responder_id UUID,
    first_reply_at TIMESTAMPTZ,
    -- The latest resolution (ticketing clears it when the ticket reopens), or the close time
    -- of a ticket closed without being resolved.
    resolved_at TIMESTAMPTZ,
    -- The latest resolution was the system's (a rule, the assistant): automated when no agent
    -- had replied before it. NULL: no resolution seen.
    resolved_by_system BOOLEAN,
    status TEXT,
    assignee_id UUID,
    team_id UUID,
    agent_replies INT NOT NULL DEFAULT 0,
    reopen_count INT NOT NULL DEFAULT 0,
    escalated_at TIMESTAMPTZ,
    csat_rating SMALLINT CHECK (csat_rating BETWEEN 1 AND 5),
    csat_at TIMESTAMPTZ,
    -- The assignee the rating was given to.
    csat_assignee_id UUID,
    deleted BOOLEAN NOT NULL DEFAULT false,
    -- The time of the newest snapshot applied: an older one changes nothing.
    as_of TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (organization_id, ticket_id)
);
CREATE INDEX ticket_facts_created ON ticket_facts (organization_id, created_at) WHERE created_at IS NOT NULL;
CREATE INDEX ticket_facts_resolved ON ticket_facts (organization_id, resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX ticket_facts_first_response ON ticket_facts (organization_id, first_response_at) WHERE first_response_at IS NOT NULL;
CREATE INDEX ticket_facts_csat ON ticket_facts (organization_id, csat_at) WHERE csat_at IS NOT NULL;

-- Seed 004's daily_analytics, per organization and UTC day: the counters.
CREATE TABLE inbox_daily (
    organization_id UUID NOT NULL,
    day DATE NOT NULL,
    messages_received BIGINT NOT NULL DEFAULT 0,
    messages_sent BIGINT NOT NULL DEFAULT 0,
    conversations_new BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, day)
);

-- Each message's time and direction: response times (a customer's earliest unanswered
-- message → our next reply) are read from the order of these rows, so they do not depend on
-- the order the events were consumed in.
CREATE TABLE inbox_messages (
    organization_id UUID NOT NULL,
    message_id UUID NOT NULL,
    conversation_id UUID NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    inbound BOOLEAN NOT NULL,
    PRIMARY KEY (organization_id, message_id)
);
CREATE INDEX inbox_messages_time ON inbox_messages (organization_id, at);

-- The support desk: tickets with per-organization numbering, comments (public replies and
-- internal notes), field history, attachments, time entries, watchers, projects, customer and
-- agent profiles, SLA policies, escalations, decision rules, knowledge articles, suggested
-- answers and complexity scores. Users, teams and organizations live in identity; ids here refer
-- to them without foreign keys. Every table carries organization_id and every query filters by it.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

-- Ticketing's settings of an organization (the ticket number prefix).
CREATE TABLE desk_settings (
    organization_id UUID PRIMARY KEY,
    ticket_prefix TEXT NOT NULL DEFAULT 'TKT' CONSTRAINT desk_settings_prefix_check CHECK (ticket_prefix ~ '^[A-Z][A-Z0-9]{0,9}$'),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER desk_settings_updated_at BEFORE UPDATE ON desk_settings FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One row per organization and year, locked by the creating transaction: numbers never collide
-- and a rolled-back create gives its number back (the increment rolls back with it).
CREATE TABLE ticket_counters (
    organization_id UUID NOT NULL,
    year INT NOT NULL,
    last_number BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, year)
);

-- Team membership as identity announces it (team.member_added/removed), for routing.
CREATE TABLE team_members (
    organization_id UUID NOT NULL,
    team_id UUID NOT NULL,
    user_id UUID NOT NULL,
    PRIMARY KEY (organization_id, team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (organization_id, user_id);

CREATE TABLE projects (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    title TEXT NOT NULL,
    project_type TEXT NOT NULL DEFAULT 'support',
    status TEXT NOT NULL DEFAULT 'planning'
        CONSTRAINT projects_status_check CHECK (status IN ('planning', 'active', 'on_hold', 'completed', 'cancelled')),
    budget NUMERIC(14, 2),
    start_date DATE,
    end_date DATE,
    requirements TEXT,
    client_user_id UUID,
    client_customer_id UUID,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT projects_dates_check CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE INDEX projects_org ON projects (organization_id, created_at DESC, id DESC);
CREATE TRIGGER projects_updated_at BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A customer: an identity user, a contact from the inbox (platform + external id), or a requester
-- known by email.
CREATE TABLE customer_profiles (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    user_id UUID,
    contact_platform TEXT,
    contact_external_id TEXT,
    email TEXT,
    name TEXT,
    tier TEXT NOT NULL DEFAULT 'free'
        CONSTRAINT customer_profiles_tier_check CHECK (tier IN ('free', 'starter', 'pro', 'enterprise')),
    standing TEXT NOT NULL DEFAULT 'good'
        CONSTRAINT customer_profiles_standing_check CHECK (standing IN ('good', 'warning', 'suspended', 'closed')),
    lifetime_value NUMERIC(14, 2) NOT NULL DEFAULT 0,
    billing_cycle TEXT CONSTRAINT customer_profiles_cycle_check CHECK (billing_cycle IN ('monthly', 'quarterly', 'yearly')),
    token_balance BIGINT NOT NULL DEFAULT 0,
    token_limit BIGINT,
    active_sites INT NOT NULL DEFAULT 0,
    sites_limit INT,
    context JSONB NOT NULL DEFAULT '{}',
    preferences JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT customer_profiles_contact_check CHECK ((contact_platform IS NULL) = (contact_external_id IS NULL))
);
CREATE UNIQUE INDEX customer_profiles_user_key ON customer_profiles (organization_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX customer_profiles_contact_key ON customer_profiles (organization_id, contact_platform, contact_external_id)
    WHERE contact_platform IS NOT NULL;
CREATE UNIQUE INDEX customer_profiles_email_key ON customer_profiles (organization_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX customer_profiles_org ON customer_profiles (organization_id, created_at DESC, id DESC);
CREATE TRIGGER customer_profiles_updated_at BEFORE UPDATE ON customer_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Agents (the seeds' representatives): role, status, capacity; the load is derived from tickets.
CREATE TABLE agent_profiles (
    organization_id UUID NOT NULL,
    user_id UUID NOT NULL,
    role TEXT NOT NULL DEFAULT 'junior_support'
        CONSTRAINT agent_profiles_role_check CHECK (role IN ('junior_support', 'senior_support', 'team_lead', 'admin')),
    status TEXT NOT NULL DEFAULT 'offline'
        CONSTRAINT agent_profiles_status_check CHECK (status IN ('online', 'away', 'offline')),
    capacity INT NOT NULL DEFAULT 10 CONSTRAINT agent_profiles_capacity_check CHECK (capacity BETWEEN 0 AND 10000),
    rating NUMERIC(3, 2),
    ratings_count INT NOT NULL DEFAULT 0,
    last_assigned_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE TRIGGER agent_profiles_updated_at BEFORE UPDATE ON agent_profiles FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Targets per priority (optionally per category), in business hours when a schedule is given:
-- business_hours = {"timezone": "Europe/Paris", "schedule": {"mon": [["09:00", "17:00"]], ...}}.
CREATE TABLE sla_policies (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL,
    priority TEXT NOT NULL CONSTRAINT sla_policies_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category TEXT,
    first_response_minutes INT NOT NULL CONSTRAINT sla_policies_first_check CHECK (first_response_minutes > 0),
    resolution_minutes INT NOT NULL CONSTRAINT sla_policies_resolution_check CHECK (resolution_minutes > 0),
    business_hours JSONB,
    enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT sla_policies_target_key UNIQUE NULLS NOT DISTINCT (organization_id, priority, category)
);
CREATE TRIGGER sla_policies_updated_at BEFORE UPDATE ON sla_policies FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE tickets (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    number TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open'
        CONSTRAINT tickets_status_check CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'closed', 'merged')),
    priority TEXT NOT NULL DEFAULT 'normal'
        CONSTRAINT tickets_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    severity TEXT NOT NULL DEFAULT 'normal'
        CONSTRAINT tickets_severity_check CHECK (severity IN ('minor', 'normal', 'major', 'critical')),
    category TEXT NOT NULL DEFAULT 'general',
    tags TEXT[] NOT NULL DEFAULT '{}',
    project_id UUID REFERENCES projects (id) ON DELETE SET NULL,
    customer_id UUID REFERENCES customer_profiles (id) ON DELETE SET NULL,
    requester_user_id UUID,
    requester_email TEXT,
    requester_name TEXT,
    assignee_id UUID,
    team_id UUID,
    due_at TIMESTAMPTZ,
    estimated_hours NUMERIC(8, 2),
    actual_minutes BIGINT NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT 'web'
        CONSTRAINT tickets_source_check CHECK (source IN ('web', 'api', 'email', 'whatsapp', 'messenger', 'instagram', 'tiktok')),
    conversation_id UUID,
    sentiment REAL CONSTRAINT tickets_sentiment_check CHECK (sentiment BETWEEN -1 AND 1),
    csat_rating SMALLINT CONSTRAINT tickets_csat_check CHECK (csat_rating BETWEEN 1 AND 5),
    csat_comment TEXT,
    csat_at TIMESTAMPTZ,
    first_response_at TIMESTAMPTZ,
    last_replied_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    reopen_count INT NOT NULL DEFAULT 0,
    merged_into_id UUID REFERENCES tickets (id),
    -- The closed ticket a reply to which opened this one.
    follow_up_of_id UUID REFERENCES tickets (id),
    -- SLA: the policy applied and its due times; paused while waiting (the pause start is kept
    -- and the due times move by the paused time when the ticket resumes).
    sla_policy_id UUID REFERENCES sla_policies (id) ON DELETE SET NULL,
    first_response_due_at TIMESTAMPTZ,
    resolution_due_at TIMESTAMPTZ,
    sla_paused_at TIMESTAMPTZ,
    first_response_breached_at TIMESTAMPTZ,
    resolution_breached_at TIMESTAMPTZ,
    -- Waiting in its team's queue for an agent with free capacity (round-robin).
    queued_at TIMESTAMPTZ,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Full text: subject (A), description (B) and public comments (C); `search_all` adds notes.
    search_public TSVECTOR NOT NULL DEFAULT ''::tsvector,
    search_all TSVECTOR NOT NULL DEFAULT ''::tsvector,
    CONSTRAINT tickets_number_key UNIQUE (organization_id, number),
    CONSTRAINT tickets_estimated_check CHECK (estimated_hours IS NULL OR estimated_hours >= 0)
);
CREATE INDEX tickets_org_created ON tickets (organization_id, created_at DESC, id DESC);
CREATE INDEX tickets_org_status ON tickets (organization_id, status, created_at DESC, id DESC);
CREATE INDEX tickets_org_assignee ON tickets (organization_id, assignee_id, status) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_org_team_due ON tickets (organization_id, team_id, resolution_due_at, id)
    WHERE status IN ('open', 'in_progress', 'waiting');
CREATE INDEX tickets_org_customer ON tickets (organization_id, customer_id, created_at DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX tickets_org_requester ON tickets (organization_id, requester_user_id, created_at DESC) WHERE requester_user_id IS NOT NULL;
CREATE INDEX tickets_conversation ON tickets (organization_id, conversation_id, created_at DESC) WHERE conversation_id IS NOT NULL;
CREATE INDEX tickets_queue ON tickets (organization_id, team_id, queued_at, id) WHERE queued_at IS NOT NULL;
CREATE INDEX tickets_sla_first ON tickets (first_response_due_at)
    WHERE first_response_breached_at IS NULL AND first_response_at IS NULL AND sla_paused_at IS NULL
      AND status IN ('open', 'in_progress');
CREATE INDEX tickets_sla_resolution ON tickets (resolution_due_at)
    WHERE resolution_breached_at IS NULL AND sla_paused_at IS NULL AND status IN ('open', 'in_progress');
CREATE INDEX tickets_tags ON tickets USING gin (tags);
CREATE INDEX tickets_search_public ON tickets USING gin (search_public) WITH (fastupdate = off);
CREATE INDEX tickets_search_all ON tickets USING gin (search_all) WITH (fastupdate = off);
CREATE TRIGGER tickets_updated_at BEFORE UPDATE ON tickets FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE ticket_comments (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_kind TEXT NOT NULL CONSTRAINT ticket_comments_kind_check CHECK (author_kind IN ('customer', 'agent', 'system')),
    author_id UUID,
    customer_id UUID,
    body TEXT NOT NULL,
    is_internal BOOLEAN NOT NULL DEFAULT false,
    source TEXT NOT NULL DEFAULT 'web',
    -- The inbox message this comment is (exactly once per message), or the outbound reply's state.
    inbox_message_id UUID,
    delivery_status TEXT CONSTRAINT ticket_comments_delivery_check
        CHECK (delivery_status IN ('pending', 'sent', 'delivered', 'read', 'failed')),
    delivery_error TEXT,
    -- Set when a merge moved this comment here.
    merged_from_ticket_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT ticket_comments_internal_check CHECK (NOT (is_internal AND author_kind = 'customer'))
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at, id);
CREATE UNIQUE INDEX ticket_comments_inbox_key ON ticket_comments (organization_id, inbox_message_id) WHERE inbox_message_id IS NOT NULL;
CREATE TRIGGER ticket_comments_updated_at BEFORE UPDATE ON ticket_comments FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Field-level history: who changed what from what to what.
CREATE TABLE ticket_history (
    id BIGSERIAL PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    actor_id UUID,
    actor_kind TEXT NOT NULL DEFAULT 'agent',
    field TEXT NOT NULL,
    before JSONB,
    after JSONB,
    kind TEXT NOT NULL CONSTRAINT ticket_history_kind_check
        CHECK (kind IN ('created', 'updated', 'status', 'assigned', 'merged', 'commented', 'rule', 'sla', 'csat', 'time')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);

CREATE TABLE ticket_attachments (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    comment_id UUID REFERENCES ticket_comments (id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    uploaded_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id, created_at);

CREATE TABLE time_entries (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    minutes INT NOT NULL CONSTRAINT time_entries_minutes_check CHECK (minutes BETWEEN 1 AND 10080),
    note TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX time_entries_ticket ON time_entries (ticket_id, created_at);

CREATE TABLE ticket_watchers (
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, user_id)
);

CREATE TABLE escalations (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID REFERENCES tickets (id) ON DELETE CASCADE,
    conversation_id UUID,
    customer_id UUID REFERENCES customer_profiles (id) ON DELETE SET NULL,
    reason TEXT NOT NULL CONSTRAINT escalations_reason_check CHECK (reason IN
        ('ai_unable_to_resolve', 'customer_request', 'sla_breach', 'high_complexity', 'negative_sentiment', 'rule', 'other')),
    priority TEXT NOT NULL DEFAULT 'normal'
        CONSTRAINT escalations_priority_check CHECK (priority IN ('low', 'normal', 'high', 'urgent', 'critical')),
    status TEXT NOT NULL DEFAULT 'pending'
        CONSTRAINT escalations_status_check CHECK (status IN ('pending', 'assigned', 'in_progress', 'resolved')),
    origin TEXT NOT NULL DEFAULT 'manual' CONSTRAINT escalations_origin_check CHECK (origin IN ('manual', 'rule', 'sla_breach')),
    assignee_id UUID,
    summary TEXT,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    assigned_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX escalations_org ON escalations (organization_id, status, created_at DESC, id DESC);
CREATE INDEX escalations_ticket ON escalations (ticket_id);
CREATE TRIGGER escalations_updated_at BEFORE UPDATE ON escalations FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Decision rules: ordered by priority (lower first), conditions [{field, operator, value}] joined
-- by all/any, actions [{type, ...}], evaluated on the listed triggers.
CREATE TABLE decision_rules (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL,
    priority INT NOT NULL DEFAULT 100,
    enabled BOOLEAN NOT NULL DEFAULT true,
    match TEXT NOT NULL DEFAULT 'all' CONSTRAINT decision_rules_match_check CHECK (match IN ('all', 'any')),
    triggers TEXT[] NOT NULL DEFAULT '{created}',
    conditions JSONB NOT NULL DEFAULT '[]',
    actions JSONB NOT NULL DEFAULT '[]',
    last_triggered_at TIMESTAMPTZ,
    trigger_count BIGINT NOT NULL DEFAULT 0,
    created_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX decision_rules_org ON decision_rules (organization_id, priority, id) WHERE enabled;
CREATE TRIGGER decision_rules_updated_at BEFORE UPDATE ON decision_rules FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE knowledge_articles (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    category TEXT,
    tags TEXT[] NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'draft'
        CONSTRAINT knowledge_articles_status_check CHECK (status IN ('draft', 'published', 'archived')),
    source TEXT NOT NULL DEFAULT 'manual' CONSTRAINT knowledge_articles_source_check CHECK (source IN ('manual', 'ticket')),
    source_ticket_id UUID REFERENCES tickets (id) ON DELETE SET NULL,
    view_count BIGINT NOT NULL DEFAULT 0,
    helpful_votes INT NOT NULL DEFAULT 0,
    unhelpful_votes INT NOT NULL DEFAULT 0,
    created_by UUID,
    published_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    search TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')
    ) STORED
);
CREATE INDEX knowledge_articles_org ON knowledge_articles (organization_id, status, updated_at DESC, id DESC);
CREATE INDEX knowledge_articles_search ON knowledge_articles USING gin (search) WITH (fastupdate = off);
CREATE TRIGGER knowledge_articles_updated_at BEFORE UPDATE ON knowledge_articles FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One helpful/unhelpful vote per voter and article.
CREATE TABLE article_votes (
    article_id UUID NOT NULL REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    helpful BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, voter)
);

-- Suggested answers (the seed's auto-responses): an article with its confidence, or a drafted reply.
CREATE TABLE suggested_answers (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    article_id UUID REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CONSTRAINT suggested_answers_kind_check CHECK (kind IN ('article', 'draft')),
    response_text TEXT NOT NULL,
    confidence NUMERIC(3, 2) NOT NULL CONSTRAINT suggested_answers_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    model_used TEXT,
    prompt_tokens INT,
    completion_tokens INT,
    was_helpful BOOLEAN,
    feedback_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX suggested_answers_ticket ON suggested_answers (ticket_id, created_at DESC);

CREATE TABLE complexity_scores (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    ticket_id UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    score INT NOT NULL CONSTRAINT complexity_scores_score_check CHECK (score BETWEEN 0 AND 100),
    factors JSONB NOT NULL,
    escalation_recommended BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX complexity_scores_ticket ON complexity_scores (ticket_id, created_at DESC);

-- Feedback boards: categories, posts, votes, threaded comments, attachments, subscriptions.
-- Users and organizations live in identity; ids here refer to them without foreign keys.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

-- What feedback knows of each organization, learnt from identity's events, plus its board settings.
CREATE TABLE boards (
    organization_id UUID PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    public_enabled BOOLEAN NOT NULL DEFAULT true,
    allow_anonymous_posts BOOLEAN NOT NULL DEFAULT false,
    allow_anonymous_votes BOOLEAN NOT NULL DEFAULT false,
    auto_subscribe_voters BOOLEAN NOT NULL DEFAULT false,
    auto_subscribe_commenters BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT boards_slug_key UNIQUE (slug)
);
CREATE TRIGGER boards_updated_at BEFORE UPDATE ON boards FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE categories (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    color TEXT NOT NULL DEFAULT '#6366f1',
    icon TEXT,
    is_active BOOLEAN NOT NULL DEFAULT true,
    sort_order INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT categories_org_name_key UNIQUE (organization_id, name)
);
CREATE INDEX categories_org_order ON categories (organization_id, sort_order, name);
CREATE TRIGGER categories_updated_at BEFORE UPDATE ON categories FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Trending: ln(sum of weight * e^(t / tau)) over a post's activity, kept in log space. The
-- decayed score at any instant is e^(trending - now / tau), so ordering by this column is
-- ordering by the decayed score, and an index serves it. tau = 3 days / ln 2 (3-day half-life).
CREATE FUNCTION trending_tau() RETURNS double precision LANGUAGE sql IMMUTABLE AS
$$ SELECT 259200.0 / ln(2.0) $$;

CREATE FUNCTION trending_term(at TIMESTAMPTZ, weight double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS
$$ SELECT ln(weight) + (extract(epoch FROM at) - 1735689600.0) / trending_tau() $$;

CREATE FUNCTION log_add_exp(a double precision, b double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE AS
$$ SELECT greatest(a, b) + ln(1.0 + exp(-abs(a - b))) $$;

CREATE TABLE feedback (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN
        ('open', 'under_review', 'planned', 'in_progress', 'completed', 'rejected', 'duplicate')),
    status_note TEXT,
    priority TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    category_id UUID REFERENCES categories (id) ON DELETE SET NULL,
    author_id UUID,
    author_name TEXT,
    anonymous BOOLEAN NOT NULL DEFAULT false,
    assignee_id UUID,
    vote_count INT NOT NULL DEFAULT 0,
    upvotes INT NOT NULL DEFAULT 0,
    downvotes INT NOT NULL DEFAULT 0,
    comment_count INT NOT NULL DEFAULT 0,
    view_count BIGINT NOT NULL DEFAULT 0,
    is_public BOOLEAN NOT NULL DEFAULT true,
    is_pinned BOOLEAN NOT NULL DEFAULT false,
    tags TEXT[] NOT NULL DEFAULT '{}',
    metadata JSONB NOT NULL DEFAULT '{}',
    merged_into_id UUID REFERENCES feedback (id) ON DELETE SET NULL,
    trending DOUBLE PRECISION NOT NULL DEFAULT 0,
    search TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(description, '')), 'B')
    ) STORED,
    deleted_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feedback_new ON feedback (organization_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX feedback_top ON feedback (organization_id, vote_count DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX feedback_trending ON feedback (organization_id, trending DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX feedback_discussed ON feedback (organization_id, comment_count DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX feedback_search ON feedback USING GIN (search);
CREATE INDEX feedback_tags ON feedback USING GIN (tags);
CREATE TRIGGER feedback_updated_at BEFORE UPDATE ON feedback FOR EACH ROW
    WHEN (OLD.vote_count IS NOT DISTINCT FROM NEW.vote_count
          AND OLD.comment_count IS NOT DISTINCT FROM NEW.comment_count
          AND OLD.view_count IS NOT DISTINCT FROM NEW.view_count)
    EXECUTE FUNCTION set_updated_at();

CREATE FUNCTION feedback_initial_trending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.trending = trending_term(NEW.created_at, 0.5);
    RETURN NEW;
END $$;
CREATE TRIGGER feedback_trending_init BEFORE INSERT ON feedback FOR EACH ROW EXECUTE FUNCTION feedback_initial_trending();

-- A vote is a user's or an anonymous visitor's (a keyed hash of address and user agent).
CREATE TABLE votes (
    id UUID PRIMARY KEY,
    feedback_id UUID NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    user_id UUID,
    voter_key BYTEA,
    type TEXT NOT NULL CHECK (type IN ('up', 'down')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT votes_one_voter CHECK ((user_id IS NULL) <> (voter_key IS NULL)),
    CONSTRAINT votes_user_key UNIQUE (feedback_id, user_id),
    CONSTRAINT votes_anonymous_key UNIQUE (feedback_id, voter_key)
);
CREATE INDEX votes_user ON votes (user_id);

-- Counts kept by the database, as the source schema does; exact under concurrency because each
-- change is an increment under the post's row lock.
CREATE FUNCTION votes_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    up_delta INT := 0;
    down_delta INT := 0;
    target UUID;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        target := OLD.feedback_id;
        IF OLD.type = 'up' THEN up_delta := up_delta - 1; ELSE down_delta := down_delta - 1; END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        target := NEW.feedback_id;
        IF NEW.type = 'up' THEN up_delta := up_delta + 1; ELSE down_delta := down_delta + 1; END IF;
    END IF;
    UPDATE feedback SET
        upvotes = upvotes + up_delta,
        downvotes = downvotes + down_delta,
        vote_count = vote_count + up_delta - down_delta,
        trending = CASE WHEN TG_OP = 'DELETE' THEN trending
                        ELSE log_add_exp(trending, trending_term(now(), CASE WHEN NEW.type = 'up' THEN 1.0 ELSE 0.5 END))
                   END
    WHERE id = target;
    RETURN NULL;
END $$;
CREATE TRIGGER votes_count AFTER INSERT OR UPDATE OF type OR DELETE ON votes FOR EACH ROW EXECUTE FUNCTION votes_count();

CREATE TABLE comments (
    id UUID PRIMARY KEY,
    feedback_id UUID NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    parent_id UUID REFERENCES comments (id) ON DELETE CASCADE,
    author_id UUID,
    author_role TEXT,
    content TEXT NOT NULL,
    is_internal BOOLEAN NOT NULL DEFAULT false,
    is_official BOOLEAN NOT NULL DEFAULT false,
    is_edited BOOLEAN NOT NULL DEFAULT false,
    edited_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX comments_feedback ON comments (feedback_id, created_at, id);
CREATE TRIGGER comments_updated_at BEFORE UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- comment_count counts what the public sees: internal notes are not counted.
CREATE FUNCTION comments_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NOT NEW.is_internal THEN
        UPDATE feedback SET comment_count = comment_count + 1,
            trending = log_add_exp(trending, trending_term(now(), 2.0))
        WHERE id = NEW.feedback_id;
    ELSIF TG_OP = 'DELETE' AND NOT OLD.is_internal THEN
        UPDATE feedback SET comment_count = comment_count - 1 WHERE id = OLD.feedback_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_count AFTER INSERT OR DELETE ON comments FOR EACH ROW EXECUTE FUNCTION comments_count();

CREATE TABLE attachments (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    feedback_id UUID NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    comment_id UUID REFERENCES comments (id) ON DELETE CASCADE,
    stored_name TEXT NOT NULL,
    original_filename TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attachments_feedback ON attachments (feedback_id);

CREATE TABLE subscriptions (
    feedback_id UUID NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
    user_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (feedback_id, user_id)
);

-- Fixed-window counters for the public portal's rate limits, shared by every replica.
CREATE TABLE rate_limits (
    key TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits INT NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);

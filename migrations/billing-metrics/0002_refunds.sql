-- Refunds and budgets (seed 001): budgets with a period, a limit and what was spent, refunds
-- requested, approved within a budget (the budget row locked: two approvals never overspend),
-- rejected or completed, and a usage record per approval.

CREATE TABLE budgets (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    name TEXT NOT NULL CHECK (name <> ''),
    budget_type TEXT NOT NULL CHECK (budget_type IN ('refund', 'compensation', 'discount', 'credit')),
    period TEXT NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly', 'quarterly', 'yearly')),
    currency TEXT NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    limit_cents BIGINT NOT NULL CHECK (limit_cents > 0),
    spent_cents BIGINT NOT NULL DEFAULT 0 CHECK (spent_cents >= 0),
    -- The current period's start: spending is of this period; the next approval after it ends
    -- starts the next one.
    period_start TIMESTAMPTZ NOT NULL,
    -- Percentages of the limit that alert (billing.budget.threshold_reached), once per period each.
    alert_thresholds INT[] NOT NULL DEFAULT '{80,100}',
    -- The most one customer may be refunded from it per period.
    refund_limit_per_customer_cents BIGINT CHECK (refund_limit_per_customer_cents > 0),
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT budgets_within_limit CHECK (spent_cents <= limit_cents)
);
CREATE INDEX budgets_org ON budgets (organization_id, budget_type, created_at DESC);
CREATE TRIGGER budgets_updated_at BEFORE UPDATE ON budgets FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE refunds (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    budget_id UUID REFERENCES budgets (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    currency TEXT NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    reason TEXT NOT NULL CHECK (reason IN ('ai_bug', 'service_downtime', 'ux_issue', 'billing_error',
        'duplicate_charge', 'product_defect', 'late_delivery', 'other')),
    note TEXT,
    ticket_id UUID,
    order_reference TEXT,
    -- The customer refunded (a ticketing customer profile, or the organization's own reference).
    customer_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'completed')),
    requested_by UUID,
    decided_by UUID,
    decided_at TIMESTAMPTZ,
    decision_note TEXT,
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_org ON refunds (organization_id, created_at DESC, id DESC);
CREATE INDEX refunds_status ON refunds (organization_id, status, created_at DESC);
CREATE INDEX refunds_customer ON refunds (organization_id, customer_id) WHERE customer_id IS NOT NULL;
CREATE TRIGGER refunds_updated_at BEFORE UPDATE ON refunds FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- One per approval: what was taken from which budget in which period.
CREATE TABLE budget_usage_records (
    id UUID PRIMARY KEY,
    organization_id UUID NOT NULL,
    budget_id UUID NOT NULL REFERENCES budgets (id),
    refund_id UUID NOT NULL UNIQUE REFERENCES refunds (id),
    customer_id TEXT,
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    period_start TIMESTAMPTZ NOT NULL,
    approved_by UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX budget_usage_customer ON budget_usage_records (budget_id, period_start, customer_id);

CREATE TABLE budget_alerts (
    budget_id UUID NOT NULL REFERENCES budgets (id),
    period_start TIMESTAMPTZ NOT NULL,
    percent INT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (budget_id, period_start, percent)
);

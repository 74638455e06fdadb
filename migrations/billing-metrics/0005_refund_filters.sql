-- Refund lists filter by ticket and by order reference (the customer has its index already).
CREATE INDEX refunds_ticket ON refunds (organization_id, ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX refunds_order ON refunds (organization_id, order_reference) WHERE order_reference IS NOT NULL;

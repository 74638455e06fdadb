-- The retention job deletes by age across every organization; the per-organization indexes
-- cannot serve `created_at < cutoff` alone, so each pass scanned the whole table. Rows arrive
-- roughly in time order, so a BRIN index finds the old block ranges at almost no write cost
-- (metering inserts an activity row for every event).
CREATE INDEX activity_logs_age ON activity_logs USING brin (created_at);
CREATE INDEX inbox_messages_age ON inbox_messages USING brin (at);

-- The retention job deletes by age across every organization; the per-organization indexes
-- cannot serve `created_at < cutoff` alone, so each pass scanned the whole table. A B-tree on
-- the time alone (not BRIN: its block ranges only widen, and once purged pages are refilled by
-- new rows every range would match the cutoff again).
CREATE INDEX activity_logs_age ON activity_logs (created_at);
CREATE INDEX inbox_messages_age ON inbox_messages (at);

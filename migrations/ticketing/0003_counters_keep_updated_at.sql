-- A rule's trigger count, an article's views and votes are counters, not edits: counting them
-- must not move `updated_at` (which lists sort by and clients read as "last edited").
DROP TRIGGER decision_rules_updated_at ON decision_rules;
CREATE TRIGGER decision_rules_updated_at BEFORE UPDATE ON decision_rules FOR EACH ROW
    WHEN ((OLD.name, OLD.priority, OLD.enabled, OLD.match, OLD.triggers, OLD.conditions, OLD.actions)
          IS DISTINCT FROM (NEW.name, NEW.priority, NEW.enabled, NEW.match, NEW.triggers, NEW.conditions, NEW.actions))
    EXECUTE FUNCTION set_updated_at();

DROP TRIGGER knowledge_articles_updated_at ON knowledge_articles;
CREATE TRIGGER knowledge_articles_updated_at BEFORE UPDATE ON knowledge_articles FOR EACH ROW
    WHEN ((OLD.title, OLD.content, OLD.category, OLD.tags, OLD.status, OLD.source, OLD.source_ticket_id)
          IS DISTINCT FROM (NEW.title, NEW.content, NEW.category, NEW.tags, NEW.status, NEW.source, NEW.source_ticket_id))
    EXECUTE FUNCTION set_updated_at();

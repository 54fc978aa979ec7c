-- The resolving thread skips the exact and alias lookups of a name that no entity or
-- alias has, by 64-bit hashes of every entity's (type, norm_name) and every alias's norm
-- kept in memory (registry/entity_registry.cpp, Impl::entity_names). That is exact only
-- if every row those hashes stand for is seen. New rows are picked up by rid and
-- alias_id; anything else bumps the counter of 0101, and the hashes are rebuilt with the
-- trigram index: a rewritten type or norm_name, an alias deleted or rewritten. An alias
-- inserted below the largest alias_id (an unmerge undone restores its alias under its
-- old id) is caught by counting aliases, not by a trigger: a trigger on INSERT gives every
-- alias insert a statement journal, and with it an FTS5 savepoint that flushes the
-- transaction's pending entity_fts terms (10% of the resolving thread in the bench).
DROP TRIGGER entities_update_bumps_index_epoch;
CREATE TRIGGER entities_update_bumps_index_epoch
AFTER UPDATE OF rid, type, norm_name, core_name ON entities
BEGIN
  UPDATE entity_index_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER entity_aliases_delete_bumps_index_epoch AFTER DELETE ON entity_aliases
BEGIN
  UPDATE entity_index_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER entity_aliases_update_bumps_index_epoch
AFTER UPDATE OF alias_id, norm ON entity_aliases
BEGIN
  UPDATE entity_index_epoch SET n = n + 1 WHERE id = 1;
END;

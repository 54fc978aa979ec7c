-- The fuzzy step keeps an in-memory trigram index of entities.core_name
-- (registry/internal/trigram_index.h). New rows are picked up by rid (creation order);
-- anything that removes or rewrites a row, in any process and through any code path,
-- bumps this counter, and an index that sees a new value rebuilds itself.
CREATE TABLE entity_index_epoch (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  n  INTEGER NOT NULL
);
INSERT INTO entity_index_epoch(id, n) VALUES (1, 0);

CREATE TRIGGER entities_delete_bumps_index_epoch AFTER DELETE ON entities
BEGIN
  UPDATE entity_index_epoch SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER entities_update_bumps_index_epoch AFTER UPDATE OF rid, core_name ON entities
BEGIN
  UPDATE entity_index_epoch SET n = n + 1 WHERE id = 1;
END;

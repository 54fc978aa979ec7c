-- The run coordinator's ledger (tools/coordinator.cpp).

-- Every input of a run's drop and what became of it: a document, a skipped part
-- (binary attachment), or a failed file with its reason.
CREATE TABLE run_inputs (
  run_id       TEXT NOT NULL REFERENCES runs(run_id),
  source       TEXT NOT NULL,
  part         INTEGER NOT NULL,             -- 0 for a file that failed as a whole
  outcome      TEXT NOT NULL CHECK (outcome IN ('document', 'skipped', 'failed')),
  doc_id       TEXT,
  reason_code  TEXT,
  message      TEXT,
  PRIMARY KEY (run_id, source, part)
);

-- How each verified entity of a request resolved in the registry. The row with local_id
-- '@filer' (request_id = the doc_id) is the document's filer identity from its metadata.
CREATE TABLE run_entities (
  run_id      TEXT NOT NULL REFERENCES runs(run_id),
  request_id  TEXT NOT NULL,
  local_id    TEXT NOT NULL,
  doc_id      TEXT NOT NULL REFERENCES documents(doc_id),
  entity_id   TEXT NOT NULL,
  method      TEXT NOT NULL,
  score       REAL NOT NULL,
  PRIMARY KEY (run_id, request_id, local_id)
);
CREATE INDEX run_entities_doc ON run_entities(run_id, doc_id);

-- What a run's staging committed to Neo4j: one row per relationship (fact).
CREATE TABLE staged_facts (
  run_id            TEXT NOT NULL REFERENCES runs(run_id),
  doc_id            TEXT NOT NULL REFERENCES documents(doc_id),
  fact_id           TEXT NOT NULL,
  rel_type          TEXT NOT NULL,
  source_entity_id  TEXT NOT NULL,
  target_entity_id  TEXT NOT NULL,
  evidence          TEXT NOT NULL,
  char_start        INTEGER NOT NULL,
  char_end          INTEGER NOT NULL,
  staged_at         TEXT NOT NULL,
  PRIMARY KEY (run_id, fact_id)
);
CREATE INDEX staged_facts_doc ON staged_facts(doc_id);

ALTER TABLE run_documents ADD COLUMN staged_at TEXT;

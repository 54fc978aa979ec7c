-- The verify stage's ledger: every fact a model produced ends in exactly one of
-- verified_facts or dropped_facts (or the whole output in dropped_facts as
-- 'schema_invalid'), keyed by run, request and the fact's position in the output.
-- Written by verify::record_verdict, which replaces a row's facts in one transaction.
CREATE TABLE verified_facts (
  run_id       TEXT NOT NULL REFERENCES runs(run_id),
  request_id   TEXT NOT NULL,              -- the extraction request (one document/chunk)
  doc_id       TEXT NOT NULL REFERENCES documents(doc_id),
  kind         TEXT NOT NULL CHECK (kind IN ('entity', 'relation')),
  fact_index   INTEGER NOT NULL,           -- position in the output's entities/relations
  local_id     TEXT NOT NULL DEFAULT '',   -- entity id in the output ('' for relations)
  type         TEXT NOT NULL,              -- from the schema's enumeration
  fact_json    TEXT NOT NULL,              -- the verified fact (names, ids, ends, fields)
  evidence     TEXT NOT NULL,              -- the quote as the model wrote it
  char_start   INTEGER NOT NULL,           -- code-point offsets into documents.text
  char_end     INTEGER NOT NULL,
  verified_at  TEXT NOT NULL,
  PRIMARY KEY (run_id, request_id, kind, fact_index)
);
CREATE INDEX verified_facts_doc ON verified_facts(doc_id);

CREATE TABLE dropped_facts (
  run_id       TEXT NOT NULL REFERENCES runs(run_id),
  request_id   TEXT NOT NULL,
  doc_id       TEXT NOT NULL REFERENCES documents(doc_id),
  kind         TEXT NOT NULL CHECK (kind IN ('output', 'entity', 'relation')),
  fact_index   INTEGER NOT NULL,           -- -1 for the whole output
  local_id     TEXT NOT NULL DEFAULT '',
  reason       TEXT NOT NULL CHECK (reason IN (
                 'schema_invalid', 'unknown_entity_ref', 'disallowed_type', 'self_relation',
                 'evidence_missing', 'evidence_too_short', 'evidence_not_found',
                 'name_not_in_evidence', 'cross_document_leak')),
  detail       TEXT NOT NULL DEFAULT '',   -- readable cause (JSON pointer for schema_invalid)
  raw_json     TEXT NOT NULL,              -- the fact (or whole output) exactly as produced
  dropped_at   TEXT NOT NULL,
  PRIMARY KEY (run_id, request_id, kind, fact_index)
);
CREATE INDEX dropped_facts_doc ON dropped_facts(doc_id);
CREATE INDEX dropped_facts_reason ON dropped_facts(run_id, reason);

-- Alarms: evidence found in another document of the run but not in its own.
CREATE TABLE evidence_leaks (
  run_id       TEXT NOT NULL REFERENCES runs(run_id),
  request_id   TEXT NOT NULL,
  batch_id     TEXT NOT NULL DEFAULT '',   -- provider batch, '' for sync lanes
  kind         TEXT NOT NULL CHECK (kind IN ('entity', 'relation')),
  fact_index   INTEGER NOT NULL,
  own_doc_id   TEXT NOT NULL REFERENCES documents(doc_id),
  other_doc_id TEXT NOT NULL REFERENCES documents(doc_id),
  quote        TEXT NOT NULL,
  detected_at  TEXT NOT NULL,
  PRIMARY KEY (run_id, request_id, kind, fact_index)
);
CREATE INDEX evidence_leaks_batch ON evidence_leaks(run_id, batch_id);

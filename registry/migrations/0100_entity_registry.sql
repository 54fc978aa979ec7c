-- The entity registry: entities, aliases, mentions, merges, and the journal of every
-- change (registry/entity_registry.cpp). No foreign keys: rows are removed by
-- rollback in reverse order, and mentions may name documents that another process
-- stores in a later transaction.
CREATE TABLE entities (
  rid                   INTEGER PRIMARY KEY,   -- creation order; also the FTS rowid
  entity_id             TEXT NOT NULL UNIQUE,  -- 'ent_' || 16 hex of sha256(type, key)
  type                  TEXT NOT NULL,
  name                  TEXT NOT NULL,         -- canonical name, verbatim
  norm_name             TEXT NOT NULL,         -- normalize_name(name)
  core_name             TEXT NOT NULL,         -- norm_name without legal forms
  legal_form            TEXT NOT NULL DEFAULT '',
  cik                   TEXT,                  -- 10 digits
  ticker                TEXT,
  lei                   TEXT,
  jurisdiction          TEXT,
  authoritative         INTEGER NOT NULL DEFAULT 0,
  possible_duplicate_of TEXT,
  merged_into           TEXT,                  -- survivor when merged away
  created_run           TEXT,
  created_doc           TEXT
);
CREATE INDEX entities_type_norm ON entities(type, norm_name);
CREATE INDEX entities_cik ON entities(cik) WHERE cik IS NOT NULL;
CREATE INDEX entities_lei ON entities(lei) WHERE lei IS NOT NULL;
CREATE INDEX entities_ticker ON entities(ticker) WHERE ticker IS NOT NULL;

CREATE TABLE entity_aliases (
  alias_id  INTEGER PRIMARY KEY,
  entity_id TEXT NOT NULL,
  raw       TEXT NOT NULL,                     -- verbatim, as seen
  norm      TEXT NOT NULL,                     -- normalize_name(raw)
  method    TEXT NOT NULL,                     -- resolution method that taught it, or 'merge'
  doc_id    TEXT,
  run_id    TEXT,
  UNIQUE (entity_id, raw)
);
CREATE INDEX entity_aliases_norm ON entity_aliases(norm);

-- Which documents mention an entity, per run. Removed by rollback_run through run_id.
CREATE TABLE entity_mentions (
  entity_id TEXT NOT NULL,
  doc_id    TEXT NOT NULL,
  run_id    TEXT NOT NULL,
  PRIMARY KEY (entity_id, doc_id, run_id)
) WITHOUT ROWID;
CREATE INDEX entity_mentions_run ON entity_mentions(run_id);

CREATE TABLE entity_merges (
  merge_seq   INTEGER PRIMARY KEY,
  merge_id    TEXT NOT NULL UNIQUE,            -- 'mrg_' || merge_seq
  survivor_id TEXT NOT NULL,
  merged_id   TEXT NOT NULL,
  alias_id    INTEGER,                         -- the alias the merge added to the survivor
  run_id      TEXT,
  state       TEXT NOT NULL DEFAULT 'active',  -- active | undone
  merged_at   TEXT NOT NULL,
  unmerged_at TEXT
);
CREATE INDEX entity_merges_survivor ON entity_merges(survivor_id);
CREATE INDEX entity_merges_merged ON entity_merges(merged_id);

-- Every change, in the transaction that makes it. before/after are JSON images.
CREATE TABLE registry_journal (
  seq         INTEGER PRIMARY KEY,
  run_id      TEXT,                            -- NULL for manual merges
  op          TEXT NOT NULL,                   -- insert | update | alias | merge | unmerge
  entity_id   TEXT NOT NULL,
  target      TEXT,                            -- merge partner or possible_duplicate_of
  ref         INTEGER,                         -- alias_id, merge_seq or entity rid
  before_json TEXT NOT NULL DEFAULT '{}',
  after_json  TEXT NOT NULL DEFAULT '{}',
  at          TEXT NOT NULL,
  undone      INTEGER NOT NULL DEFAULT 0       -- 1 once rollback_run undid it
);
CREATE INDEX registry_journal_run ON registry_journal(run_id, seq);
CREATE INDEX registry_journal_entity ON registry_journal(entity_id, seq);
CREATE INDEX registry_journal_target ON registry_journal(target, seq) WHERE target IS NOT NULL;

-- One row per rollback_run call that undid something.
CREATE TABLE registry_rollbacks (
  run_id        TEXT NOT NULL,
  entries       INTEGER NOT NULL,
  mentions      INTEGER NOT NULL,
  rolled_back_at TEXT NOT NULL
);

-- Fuzzy candidates: trigrams of core_name; rowid = entities.rid. The names are folded
-- already, so the tokenizer must not fold again.
CREATE VIRTUAL TABLE entity_fts USING fts5(core_name, tokenize = 'trigram case_sensitive 1');

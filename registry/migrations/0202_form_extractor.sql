-- The form extractor (issue 18). A request's facts come from a model or from the rules of
-- the form extractor: every verified fact names its extractor through its request.
-- Requests of the form extractor are never sent: they are recorded completed, with their
-- result, and carry chunk_index -1 in run_requests (beside a model's chunks 0..n-1).
ALTER TABLE requests ADD COLUMN extractor TEXT NOT NULL DEFAULT 'model';  -- model | rules

-- Documents the cascade (rules+model) kept from the model because the form extractor
-- covers them completely, and what their model requests would have cost on the run's lane.
CREATE TABLE cascade_skips (
  run_id        TEXT NOT NULL,
  doc_id        TEXT NOT NULL,
  form_kind     TEXT NOT NULL,  -- extract::to_string(FormKind)
  est_cost_usd  REAL NOT NULL,
  PRIMARY KEY (run_id, doc_id)
);

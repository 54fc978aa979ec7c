-- Issue 20: the model the provider says answered each attempt (`model` of the response),
-- beside the one requested: a moving alias is how drift arrives. NULL when it did not say
-- (and for attempts recorded before this migration).
ALTER TABLE attempts ADD COLUMN answered_model TEXT;
-- A run's attempts of one request (issue 20's tracks: each row's first answer in the run).
CREATE INDEX attempts_run_custom ON attempts(run_id, custom_id, attempt_id);
-- A run's batches (the tracks, `fgraph report` and reconcile look a run's batch rows up).
CREATE INDEX remote_objects_run ON remote_objects(run_id);
-- Attempts by time (`fgraph report --since`): attempts_created, migration 0203.

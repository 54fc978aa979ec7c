-- Issue 20: the model the provider says answered each attempt (`model` of the response),
-- beside the one requested: a moving alias is how drift arrives. NULL when it did not say
-- (and for attempts recorded before this migration).
ALTER TABLE attempts ADD COLUMN answered_model TEXT;

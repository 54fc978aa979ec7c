-- One row per (request, attempt): an attempt is sent once, by one batch or one live call
-- (issue 16, defect 3). Attempt numbers of a request only grow, across runs; a dead letter
-- sent again continues the numbers and starts its retry ladder at `ladder_base`.
--
-- Ledgers written before this migration may hold a request's attempt twice: the same row
-- answered twice (two processes collecting one batch), or a dead letter retried from
-- attempt 1 again. Each such answer was paid for, so none is deleted: every repeat
-- after the first gets the next free number of its request, and the request's count and
-- ladder base move with it (the ladder step, attempts - ladder_base, stays the same).
ALTER TABLE requests ADD COLUMN ladder_base INTEGER NOT NULL DEFAULT 0;

-- Above every number the request has used, an attempt still in an open batch included.
CREATE TABLE m0201_repeats AS
  SELECT a.attempt_id, a.custom_id,
         MAX((SELECT MAX(m.attempt) FROM attempts m WHERE m.custom_id = a.custom_id),
             COALESCE((SELECT MAX(b.attempt) FROM batch_rows b WHERE b.custom_id = a.custom_id), 0))
           + ROW_NUMBER() OVER (PARTITION BY a.custom_id ORDER BY a.attempt_id) AS new_attempt
  FROM attempts a
  WHERE EXISTS (SELECT 1 FROM attempts e WHERE e.custom_id = a.custom_id
                AND e.attempt = a.attempt AND e.attempt_id < a.attempt_id);

UPDATE attempts
   SET attempt = (SELECT r.new_attempt FROM m0201_repeats r WHERE r.attempt_id = attempts.attempt_id)
 WHERE attempt_id IN (SELECT attempt_id FROM m0201_repeats);

UPDATE requests
   SET ladder_base = ladder_base
         + (SELECT MAX(a.attempt) FROM attempts a WHERE a.custom_id = requests.custom_id) - attempts,
       attempts = (SELECT MAX(a.attempt) FROM attempts a WHERE a.custom_id = requests.custom_id)
 WHERE custom_id IN (SELECT custom_id FROM m0201_repeats)
   AND attempts < (SELECT MAX(a.attempt) FROM attempts a WHERE a.custom_id = requests.custom_id);

DROP TABLE m0201_repeats;

CREATE UNIQUE INDEX attempts_request_attempt ON attempts(custom_id, attempt);

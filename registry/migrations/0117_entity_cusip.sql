-- Issue 18: the CUSIP issuer number (the first 6 characters of a CUSIP) as an identifier
-- of an entity, read by the form extractor from a 13F information table's row. It decides
-- resolution after the CIK and the LEI, and two entities with different ones never merge.
ALTER TABLE entities ADD COLUMN cusip TEXT;
CREATE INDEX entities_cusip ON entities(cusip) WHERE cusip IS NOT NULL;

-- find looks entities up by normalised name across types (norm_name = ?), which the
-- (type, norm_name) index of 0100 cannot serve: every find scanned the whole table.
-- (norm_name, type) serves both that and resolution's (type = ? AND norm_name = ?).
DROP INDEX entities_type_norm;
CREATE INDEX entities_norm_type ON entities(norm_name, type);

-- Names are normalised without Unicode default-ignorable code points from issue 16 on
-- (core's nfkc_visible, the first step of normalize_name): "Zero<U+200B>Width LLC" and
-- "ZeroWidth LLC" are one name. Bring the normal forms stored before in line, or a name
-- holding such a character would no longer find its own entity. Only text with a
-- character outside printable ASCII can change. The fgraph_* functions are names.cpp's,
-- registered on the connection by Store::open. Canonical names stay as they were.
UPDATE entities
   SET norm_name = fgraph_normalize_name(name),
       core_name = fgraph_core_name(fgraph_normalize_name(name)),
       legal_form = fgraph_legal_form(fgraph_normalize_name(name))
 WHERE name GLOB '*[^ -~]*' AND norm_name <> fgraph_normalize_name(name);

UPDATE entity_fts
   SET core_name = (SELECT e.core_name FROM entities e WHERE e.rid = entity_fts.rowid)
 WHERE rowid IN (SELECT rid FROM entities WHERE name GLOB '*[^ -~]*');

UPDATE entity_aliases
   SET norm = fgraph_normalize_name(raw)
 WHERE raw GLOB '*[^ -~]*' AND norm <> fgraph_normalize_name(raw);

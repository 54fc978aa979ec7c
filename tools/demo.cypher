# The three Cypher queries tools/demo prints with their rows, one per line (each must
# return rows on the demo's drop: BatchLaneE2ETest.test_demo_drop_shows_a_connected_graph).
MATCH (d:Document) RETURN d.form_type AS form, d.filer AS filer, d.source AS source ORDER BY source
MATCH (e:Entity)-[:MENTIONED_IN]->(d:Document) RETURN labels(e) AS labels, e.name AS entity, count(d) AS documents ORDER BY documents DESC, entity LIMIT 10
MATCH (a:Entity)-[r]->(b:Entity) RETURN a.name AS source, type(r) AS relation, b.name AS target, r.extractor AS extractor, r.evidence AS evidence ORDER BY relation, source LIMIT 10

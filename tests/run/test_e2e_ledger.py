"""End-to-end tests of rollback, replay and audit across runs that share documents
(issue 16, defects 1 and 6): the real fgraph binary, the real Neo4j, the provider emulator.

Run by ctest (tests/run/CMakeLists.txt) with the environment of test_e2e.py.
"""
import itertools
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import DROP_A, DROP_B, E2EBase  # noqa: E402


class SharedRunsE2ETest(E2EBase):
    """Runs X and Y feed the same drop (Y writes nothing: X's edges hold its facts), Z a
    drop that shares one filing with them."""

    def setUp(self):
        super().setUp()
        self.emu.control("/_emulator/config", {"polls_to_complete": 0})

    def blanked(self, run_ids):
        """The graph export with every run id, start time and document source blanked, as a
        set: which run holds a fact is the ledger's business, and a document (a content
        address) keeps the path it was first seen at; what the graph says is the rest."""
        out = set()
        for line in self.export():
            for run_id in run_ids:
                line = line.replace(run_id, "RUN")
            line = re.sub(r'"started_at": "[^"]*"', '"started_at": "T"', line)
            out.add(re.sub(r'"source": "[^"]*"', '"source": "S"', line))
        return out

    def audit(self):
        rc, out, err = self.fgraph("audit", "--json")
        return rc, json.loads(out.splitlines()[-1])

    def assert_audit_clean(self):
        rc, report = self.audit()
        self.assertEqual(report.get("counts", {}), {}, report)
        self.assertEqual(report["differences"], [], report)
        self.assertEqual(rc, 0, report)

    def reference(self, drops):
        """The blanked graph of the given drops staged in turn on a fresh home and graph."""
        home = self.home
        self.home = os.path.join(self.tmp, "ref-" + "-".join(drops))
        os.makedirs(self.home)
        self.cypher("MATCH (n) DETACH DELETE n")
        runs = [self.run_json("run", self.drops[d], "--lane", "openai-batch")["run_id"] for d in drops]
        graph = self.blanked(runs)
        self.cypher("MATCH (n) DETACH DELETE n")
        self.home = home
        return graph

    def three_runs(self):
        runs = {}
        for name in ("X", "Y", "Z"):
            runs[name] = self.run_json("run", self.drops[name], "--lane", "openai-batch")["run_id"]
        return runs

    def test_rollback_in_every_order_leaves_exactly_the_live_runs(self):
        self.drops = {"X": self.make_drop("x", DROP_A), "Y": self.make_drop("y", DROP_A),
                      "Z": self.make_drop("z", DROP_B)}
        ref_a = self.reference(["X"])
        ref_b = self.reference(["Z"])
        ref_ab = self.reference(["X", "Z"])
        self.assertNotEqual(ref_a, ref_ab)
        expected = {frozenset(): set()}
        for live in ({"X"}, {"Y"}, {"X", "Y"}):
            expected[frozenset(live)] = ref_a
        expected[frozenset({"Z"})] = ref_b
        for live in ({"X", "Z"}, {"Y", "Z"}, {"X", "Y", "Z"}):
            expected[frozenset(live)] = ref_ab

        base_home = self.home
        for n, order in enumerate(itertools.permutations("XYZ")):
            with self.subTest(order="".join(order)):
                self.home = os.path.join(self.tmp, f"order-{n}")
                os.makedirs(self.home)
                self.cypher("MATCH (n) DETACH DELETE n")
                runs = self.three_runs()
                all_ids = list(runs.values())
                # Y fed the same drop again: it wrote nothing (invariant 7).
                self.assertEqual(self.cypher(
                    "MATCH ()-[r]->() WHERE r.run_id = $run RETURN count(r)", {"run": runs["Y"]})[0][0], 0)
                self.assertEqual(self.blanked(all_ids), expected[frozenset("XYZ")])
                self.assert_audit_clean()
                live = set("XYZ")
                for name in order:
                    rc, out, err = self.fgraph("rollback", runs[name])
                    self.assertEqual(rc, 0, out + err)
                    live.discard(name)
                    self.assertEqual(self.blanked(all_ids), expected[frozenset(live)],
                                     f"after rolling back {name}, live {sorted(live)}")
                    self.assert_audit_clean()
                    for other in live:
                        status = self.run_json("status", runs[other])
                        self.assertEqual(status["graph"]["documents_staged"],
                                         status["documents"]["parsed"])
                    if n == 0 and len(live) == 2:
                        # Replay of each live run restores its own facts from the ledger.
                        self.cypher("MATCH (n) DETACH DELETE n")
                        for other in sorted(live):
                            self.run_json("replay", runs[other])
                        self.assertEqual(self.blanked(all_ids), expected[frozenset(live)])
                        self.assert_audit_clean()
        self.home = base_home

    def test_rollback_of_a_shared_document_hands_it_over(self):
        self.drops = {"X": self.make_drop("x", DROP_A), "Y": self.make_drop("y", DROP_A)}
        x = self.run_json("run", self.drops["X"], "--lane", "openai-batch")["run_id"]
        y = self.run_json("run", self.drops["Y"], "--lane", "openai-batch")["run_id"]
        before = self.blanked([x, y])
        doc = self.cypher("MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL RETURN r.doc_id LIMIT 1")[0][0]
        rc, out, err = self.fgraph("rollback", x, "--doc", doc)
        self.assertEqual(rc, 0, out + err)
        # Y still vouches for the document: its facts stay, now as Y's own edges.
        self.assertEqual(self.blanked([x, y]), before)
        self.assertGreater(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.doc_id = $doc "
                                       "RETURN count(r)", {"run": y, "doc": doc})[0][0], 0)
        self.assert_audit_clean()
        rc, out, err = self.fgraph("rollback", y, "--doc", doc)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.cypher("MATCH (d:Document {doc_id: $doc}) RETURN count(d)", {"doc": doc})[0][0], 0)
        self.assert_audit_clean()
        self.run_json("replay", y)
        self.assertEqual(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.doc_id = $doc "
                                     "RETURN count(r)", {"run": y, "doc": doc})[0][0] > 0, True)
        self.assert_audit_clean()

    def test_rollback_with_neo4j_down_changes_nothing(self):
        run = self.run_json("run", self.make_drop("x", DROP_A[:2]), "--lane", "openai-batch")["run_id"]
        before = self.export()
        down = self.env(FGRAPH_NEO4J_URL="http://127.0.0.1:9")  # nothing listens on port 9
        rc, out, err = self.fgraph("rollback", run, env=down)
        self.assertEqual(rc, 3, out + err)
        self.assertEqual(self.run_json("status", run)["state"], "finished")
        rc, out, err = self.fgraph("rollback", run, "--doc",
                                   self.cypher("MATCH (d:Document) RETURN d.doc_id LIMIT 1")[0][0], env=down)
        self.assertEqual(rc, 3, out + err)
        status = self.run_json("status", run)
        self.assertEqual(status["graph"]["documents_rolling_back"], 0)
        self.assertEqual(self.export(), before)
        # A resume is not refused, and a rollback with Neo4j back works.
        self.run_json("run", "--resume", run)
        rc, out, err = self.fgraph("rollback", run)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.cypher("MATCH (n) RETURN count(n)")[0][0], 0)


class AuditE2ETest(E2EBase):
    """Each kind of difference planted directly in Neo4j, and found by kind and count."""

    def test_each_planted_difference_is_reported_by_kind(self):
        self.emu.control("/_emulator/config", {"polls_to_complete": 0})
        run = self.run_json("run", self.make_drop("b", DROP_B), "--lane", "openai-batch")["run_id"]
        plants = [
            ("extra document", "CREATE (:Document {doc_id: 'sha256:planted'})", {"document": {"extra": 1}}),
            ("extra run", "CREATE (:Run {run_id: 'run-planted'})", {"run": {"extra": 1}}),
            ("foreign node", "CREATE (:Pwned {x: 1})", {"foreign": {"extra": 1}}),
            ("missing mention", "MATCH (:Entity)-[m:MENTIONED_IN]->() WITH m LIMIT 1 DELETE m",
             {"mentioned_in": {"missing": 1}}),
            ("missing staging record", "MATCH (:Document)-[s:STAGED_BY]->() WITH s LIMIT 1 DELETE s",
             {"staged_by": {"missing": 1}}),
            ("missing fact", "MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL WITH r LIMIT 1 DELETE r",
             {"fact": {"missing": 1}}),
            ("changed evidence", "MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL WITH r LIMIT 1 "
             "SET r.evidence = 'planted words'", {"fact": {"differs": 1}}),
            ("extra fact", "MATCH (a:Entity)-[:MENTIONED_IN]->(d) WITH a, d LIMIT 1 "
             "CREATE (a)-[:SUBSIDIARY_OF {fact_id: 'planted', run_id: $run, doc_id: d.doc_id, "
             "evidence: 'x', char_start: 0, char_end: 1}]->(a)", {"fact": {"extra": 1}}),
            ("changed label", "MATCH (e:Entity:Company) WITH e LIMIT 1 REMOVE e:Company SET e:Person",
             {"entity": {"differs": 1}}),
            ("foreign relationship", "MATCH (d:Document) WITH d LIMIT 1 CREATE (d)-[:PWNED]->(d)",
             {"foreign": {"extra": 1}}),
        ]
        self.assertGreater(self.cypher("MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL RETURN count(r)")[0][0], 0)
        for name, cypher, counts in plants:
            with self.subTest(plant=name):
                self.cypher("MATCH (n) DETACH DELETE n")
                self.run_json("replay", run)
                rc, out, err = self.fgraph("audit", "--json")
                self.assertEqual(rc, 0, out + err)
                self.cypher(cypher, {"run": run})
                rc, out, err = self.fgraph("audit", "--json")
                report = json.loads(out.splitlines()[-1])
                self.assertEqual(rc, 1, out + err)
                self.assertEqual(report["counts"], counts, report["differences"])
        # A whole document missing: its node, staging record, mentions and facts.
        self.cypher("MATCH (n) DETACH DELETE n")
        self.run_json("replay", run)
        doc, facts = self.cypher("MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL "
                                 "RETURN r.doc_id, count(r) ORDER BY count(r) DESC LIMIT 1")[0]
        mentions = self.cypher("MATCH ()-[m:MENTIONED_IN]->(:Document {doc_id: $d}) RETURN count(m)", {"d": doc})[0][0]
        self.cypher("MATCH (d:Document {doc_id: $d}) DETACH DELETE d", {"d": doc})
        self.cypher("MATCH ()-[r]->() WHERE r.doc_id = $d DELETE r", {"d": doc})
        rc, out, err = self.fgraph("audit", "--json")
        report = json.loads(out.splitlines()[-1])
        self.assertEqual(report["counts"]["document"], {"missing": 1})
        self.assertEqual(report["counts"]["staged_by"], {"missing": 1})
        self.assertEqual(report["counts"]["mentioned_in"], {"missing": mentions})
        self.assertEqual(report["counts"]["fact"], {"missing": facts})


if __name__ == "__main__":
    unittest.main(verbosity=2)

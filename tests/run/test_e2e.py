"""End-to-end tests of `fgraph run` and friends: the real fgraph binary, the real Neo4j
(started by the ctest fixture `neo4j`), the provider emulator standing in for OpenAI and
Anthropic, and (test_local_lane) the real local model.

Environment (set by tests/run/CMakeLists.txt): FGRAPH_BIN, FGRAPH_CORPUS_DIR,
FGRAPH_SOURCE_DIR, FGRAPH_TEST_NEO4J_ENV (file with FGRAPH_NEO4J_URL/USER/PASSWORD lines),
FGRAPH_LOCAL_URL for LocalLaneE2ETest.
"""
import base64
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BIN = os.environ["FGRAPH_BIN"]
CORPUS = os.environ["FGRAPH_CORPUS_DIR"]
SOURCE = os.environ["FGRAPH_SOURCE_DIR"]

# Small real filings; the emulator's deterministic extractor finds relations in the 8-Ks
# and the Form 3, so every drop stages relationships as well as entities.
DROP_A = ["sec/ex21_aapl.html", "sec/0000887919-21-000012.html", "sec/374WaterForm4.xml"]
DROP_B = ["sec/form3.snow.nonderiv.xml", "sec/afcgamma.8K.html", "sec/ex21_aapl.html"]


def read_env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k.replace("export ", "").strip()] = v.strip().strip('"').strip("'")
    return env


class Emulator:
    def __init__(self, config=None):
        args = [sys.executable, os.path.join(SOURCE, "tests/emulator/emulator.py"), "--port", "0"]
        if config:
            args += ["--config", json.dumps(config)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"{}")

    def stats(self):
        return self.control("/_emulator/stats")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class E2EBase(unittest.TestCase):
    """Helpers shared by the end-to-end suites; holds no tests itself."""
    @classmethod
    def setUpClass(cls):
        cls.neo4j = read_env_file(os.environ["FGRAPH_TEST_NEO4J_ENV"])
        cls.emu = Emulator()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fgraph_e2e_")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.emu.control("/_emulator/reset", {})
        self.cypher("MATCH (n) DETACH DELETE n")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def make_drop(self, name, files):
        drop = os.path.join(self.tmp, name)
        os.makedirs(drop, exist_ok=True)
        for f in files:
            shutil.copy(os.path.join(CORPUS, f), drop)
        return drop

    def env(self, **extra):
        env = dict(os.environ)
        env.update({
            "FGRAPH_HOME": self.home,
            "FGRAPH_NEO4J_URL": self.neo4j["FGRAPH_NEO4J_URL"],
            "FGRAPH_NEO4J_USER": self.neo4j.get("FGRAPH_NEO4J_USER", "neo4j"),
            "FGRAPH_NEO4J_PASSWORD": self.neo4j["FGRAPH_NEO4J_PASSWORD"],
            "OPENAI_BASE_URL": self.emu.base + "/v1",
            "OPENAI_API_KEY": "sk-test-emulator-key",
            "ANTHROPIC_BASE_URL": self.emu.base,
            "ANTHROPIC_API_KEY": "sk-ant-test-emulator-key",
            # These suites test the model's pipeline on every document; the form
            # extractor's cascade is tested by name (--extract beats this setting).
            "FGRAPH_EXTRACT": "model",
        })
        env.update(extra)
        return env

    def fgraph(self, *args, env=None, timeout=600):
        p = subprocess.run([BIN, *args], env=env or self.env(), capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def run_json(self, *args, env=None, expect_rc=(0,)):
        rc, out, err = self.fgraph(*args, "--json", env=env)
        self.assertIn(rc, expect_rc, f"rc={rc}\nstdout={out}\nstderr={err}")
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertTrue(lines, err)
        return json.loads(lines[-1])

    def cypher(self, statement, parameters=None):
        url = self.neo4j["FGRAPH_NEO4J_URL"].rstrip("/") + "/db/neo4j/query/v2"
        auth = base64.b64encode(f"{self.neo4j.get('FGRAPH_NEO4J_USER', 'neo4j')}:{self.neo4j['FGRAPH_NEO4J_PASSWORD']}".encode()).decode()
        req = urllib.request.Request(url, data=json.dumps({"statement": statement, "parameters": parameters or {}}).encode(),
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              "Authorization": "Basic " + auth}, method="POST")
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    body = json.loads(r.read())
                break
            except urllib.error.HTTPError as e:
                # Neo4j locks a user out for a few seconds after wrong passwords (the
                # credential tests): wait it out rather than fail the next test.
                if e.code != 429 or time.time() > deadline:
                    raise
                time.sleep(1)
        if body.get("errors"):
            raise AssertionError(body["errors"])
        return body["data"]["values"]

    def export(self):
        nodes = self.cypher("MATCH (n) RETURN labels(n), properties(n)")
        rels = self.cypher("MATCH (a)-[r]->(b) RETURN type(r), properties(r), properties(a), properties(b)")
        canon = lambda v: json.dumps(v, sort_keys=True)
        return sorted(canon([sorted(l), p]) for l, p in nodes) + sorted(canon(r) for r in rels)

    def normalized_export(self, run_id):
        """The graph export with this run's id and start time blanked, so that two runs of
        one drop compare equal when their contents are."""
        out = []
        for line in self.export():
            line = line.replace(run_id, "RUN")
            out.append(re.sub(r'"started_at": "[^"]*"', '"started_at": "T"', line))
        return sorted(out)

    def registry_dump(self, run_ids=(), home=None, row_ids=True):
        """The entity registry's state (the sections of EntityRegistry::dump(): entities,
        aliases, mentions, active merges, FTS rows) read from the ledger, with the given run
        ids blanked; without row_ids, the creation-order row ids are left out (sorted)."""
        db = sqlite3.connect(os.path.join(home or self.home, "fgraph.db"))
        try:
            sections = [
                ("entity", "SELECT rid, entity_id, type, name, norm_name, core_name, legal_form, cik,"
                           " ticker, lei, jurisdiction, authoritative, possible_duplicate_of,"
                           " merged_into, created_run, created_doc FROM entities ORDER BY rid"),
                ("alias", "SELECT alias_id, entity_id, raw, norm, method, doc_id, run_id"
                          " FROM entity_aliases ORDER BY alias_id"),
                ("mention", "SELECT entity_id, doc_id, run_id FROM entity_mentions"
                            " ORDER BY entity_id, doc_id, run_id"),
                ("merge", "SELECT merge_seq, merge_id, survivor_id, merged_id, alias_id, run_id"
                          " FROM entity_merges WHERE state = 'active' ORDER BY merge_seq"),
                ("fts", "SELECT rowid, core_name FROM entity_fts ORDER BY rowid"),
            ]
            out = []
            for tag, sql in sections:
                for row in db.execute(sql):
                    if not row_ids and tag in ("entity", "alias", "fts"):
                        row = row[1:]
                    line = tag + " " + json.dumps(row)
                    for i, run_id in enumerate(run_ids):
                        line = line.replace(run_id, f"RUN{i}")
                    out.append(line)
            return out if row_ids else sorted(out)
        finally:
            db.close()

    def assert_reconciled(self, report):
        req = report["requests"]
        self.assertTrue(report["identity_holds"], report)
        self.assertEqual(req["submitted"], req["completed"] + req["dead_lettered"] + req["in_flight"])



class BatchLaneE2ETest(E2EBase):
    def test_openai_batch_end_to_end_and_second_run_costs_nothing(self):
        drop = self.make_drop("a", DROP_A)
        report = self.run_json("run", drop, "--lane", "openai-batch")
        self.assert_reconciled(report)
        self.assertEqual(report["documents"]["parsed"], len(DROP_A))
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        self.assertGreater(report["facts"]["accepted"], 0)
        self.assertGreater(report["graph"]["relations_staged"], 0)
        self.assertEqual(report["requests"]["submitted"], report["requests"]["planned"])
        run_id = report["run_id"]
        staged = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL RETURN count(r)",
                             {"run": run_id})[0][0]
        self.assertEqual(staged, report["graph"]["relations_staged"])
        docs = self.cypher("MATCH (d:Document) RETURN count(d)")[0][0]
        self.assertEqual(docs, len(DROP_A))
        # Every document's filer identity (from its metadata) is an entity mentioned in it.
        filers = self.cypher("MATCH (e:Entity)-[m:MENTIONED_IN]->(d:Document) WHERE m.run_id = $run "
                             "AND e.name = d.filer RETURN count(DISTINCT d)", {"run": run_id})[0][0]
        with_filer = self.cypher("MATCH (d:Document) WHERE d.filer <> '' RETURN count(d)")[0][0]
        self.assertEqual(filers, with_filer)
        self.assertGreaterEqual(with_filer, 2)
        rc, out, err = self.fgraph("audit", "--json")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(json.loads(out)["differences"], [])

        answered = self.emu.stats()["answered"]
        self.assertTrue(all(n == 1 for n in answered.values()), answered)
        before = self.export()
        second = self.run_json("run", drop, "--lane", "openai-batch")
        self.assert_reconciled(second)
        self.assertEqual(second["requests"]["submitted"], 0)
        self.assertEqual(second["requests"]["reused"], second["requests"]["planned"])
        self.assertEqual(second["cost_usd"], 0)
        self.assertEqual(self.emu.stats()["answered"], answered)
        self.assertEqual(second["graph"]["documents_staged"], len(DROP_A))
        self.assertEqual(self.export(), before)  # the second run changed nothing

    def test_form_extractor_cascade_keeps_forms_from_the_model(self):
        """Issue 18: the Form 4 and the EX-21 of DROP_A are read by the form extractor and
        never reach the provider; their facts are staged with extractor 'rules'."""
        drop = self.make_drop("a", DROP_A)
        report = self.run_json("run", drop, "--lane", "openai-batch", "--extract", "rules+model")
        self.assert_reconciled(report)
        self.assertEqual(report["extractors"]["documents"], {"rules": 2, "model": 1})
        self.assertEqual(report["extractors"]["documents_model_skipped"], 2)
        self.assertGreater(report["extractors"]["saved_usd"], 0)
        self.assertEqual(report["requests"]["planned"], 1)  # the 8-K alone goes to the model
        self.assertEqual(len(self.emu.stats()["answered"]), 1)
        self.assertGreater(report["facts"]["accepted_by_extractor"]["rules"], 0)
        run_id = report["run_id"]
        rules = self.cypher("MATCH (a)-[r]->(b) WHERE r.run_id = $run AND r.extractor = 'rules' "
                            "RETURN count(r)", {"run": run_id})[0][0]
        self.assertGreater(rules, 19)  # 19 subsidiaries of Apple, and the Form 4's owner
        unmarked = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL "
                               "AND r.extractor IS NULL RETURN count(r)", {"run": run_id})[0][0]
        self.assertEqual(unmarked, 0)
        owner = self.cypher("MATCH (p:Entity)-[r]->(c:Entity {cik: '0000933972'}) WHERE r.extractor = 'rules' "
                            "RETURN DISTINCT p.cik")
        self.assertTrue(owner and all(row[0] for row in owner), owner)
        # Scored against the committed gold: every ownership fact of the Form 4 is there.
        gold = os.path.join(self.tmp, "gold.jsonl")
        with open(os.path.join(SOURCE, "tests/golden/eval/ownership.gold.jsonl")) as f, open(gold, "w") as g:
            # The drop holds the file under its own name, not under the corpus's sec/.
            g.writelines(l.replace('"sec/374WaterForm4.xml"', '"374WaterForm4.xml"')
                         for l in f if "374WaterForm4" in l)
        rc, out, err = self.fgraph("eval", gold, "--run", run_id, "--json")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(json.loads(out)["overall"]["recall"], 1.0, out)
        # A rules-only run of the same drop sends nothing at all.
        answered = self.emu.stats()["answered"]
        only = self.run_json("run", drop, "--lane", "openai-batch", "--extract", "rules")
        self.assertEqual(only["requests"]["planned"], 0)
        self.assertEqual(self.emu.stats()["answered"], answered)

    def test_demo_drop_shows_a_connected_graph(self):
        """tools/demo's drop (tools/demo.drop), placed as the demo places it (beside the
        home: fgraph reads nothing inside its own home), stages people, companies, holdings
        and subsidiaries from the form extractor, and each of the demo's printed queries
        (tools/demo.cypher) returns rows."""
        def lines(name):
            with open(os.path.join(SOURCE, "tools", name)) as f:
                return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
        drop = self.home.rstrip("/") + "-demo-drop"
        os.makedirs(drop)
        for f in lines("demo.drop"):
            shutil.copy(os.path.join(CORPUS, f), drop)
        report = self.run_json("run", drop, "--lane", "openai-batch", "--extract", "rules+model")
        self.assert_reconciled(report)
        self.assertEqual(report["extractors"]["documents"].get("model"), 1, report["extractors"])
        self.assertGreaterEqual(report["extractors"]["documents"].get("rules", 0), 3, report["extractors"])
        types = dict(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.extractor = 'rules' "
                                 "RETURN type(r), count(r)", {"run": report["run_id"]}))
        for t in ("HOLDS", "SUBSIDIARY_OF", "INCORPORATED_IN", "HEADQUARTERED_IN"):
            self.assertGreater(types.get(t, 0), 0, f"no {t} edge from the form extractor: {types}")
        people = self.cypher("MATCH (p:Person)-[r]->(:Company) WHERE r.extractor = 'rules' RETURN count(r)")[0][0]
        self.assertGreater(people, 0)
        for q in lines("demo.cypher"):
            rc, out, err = self.fgraph("query", q, "--json")
            self.assertEqual(rc, 0, q + "\n" + err)
            self.assertTrue(out.strip(), f"the demo's query returned no row: {q}")
        # The 13F's holdings: the information table never names its manager, so each HOLDS
        # starts at the document's filer (verify::kFilerRef), the registry's entity of the
        # manager's CIK, and the run scores 1.0 on the committed 13F gold.
        holds = self.cypher("MATCH (m:Entity {cik: '0001894188'})-[r:HOLDS]->(i:Entity) "
                            "WHERE r.run_id = $run RETURN count(DISTINCT i)", {"run": report["run_id"]})[0][0]
        self.assertEqual(holds, 14)
        gold = os.path.join(self.tmp, "13f.gold.jsonl")
        with open(os.path.join(SOURCE, "tests/golden/eval/13f.gold.jsonl")) as f, open(gold, "w") as g:
            g.writelines(l.replace('"sec/13F.', '"13F.') for l in f)
        rc, out, err = self.fgraph("eval", gold, "--run", report["run_id"], "--json")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(json.loads(out)["overall"]["recall"], 1.0, out)
        rc, out, err = self.fgraph("audit", "--json")
        self.assertEqual(rc, 0, out + err)
        # Each issuer's CUSIP (quoted from its row) is its registry identifier.
        rc, out, err = self.fgraph("registry", "find", "023135106", "--json")
        self.assertEqual(rc, 0, out + err)
        found = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertEqual(found[0]["method"], "cusip", found)
        rc, out, err = self.fgraph("registry", "show", found[0]["entity_id"], "--json")
        self.assertEqual(json.loads(out)["cusip"], "023135")
        self.assertEqual(json.loads(out)["name"], "AMAZON COM INC")
        # Rollback takes them away with the rest; replay brings back the same graph.
        before = self.normalized_export(report["run_id"])
        self.assertEqual(self.fgraph("rollback", report["run_id"])[0], 0)
        self.assertEqual(self.cypher("MATCH ()-[r:HOLDS]->() RETURN count(r)")[0][0], 0)
        rc, out, err = self.fgraph("replay", report["run_id"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.normalized_export(report["run_id"]), before)

    def test_anthropic_batch_end_to_end(self):
        drop = self.make_drop("a", DROP_A[:2])
        report = self.run_json("run", drop, "--lane", "anthropic-batch")
        self.assert_reconciled(report)
        self.assertEqual(report["graph"]["documents_staged"], 2)
        self.assertGreater(report["facts"]["accepted"], 0)
        self.assertEqual(report["requests"]["dead_lettered"], 0)
        self.assertTrue(any(u["lane"] == "anthropic-batch" for u in report["usage"]), report["usage"])

    def test_leaking_provider_is_caught(self):
        self.emu.control("/_emulator/config", {"mode": "concatenating"})
        drop = self.make_drop("a", DROP_A)
        report = self.run_json("run", drop, "--lane", "openai-batch", expect_rc=(1,))
        self.assert_reconciled(report)
        self.assertGreater(report["facts"]["dropped_by_reason"].get("cross_document_leak", 0), 0)
        self.assertGreater(len(report["leak_alarms"]), 0)
        alarm = report["leak_alarms"][0]
        self.assertNotEqual(alarm["doc_id"], alarm["found_in_doc_id"])
        self.assertTrue(alarm["batch_id"], alarm)
        leaked = {a["quote"] for a in report["leak_alarms"]}
        evidences = {row[0] for row in self.cypher("MATCH ()-[r]->() WHERE r.fact_id IS NOT NULL RETURN r.evidence")}
        self.assertFalse(leaked & evidences)
        rc, out, err = self.fgraph("audit", "--json")
        self.assertEqual(rc, 0, out + err)

    def test_rollback_then_replay_restores_exact_graph(self):
        first = self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch")
        after_first = self.export()
        second = self.run_json("run", self.make_drop("b", DROP_B), "--lane", "openai-batch")
        after_second = self.export()
        self.assertNotEqual(after_first, after_second)
        rc, out, err = self.fgraph("rollback", second["run_id"])
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.export(), after_first)
        calls = self.emu.stats()["answered"]
        replay = self.run_json("replay", second["run_id"])
        self.assert_reconciled(replay)
        self.assertEqual(self.export(), after_second)
        self.assertEqual(self.emu.stats()["answered"], calls)  # zero model calls
        # An older run rolled back while a newer one shares its entities and a document:
        # the newer survives, and the shared document, which it staged via the older run,
        # passes to it (issue 16): its facts are all in the graph as its own edges.
        newer = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run RETURN count(r)", {"run": second["run_id"]})[0][0]
        rc, out, err = self.fgraph("rollback", first["run_id"])
        self.assertEqual(rc, 0, out + err)
        self.assertGreater(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run RETURN count(r)",
                                       {"run": second["run_id"]})[0][0], newer)
        self.assertEqual(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL "
                                     "RETURN count(r)", {"run": second["run_id"]})[0][0],
                         self.run_json("status", second["run_id"])["graph"]["relations_staged"])
        self.assertEqual(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run RETURN count(r)",
                                     {"run": first["run_id"]})[0][0], 0)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)

    def test_rollback_of_one_document(self):
        # The last document in the drop's (byte-wise) order, so that a run of the drop
        # without it resolves every other document exactly as the full run did.
        target_file = sorted(os.path.basename(f) for f in DROP_A)[-1]
        others = [f for f in DROP_A if os.path.basename(f) != target_file]
        home = self.home
        self.home = os.path.join(self.tmp, "reference")
        os.makedirs(self.home)
        ref = self.run_json("run", self.make_drop("ref", others), "--lane", "openai-batch")
        ref_registry = self.registry_dump([ref["run_id"]], row_ids=False)
        self.cypher("MATCH (n) DETACH DELETE n")
        self.home = home

        report = self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch")
        run_id = report["run_id"]
        full_registry = self.registry_dump([run_id], row_ids=False)
        docs = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL "
                           "RETURN r.doc_id, count(r) ORDER BY count(r) DESC", {"run": run_id})
        self.assertGreaterEqual(len(docs), 1)
        target = self.cypher("MATCH (d:Document) WHERE d.source ENDS WITH $f RETURN d.doc_id",
                             {"f": target_file})[0][0]
        # The document taught the registry something of its own: it is not a no-op.
        self.assertNotEqual(full_registry, ref_registry)
        rc, out, err = self.fgraph("rollback", run_id, "--doc", target)
        self.assertEqual(rc, 0, out + err)
        left = dict(self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL "
                                "RETURN r.doc_id, count(r)", {"run": run_id}))
        self.assertNotIn(target, left)
        for doc, n in docs:
            if doc != target:
                self.assertEqual(left.get(doc), n)
        self.assertEqual(self.cypher("MATCH (d:Document {doc_id: $d}) RETURN count(d)", {"d": target})[0][0], 0)
        # The registry holds what a run without the document would have taught it.
        self.assertEqual(self.registry_dump([run_id], row_ids=False), ref_registry)
        status = self.run_json("status", run_id)
        self.assertEqual(status["graph"]["documents_rolled_back"], 1)
        self.assertEqual(status["graph"]["documents_rolling_back"], 0)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)
        # Replay stages the document again and the registry learns it again.
        calls = self.emu.stats()["answered"]
        replay = self.run_json("replay", run_id)
        self.assertEqual(replay["graph"]["documents_staged"], len(DROP_A))
        self.assertEqual(self.registry_dump([run_id], row_ids=False), full_registry)
        self.assertEqual(self.emu.stats()["answered"], calls)

    def test_interrupted_rollback_is_recorded_and_finished_by_rollback_again(self):
        self.emu.control("/_emulator/config", {"polls_to_complete": 0})
        first = self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch")
        after_first = self.normalized_export(first["run_id"])
        registry_first = self.registry_dump()
        second = self.run_json("run", self.make_drop("b", DROP_B), "--lane", "openai-batch")
        run_id = second["run_id"]
        after_second = self.export()

        # Killed between Neo4j and the registry: the ledger says the rollback is half done.
        rc, out, err = self.fgraph("rollback", run_id, env=self.env(FGRAPH_TEST_CRASH_AT="rollback_graph"))
        self.assertEqual(rc, -signal.SIGKILL, out + err)
        rc, out, err = self.fgraph("runs", "--json")
        states = {r["run_id"]: r["state"] for r in map(json.loads, out.splitlines())}
        self.assertEqual(states[run_id], "rolling_back")
        self.assertEqual(self.run_json("status", run_id)["state"], "rolling_back")
        rc, out, err = self.fgraph("status", run_id)
        self.assertIn(f"fgraph rollback {run_id}", out)
        rc, out, err = self.fgraph("run", "--resume", run_id)
        self.assertEqual(rc, 2, out + err)  # a half-rolled-back run is not resumed
        self.assertIn("rollback", err)
        self.assertNotEqual(self.registry_dump(), registry_first)  # the registry step never ran
        rc, out, err = self.fgraph("rollback", run_id)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.run_json("status", run_id)["state"], "rolled_back")
        self.assertEqual(self.normalized_export(first["run_id"]), after_first)
        self.assertEqual(self.registry_dump(), registry_first)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)

        # One document, killed between the registry and the ledger.
        replay = self.run_json("replay", run_id)
        self.assertEqual(replay["graph"]["documents_staged"], len(DROP_B))
        self.assertEqual(self.export(), after_second)
        target = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.fact_id IS NOT NULL "
                             "RETURN r.doc_id LIMIT 1", {"run": run_id})[0][0]
        rc, out, err = self.fgraph("rollback", run_id, "--doc", target,
                                   env=self.env(FGRAPH_TEST_CRASH_AT="rollback_registry"))
        self.assertEqual(rc, -signal.SIGKILL, out + err)
        status = self.run_json("status", run_id)
        self.assertEqual(status["graph"]["documents_rolling_back"], 1)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 1, out + err)  # an unfinished rollback is a difference
        self.assertIn("rolling_back", out)
        rc, out, err = self.fgraph("rollback", run_id, "--doc", target)
        self.assertEqual(rc, 0, out + err)
        status = self.run_json("status", run_id)
        self.assertEqual(status["graph"]["documents_rolling_back"], 0)
        self.assertEqual(status["graph"]["documents_rolled_back"], 1)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)

    def test_identical_chunk_of_two_documents_is_verified_for_each(self):
        # Two documents longer than one request's budget (400,000 bytes) that share their
        # first chunk: that chunk is one request, answered once, and verified for both.
        self.emu.control("/_emulator/config", {"polls_to_complete": 0})
        shared, i = [], 0
        while sum(map(len, shared)) < 410000:
            shared.append(f"Section {i}. Acme Widgets Inc. signed an agreement with Beta Tools LLC"
                          f" covering item {i} of the supply program.\n\n")
            i += 1
        drop = os.path.join(self.tmp, "shared")
        os.makedirs(drop)
        tails = {"one.txt": "Closing one. Gamma Holdings Corp. acquired Delta Parts Ltd. this year.\n",
                 "two.txt": "Closing two. Epsilon Labs Inc. signed an agreement with Zeta Foods Co.\n"}
        for name, tail in tails.items():
            with open(os.path.join(drop, name), "w") as f:
                f.write("".join(shared) + tail)
        report = self.run_json("run", drop, "--lane", "openai-batch")
        self.assert_reconciled(report)
        req = report["requests"]
        self.assertEqual((req["planned"], req["deduplicated"], req["submitted"]), (3, 1, 3), req)
        answered = self.emu.stats()["answered"]
        self.assertEqual(sorted(answered.values()), [1, 1, 1], answered)
        self.assertEqual(report["graph"]["documents_staged"], 2)
        run_id = report["run_id"]
        # Every relation quoted from the shared chunk is staged once for each document.
        rows = self.cypher("MATCH ()-[r]->() WHERE r.run_id = $run AND r.evidence STARTS WITH 'Section '"
                           " RETURN r.evidence, count(DISTINCT r.doc_id)", {"run": run_id})
        self.assertTrue(rows)
        self.assertTrue(all(n == 2 for _, n in rows), rows)
        # The ledger holds one verdict per (request, document): both documents' facts from
        # the shared request are counted in the reconciliation.
        db = sqlite3.connect(os.path.join(self.home, "fgraph.db"))
        per_doc = dict(db.execute("SELECT doc_id, count(DISTINCT request_id) FROM verified_facts"
                                  " WHERE run_id = ? GROUP BY doc_id", (run_id,)).fetchall())
        total = db.execute("SELECT count(*) FROM verified_facts WHERE run_id = ?", (run_id,)).fetchone()[0]
        db.close()
        self.assertEqual(sorted(per_doc.values()), [2, 2], per_doc)
        self.assertEqual(report["facts"]["accepted"], total)
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)

    def test_neo4j_down_exits_3_and_resume_stages(self):
        drop = self.make_drop("a", DROP_A[:2])
        down = self.env(FGRAPH_NEO4J_URL="http://127.0.0.1:9")  # nothing listens on port 9
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", env=down)
        self.assertEqual(rc, 3, out + err)
        rc, out, err = self.fgraph("runs", "--json")
        run = json.loads(out.splitlines()[-1])
        self.assertEqual(run["state"], "verified")
        calls = self.emu.stats()["answered"]
        report = self.run_json("run", "--resume", run["run_id"])
        self.assertEqual(report["graph"]["documents_staged"], 2)
        self.assertEqual(self.emu.stats()["answered"], calls)

    def test_sigkill_mid_poll_then_resume_submits_nothing_twice(self):
        self.emu.control("/_emulator/config", {"polls_to_complete": 3})
        drop = self.make_drop("a", DROP_A)
        proc = subprocess.Popen([BIN, "run", drop, "--lane", "openai-batch", "--json"], env=self.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and self.emu.stats()["batches_created"]["openai"] < 1:
            time.sleep(0.05)
        self.assertGreaterEqual(self.emu.stats()["batches_created"]["openai"], 1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rc, out, err = self.fgraph("runs", "--json")
        run_id = json.loads(out.splitlines()[-1])["run_id"]
        report = self.run_json("run", "--resume", run_id)
        self.assert_reconciled(report)
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        stats = self.emu.stats()
        self.assertEqual(stats["batches_created"]["openai"], 1, stats)
        self.assertTrue(all(n == 1 for n in stats["answered"].values()), stats["answered"])

    def test_no_wait_returns_after_submission_and_resume_collects(self):
        self.emu.control("/_emulator/config", {"polls_to_complete": 5})
        drop = self.make_drop("a", DROP_A)
        first = self.run_json("run", drop, "--lane", "openai-batch", "--no-wait")
        self.assertGreater(first["requests"]["in_flight"], 0, first)
        self.assertEqual(first["graph"]["documents_staged"], 0)
        self.assertTrue(first["identity_holds"])
        report = self.run_json("run", "--resume", first["run_id"])
        self.assert_reconciled(report)
        self.assertEqual(report["requests"]["in_flight"], 0)
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        stats = self.emu.stats()
        self.assertEqual(stats["batches_created"]["openai"], 1, stats)
        self.assertTrue(all(n == 1 for n in stats["answered"].values()), stats["answered"])

    def test_budget_refuses_before_sending(self):
        drop = self.make_drop("a", DROP_A)
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--budget-usd", "0.0000001")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("budget", err)
        self.assertEqual(self.emu.stats().get("files_uploaded", 0), 0)
        plan = self.run_json("run", drop, "--lane", "openai-batch", "--dry-run")
        self.assertGreater(plan["estimated_cost_usd"], 0)
        self.assertEqual(self.emu.stats().get("files_uploaded", 0), 0)



class KillResumeE2ETest(E2EBase):
    """SIGKILL at each phase of a run, then `fgraph run --resume`: the graph and the registry
    end identical to an uninterrupted run of the same drop, and no row is answered twice.
    Kills are made deterministic by the test-only hook FGRAPH_TEST_CRASH_AT=<point>[:N]
    (ARCHITECTURE.md, "Fault injection"); mid-poll is a real external kill
    (BatchLaneE2ETest.test_sigkill_mid_poll_then_resume_submits_nothing_twice)."""

    # (hook point, what the ledger holds when the process dies)
    KILL_POINTS = [
        ("after_ingest", "drop ingested, nothing planned"),
        ("upload", "batch file uploaded, upload not recorded"),
        ("batch_created", "batch created at the provider, creation not recorded"),
        ("verify:2", "two rows verified of three"),
        ("resolve_uncommitted", "documents resolved and recorded, transaction not committed"),
        ("resolve", "every document resolved and recorded, none staged"),
        ("stage:2", "second document committed to Neo4j, not recorded as staged"),
    ]

    def fresh(self, name):
        self.home = os.path.join(self.tmp, name)
        os.makedirs(self.home)
        self.cypher("MATCH (n) DETACH DELETE n")
        self.emu.control("/_emulator/reset", {})
        self.emu.control("/_emulator/config", {"polls_to_complete": 0})

    def test_kill_at_each_phase_then_resume_equals_uninterrupted_run(self):
        drop = self.make_drop("a", DROP_A)
        self.fresh("reference")
        ref = self.run_json("run", drop, "--lane", "openai-batch")
        self.assertEqual(ref["graph"]["documents_staged"], len(DROP_A))
        self.assertEqual(ref["requests"]["submitted"], len(DROP_A))  # one row per document
        ref_export = self.normalized_export(ref["run_id"])
        ref_registry = self.registry_dump([ref["run_id"]])
        ref_answered = self.emu.stats()["answered"]
        self.assertGreater(ref["graph"]["relations_staged"], 0)
        self.assertTrue(ref_registry)

        for point, what in self.KILL_POINTS:
            with self.subTest(point=point, state=what):
                self.fresh("home-" + point.replace(":", "-"))
                rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--json",
                                           env=self.env(FGRAPH_TEST_CRASH_AT=point))
                self.assertEqual(rc, -signal.SIGKILL, f"not killed at {point}: {out}{err}")
                rc, out, err = self.fgraph("runs", "--json")
                self.assertEqual(rc, 0, err)
                runs = [json.loads(l) for l in out.splitlines() if l.strip()]
                self.assertEqual(len(runs), 1, runs)
                self.assertNotEqual(runs[0]["state"], "finished")
                run_id = runs[0]["run_id"]
                report = self.run_json("run", "--resume", run_id)
                self.assert_reconciled(report)
                self.assertEqual(report["state"], "finished")
                self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
                self.assertEqual(report["requests"]["dead_lettered"], 0)
                self.assertEqual(self.normalized_export(run_id), ref_export)
                self.assertEqual(self.registry_dump([run_id]), ref_registry)
                stats = self.emu.stats()
                self.assertEqual(stats["answered"], ref_answered)  # every row answered once
                self.assertEqual(stats["batches_created"]["openai"], 1, stats)
                # Killed after the upload answered, the file is an orphan and is sent again.
                self.assertEqual(stats["files_uploaded"], 2 if point == "upload" else 1, stats)
                rc, out, err = self.fgraph("audit", "--json")
                self.assertEqual(rc, 0, out + err)


    def test_anthropic_kill_after_batch_creation_then_resume_equals_uninterrupted_run(self):
        # Anthropic batches carry no metadata: the lane must find its unrecorded batch again
        # by what it can list, and must not create (or pay for) a second one.
        drop = self.make_drop("b", DROP_A[:2])
        self.fresh("anthropic-reference")
        ref = self.run_json("run", drop, "--lane", "anthropic-batch")
        ref_export = self.normalized_export(ref["run_id"])
        ref_registry = self.registry_dump([ref["run_id"]])
        ref_answered = self.emu.stats()["answered"]
        self.assertEqual(ref["graph"]["documents_staged"], 2)

        self.fresh("anthropic-killed")
        rc, out, err = self.fgraph("run", drop, "--lane", "anthropic-batch", "--json",
                                   env=self.env(FGRAPH_TEST_CRASH_AT="batch_created"))
        self.assertEqual(rc, -signal.SIGKILL, out + err)
        rc, out, err = self.fgraph("runs", "--json")
        self.assertEqual(rc, 0, err)
        run_id = json.loads(out.splitlines()[0])["run_id"]
        report = self.run_json("run", "--resume", run_id)
        self.assert_reconciled(report)
        self.assertEqual(report["state"], "finished")
        self.assertEqual(self.normalized_export(run_id), ref_export)
        self.assertEqual(self.registry_dump([run_id]), ref_registry)
        stats = self.emu.stats()
        self.assertEqual(stats["answered"], ref_answered)
        self.assertEqual(stats["batches_created"]["anthropic"], 1, stats)


class LocalLaneE2ETest(E2EBase):
    """Needs the real local model (ctest fixture `local_llm`)."""

    def test_local_lane_with_real_model(self):
        drop = self.make_drop("a", ["sec/374WaterForm4.xml"])
        env = self.env(FGRAPH_LOCAL_URL=os.environ.get("FGRAPH_LOCAL_URL", "http://127.0.0.1:8081/v1"))
        report = self.run_json("run", drop, "--lane", "local", env=env, expect_rc=(0, 1))
        self.assert_reconciled(report)
        self.assertEqual(report["requests"]["in_flight"], 0)
        self.assertGreater(report["requests"]["submitted"], 0)
        self.assertEqual(report["graph"]["documents_staged"] + report["graph"]["documents_failed"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

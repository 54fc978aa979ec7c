"""End-to-end tests of the guards a hostile user tried (issue 16): money (budgets,
unpriced models, secrets, exit codes), the read-only `fgraph query`, and one writer per
home. The real fgraph binary, the real Neo4j and the provider emulator, with the
environment and helpers of test_e2e.py.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import BIN, CORPUS, DROP_A, DROP_B, SOURCE, E2EBase  # noqa: E402,F401


class MoneyAndErrorsE2ETest(E2EBase):
    """Issue 16: the budget cannot be bypassed (unpriced models, resuming a refused run, NaN),
    secrets and URL credentials are never printed, and failures exit 2 (configuration,
    credentials, a locked ledger) or 3 (unreachable) with one JSON error object under --json."""

    def tearDown(self):
        # The wrong-password cases lock the Neo4j user out for a few seconds: leave only
        # once Neo4j accepts the right password again, so the next test (in any
        # process) is not refused with 429.
        self.cypher("RETURN 1")
        super().tearDown()

    def json_error(self, out):
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertTrue(lines, "no JSON error on stdout")
        obj = json.loads(lines[-1])
        self.assertIn("error", obj, obj)
        self.assertEqual(set(obj["error"]), {"code", "message", "detail", "exit_code"}, obj)
        return obj["error"]

    def assert_nothing_sent(self):
        stats = self.emu.stats()
        self.assertEqual(stats.get("files_uploaded", 0), 0, stats)
        self.assertEqual(stats["batches_created"], {"openai": 0, "anthropic": 0}, stats)
        self.assertEqual(stats["answered"], {}, stats)
        self.assertEqual(stats["answered_sync"], {}, stats)

    def runs(self, env=None):
        rc, out, err = self.fgraph("runs", "--json", env=env)
        self.assertEqual(rc, 0, out + err)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def test_unpriced_model_is_refused_by_name_on_paid_lanes(self):
        drop = self.make_drop("a", DROP_A)
        for lane in ("openai-batch", "anthropic-batch", "openai-sync"):
            for extra in ((), ("--dry-run",)):
                rc, out, err = self.fgraph("run", drop, "--lane", lane, "--model", "gpt-5.4-mini",
                                           "--budget-usd", "0.0001", *extra)
                self.assertEqual(rc, 2, f"{lane} {extra}: {out}{err}")
                self.assertIn("gpt-5.4-mini", err)
                self.assertIn("no price", err)
        self.assert_nothing_sent()
        self.assertEqual(self.runs(), [])  # refused before a run was recorded
        # The local lane stays free, whatever the model.
        plan = self.run_json("run", drop, "--lane", "local", "--model", "gpt-5.4-mini", "--dry-run")
        self.assertEqual(plan["estimated_cost_usd"], 0)
        # A prices file named in the settings adds the model: the estimate is real and the
        # budget gate holds again.
        prices = os.path.join(self.tmp, "prices.json")
        with open(prices, "w") as f:
            json.dump({"models": {"openai": {"gpt-5.4-mini": {"sync": {"input": 0.5, "output": 4.0},
                                                              "batch": {"input": 0.25, "output": 2.0}}}}}, f)
        env = self.env(FGRAPH_PRICES_FILE=prices)
        plan = self.run_json("run", drop, "--lane", "openai-batch", "--model", "gpt-5.4-mini", "--dry-run", env=env)
        self.assertGreater(plan["estimated_cost_usd"], 0.0001)
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--model", "gpt-5.4-mini",
                                   "--budget-usd", "0.0001", env=env)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("exceeds the budget", err)
        self.assert_nothing_sent()

    def test_budget_refused_run_is_resumed_only_with_a_budget_that_fits(self):
        drop = self.make_drop("a", DROP_A)
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--budget-usd", "0.0000001", "--json")
        self.assertEqual(rc, 2, out + err)
        error = self.json_error(out)
        self.assertEqual((error["code"], error["detail"], error["exit_code"]), ("invalid_input", "budget", 2))
        [run] = self.runs()
        self.assertEqual(run["state"], "budget_refused")
        self.assertIn(run["run_id"], error["message"])
        # A plain resume spends nothing (it used to submit everything, budget or not).
        rc, out, err = self.fgraph("run", "--resume", run["run_id"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--budget-usd", err)
        # A new budget that does not fit is refused too, and the run stays refused.
        rc, out, err = self.fgraph("run", "--resume", run["run_id"], "--budget-usd", "0.0000002")
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(self.runs()[0]["state"], "budget_refused")
        self.assert_nothing_sent()
        # One that fits finishes the run, and is the run's budget from then on.
        report = self.run_json("run", "--resume", run["run_id"], "--budget-usd", "5")
        self.assert_reconciled(report)
        self.assertEqual(report["state"], "finished")
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        db = sqlite3.connect(os.path.join(self.home, "fgraph.db"))
        try:
            opts = json.loads(db.execute("SELECT options_json FROM runs WHERE run_id = ?",
                                         (run["run_id"],)).fetchone()[0])
        finally:
            db.close()
        self.assertEqual(opts["budget_usd"], 5)

    def test_number_settings_refuse_nan_infinities_and_negatives(self):
        drop = self.make_drop("a", DROP_A)
        for bad in ("nan", "NaN", "inf", "-inf", "-1", "1e999"):
            rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", f"--budget-usd={bad}", "--json")
            self.assertEqual(rc, 2, f"--budget-usd={bad}: {out}{err}")
            self.assertIn("must be a finite number", self.json_error(out)["message"])
            rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", env=self.env(FGRAPH_BUDGET_USD=bad))
            self.assertEqual(rc, 2, f"FGRAPH_BUDGET_USD={bad}: {out}{err}")
            self.assertIn("budget_usd must be a finite number", err)
        with open(os.path.join(self.home, "config.toml"), "w") as f:
            f.write("budget_usd = nan\n")
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("budget_usd must be a finite number", err)
        self.assert_nothing_sent()
        os.remove(os.path.join(self.home, "config.toml"))
        self.assertEqual(self.runs(), [])  # refused before a run was recorded
        for bad in ("-3", "nan", "inf"):  # other number flags too
            rc, out, err = self.fgraph("registry", "find", "Apple", f"--limit={bad}", "--json")
            self.assertEqual(rc, 2, f"--limit={bad}: {out}{err}")
            self.assertEqual(self.json_error(out)["code"], "usage")

    def test_config_and_errors_never_show_secrets_or_url_credentials(self):
        env = self.env(OPENAI_API_KEY="sk-emu-secret-key-WXYZ",
                       FGRAPH_NEO4J_PASSWORD="pw-secret-QRST",
                       FGRAPH_NEO4J_URL="http://neo4j:hunter2pw@127.0.0.1:9")
        for args in (("config",), ("config", "--json")):
            rc, out, err = self.fgraph(*args, env=env)
            self.assertEqual(rc, 0, out + err)
            for secret in ("WXYZ", "QRST", "hunter2pw", "sk-emu"):
                self.assertNotIn(secret, out + err, args)
            self.assertIn("http://****@127.0.0.1:9", out)
        # Neo4j unreachable through a URL with credentials: exit 3, the URL shown without them.
        drop = self.make_drop("a", DROP_A[:1])
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--json", env=env)
        self.assertEqual(rc, 3, out + err)
        error = self.json_error(out)
        self.assertEqual((error["code"], error["exit_code"]), ("unavailable", 3))
        self.assertIn("****@127.0.0.1:9", err)
        for secret in ("hunter2pw", "QRST", "WXYZ"):
            self.assertNotIn(secret, out + err)
        # A provider unreachable through a URL with credentials: the same (a new home, so that
        # nothing is reused from the run above).
        env = self.env(OPENAI_BASE_URL="http://user:tok3n-secret@127.0.0.1:9/v1",
                       FGRAPH_HOME=os.path.join(self.tmp, "home2"))
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-sync", "--log-level", "debug", env=env)
        self.assertEqual(rc, 3, out + err)
        self.assertNotIn("tok3n-secret", out + err)

    def test_wrong_neo4j_password_exits_2(self):
        drop = self.make_drop("a", DROP_A[:2])
        wrong = self.env(FGRAPH_NEO4J_PASSWORD="definitely-not-the-password")
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--json", env=wrong)
        self.assertEqual(rc, 2, out + err)
        error = self.json_error(out)
        self.assertEqual((error["code"], error["exit_code"]), ("unauthorized", 2))
        self.assertEqual(error["detail"], "Neo.ClientError.Security.Unauthorized")
        self.assertNotIn("definitely-not-the-password", out + err)
        [run] = self.runs()
        self.assertEqual(run["state"], "verified")  # paid for and kept: resume stages it
        rc, out, err = self.fgraph("audit", env=wrong)
        self.assertEqual(rc, 2, out + err)
        self.cypher("RETURN 1")  # waits out Neo4j's lockout after the wrong passwords
        report = self.run_json("run", "--resume", run["run_id"])
        self.assertEqual(report["graph"]["documents_staged"], 2)

    def test_provider_refusing_the_key_exits_2_on_every_paid_lane(self):
        drop = self.make_drop("a", DROP_A[:2])
        self.emu.control("/_emulator/config", {"api_keys": ["sk-the-right-key"]})
        for lane in ("openai-batch", "anthropic-batch", "openai-sync"):
            # A home per lane: the requests left open by one lane's refusal are not another's.
            env = self.env(FGRAPH_HOME=os.path.join(self.tmp, "home-" + lane))
            rc, out, err = self.fgraph("run", drop, "--lane", lane, "--json", env=env)
            self.assertEqual(rc, 2, f"{lane}: {out}{err}")
            error = self.json_error(out)
            self.assertEqual((error["code"], error["exit_code"]), ("unauthorized", 2), lane)
            self.assertIn("401", error["message"])
            for key in ("sk-test-emulator-key", "sk-ant-test-emulator-key"):
                self.assertNotIn(key, out + err)
        self.emu.control("/_emulator/config", {"api_keys": None, "http_403": {"count": None}})
        rc, out, err = self.fgraph("run", drop, "--lane", "openai-sync",
                                   env=self.env(FGRAPH_HOME=os.path.join(self.tmp, "home-403")))
        self.assertEqual(rc, 2, out + err)
        self.assertEqual(self.emu.stats()["answered"], {})

    def test_locked_ledger_exits_2(self):
        rc, out, err = self.fgraph("runs")  # creates the ledger
        self.assertEqual(rc, 0, out + err)
        holder = sqlite3.connect(os.path.join(self.home, "fgraph.db"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("CREATE TABLE held_by_test(x)")
            drop = self.make_drop("a", DROP_A[:1])
            rc, out, err = self.fgraph("run", drop, "--lane", "openai-batch", "--json", timeout=120)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        self.assertEqual(rc, 2, out + err)
        error = self.json_error(out)
        self.assertEqual((error["code"], error["exit_code"]), ("ledger_locked", 2))
        self.assertIn("locked", error["message"])
        self.assert_nothing_sent()


class QueryE2ETest(E2EBase):
    """`fgraph query` reads the graph and nothing else (issue 16, defect 2)."""

    def test_query_refuses_writes_and_administration_and_still_reads(self):
        self.run_json("run", self.make_drop("a", DROP_A), "--lane", "openai-batch")
        before = self.export()
        documents = self.cypher("MATCH (d:Document) RETURN count(d)")[0][0]
        self.assertGreater(documents, 0)
        writes = [
            "CREATE (x:Pwned) RETURN x",
            "MATCH (n) DETACH DELETE n",
            "MATCH (e:Entity) SET e.name = 'pwned' RETURN count(e)",
            "MERGE (x:Pwned {k: 1}) RETURN x",
            "MATCH ()-[r]->() DELETE r",
        ]
        for q in writes:
            for extra in ([], ["--json"]):
                rc, out, err = self.fgraph("query", q, *extra)
                self.assertEqual(rc, 2, f"{q}: rc={rc}\nstdout={out}\nstderr={err}")
                self.assertIn("tried to write, and queries are read-only", err, q)
        for q in ["SHOW USERS", "SHOW DATABASES", "TERMINATE TRANSACTIONS 'neo4j-transaction-0'",
                  "CALL dbms.listConfig() YIELD name RETURN name",
                  "CREATE USER pwned SET PASSWORD 'pwned-password'"]:
            rc, out, err = self.fgraph("query", q)
            self.assertEqual(rc, 2, f"{q}: rc={rc}\nstdout={out}\nstderr={err}")
            self.assertIn("query refused", err, q)
            self.assertEqual(out.strip(), "", q)  # no user, database or setting listed
        self.assertEqual(self.export(), before)
        self.assertEqual(self.cypher("SHOW USERS YIELD user WHERE user = 'pwned' RETURN count(*)"), [[0]])
        rc, out, err = self.fgraph("audit")
        self.assertEqual(rc, 0, out + err)
        # A read query still answers.
        rc, out, err = self.fgraph("query", "MATCH (d:Document) RETURN count(d)", "--json")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(json.loads(out.strip().splitlines()[-1]), [str(documents)])


class WritersE2ETest(E2EBase):
    """One writer per home (issue 16, defect 3). Two `fgraph run`s started together on one
    home once created three provider batches for two runs, paid for one run's rows twice
    and died on `database is locked`. Now the first to take $FGRAPH_HOME/writer.lock
    proceeds and the other exits 2 at once, naming it; readers work beside the writer."""

    ROUNDS = 4

    def wait_first_exit(self, procs, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, p in procs.items():
                if p.poll() is not None:
                    return name
            time.sleep(0.02)
        self.fail("neither writer exited within %ss" % timeout)

    def wait_for_run_row(self, timeout=60):
        deadline = time.time() + timeout
        path = os.path.join(self.home, "fgraph.db")
        while time.time() < deadline:
            if not os.path.exists(path):  # connect() would create it
                time.sleep(0.05)
                continue
            try:
                db = sqlite3.connect(path, timeout=5)
                try:
                    if db.execute("SELECT count(*) FROM runs").fetchone()[0] > 0:
                        return
                finally:
                    db.close()
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        self.fail("the writer recorded no run")

    def test_two_writers_started_together_one_proceeds_the_other_exits_2_naming_it(self):
        drops = {"e": self.make_drop("e", DROP_A), "f": self.make_drop("f", DROP_B)}
        for round_no in range(self.ROUNDS):
            with self.subTest(round=round_no):
                self.home = os.path.join(self.tmp, f"home-{round_no}")
                os.makedirs(self.home)
                self.cypher("MATCH (n) DETACH DELETE n")
                self.emu.control("/_emulator/reset", {})
                # The first round keeps its writer busy polling long enough to try the
                # readers and other writers beside it.
                self.emu.control("/_emulator/config", {"polls_to_complete": 3 if round_no == 0 else 1})
                started = time.time()
                procs = {name: subprocess.Popen([BIN, "run", drop, "--lane", "openai-batch", "--json"],
                                                env=self.env(), stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True)
                         for name, drop in sorted(drops.items(), key=lambda kv: (kv[0] != "ef"[round_no % 2]))}
                try:
                    loser = self.wait_first_exit(procs)
                    elapsed = time.time() - started
                    winner = "f" if loser == "e" else "e"
                    out, err = procs[loser].communicate(timeout=10)
                    self.assertEqual(procs[loser].returncode, 2, f"stdout={out}\nstderr={err}")
                    self.assertLess(elapsed, 5.0, err)  # at once, not after waiting
                    self.assertIsNone(procs[winner].poll(), "the writer that proceeds is still running")
                    holder = procs[winner].pid
                    self.assertIn(f"pid {holder} (fgraph run {drops[winner]} --lane openai-batch --json)", err)
                    self.assertIn("writer.lock", err)

                    if round_no == 0:
                        with open(os.path.join(self.home, "writer.lock")) as f:
                            self.assertIn(f"pid={holder}\n", f.read())
                        self.wait_for_run_row()
                        # Readers work beside the writer.
                        for args in (["runs", "--json"], ["status"], ["registry", "find", "Apple"], ["config"],
                                     ["run", drops[loser], "--lane", "openai-batch", "--dry-run"],
                                     ["query", "RETURN 1"]):
                            rc, out, err = self.fgraph(*args)
                            self.assertEqual(rc, 0, f"{args}: {out}{err}")
                        self.assertIsNone(procs[winner].poll(), "the writer held the lock meanwhile")
                        # Every other writing command is refused the same way.
                        for args in (["rollback", "run-x"], ["replay", "run-x"],
                                     ["registry", "merge", "ent_a", "ent_b"], ["registry", "unmerge", "mrg_x"],
                                     ["run", "--resume", "run-x"]):
                            rc, out, err = self.fgraph(*args)
                            self.assertEqual(rc, 2, f"{args}: {out}{err}")
                            self.assertIn(f"pid {holder} (fgraph run {drops[winner]}", err)
                        self.assertIsNone(procs[winner].poll(), "the writer held the lock meanwhile")

                    out, err = procs[winner].communicate(timeout=600)
                    self.assertEqual(procs[winner].returncode, 0, f"stdout={out}\nstderr={err}")
                    first = json.loads(out.splitlines()[-1])
                finally:
                    for p in procs.values():
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                self.assert_reconciled(first)
                self.assertEqual(first["graph"]["documents_staged"], 3)
                # The lock went with its writer: the refused drop now runs.
                second = self.run_json("run", drops[loser], "--lane", "openai-batch")
                self.assert_reconciled(second)
                self.assertEqual(second["graph"]["documents_staged"], 3)
                self.assertEqual(second["requests"]["reused"], 1)  # the filing both drops hold
                stats = self.emu.stats()
                self.assertEqual(stats["batches_created"]["openai"], 2, stats)
                self.assertEqual(len(stats["answered"]), 5, stats["answered"])
                self.assertTrue(all(n == 1 for n in stats["answered"].values()), stats["answered"])
                self.assertEqual(first["cost_usd"] + second["cost_usd"],
                                 sum(u["cost_usd"] for r in (first, second) for u in r["usage"]))
                db = sqlite3.connect(os.path.join(self.home, "fgraph.db"))
                twice = db.execute("SELECT custom_id, attempt FROM attempts GROUP BY custom_id, attempt"
                                   " HAVING count(*) > 1").fetchall()
                attempts = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
                db.close()
                self.assertEqual(twice, [])
                self.assertEqual(attempts, 5)
                rc, out, err = self.fgraph("audit", "--json")
                self.assertEqual(rc, 0, out + err)
                self.assertEqual(json.loads(out)["differences"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

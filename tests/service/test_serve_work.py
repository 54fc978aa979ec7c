"""End-to-end tests of what `fgraph serve` does without being asked: it carries open runs,
takes drops from its inbox, and survives SIGTERM and SIGKILL at any moment. The real
binary, the real Neo4j (fixture `neo4j`), the provider emulator for the openai-batch lane.

Each test has its own home and service process; the graph is wiped before each (the
suite holds the neo4j_db lock), so graph exports compare whole.
"""
import json
import os
import shutil
import signal
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ["FGRAPH_SOURCE_DIR"], "tests", "run"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import BIN, DROP_A, E2EBase  # noqa: E402
from test_serve import Service  # noqa: E402

TOKEN = "test-token-serve-work-0123456789"


class ServeWorkE2ETest(E2EBase):
    def setUp(self):
        super().setUp()
        with open(os.path.join(self.home, "config.toml"), "w") as f:
            # Poll every second (the defaults are 60 s to 300 s), settle inbox files in 1 s.
            f.write("[service]\npoll_initial_s = 1\npoll_max_s = 2\ninbox_settle_s = 1\n")
        self.service = None

    def tearDown(self):
        if self.service and self.service.proc.poll() is None:
            self.service.proc.kill()
            self.service.proc.wait()
        super().tearDown()

    def start(self, *extra):
        self.service = Service(self.home, self.env(FGRAPH_SERVICE_TOKEN=TOKEN, FGRAPH_LANE="openai-batch"),
                               *extra)
        return self.service

    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.service.url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())

    def wait_for(self, what, predicate, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        self.fail(f"timed out waiting for {what}; service log:\n" + "".join(self.service.log[-40:]))

    def run_state(self, run_id):
        status, report = self.api("GET", "/v1/runs/" + run_id)
        self.assertEqual(status, 200)
        return report

    def finished(self, run_id):
        report = self.run_state(run_id)
        return report if report["state"] == "finished" else None

    def assert_each_row_answered_once(self):
        stats = self.emu.stats()
        self.assertEqual(stats["batches_created"]["openai"], 1, stats)
        self.assertTrue(all(n == 1 for n in stats["answered"].values()), stats["answered"])

    # ------------------------------------------------------------------ tests
    def test_batch_left_open_by_no_wait_is_finished_by_the_service_alone(self):
        self.emu.control("/_emulator/config", {"polls_to_complete": 3})
        drop = self.make_drop("a", DROP_A)
        first = self.run_json("run", drop, "--lane", "openai-batch", "--no-wait")
        self.assertGreater(first["requests"]["in_flight"], 0)
        self.start()
        report = self.wait_for("the run to finish", lambda: self.finished(first["run_id"]))
        self.assert_reconciled(report)
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        self.assert_each_row_answered_once()
        self.assertEqual(self.service.stop(), 0)

    def test_inbox_drop_ends_staged_and_filed_away(self):
        inbox = os.path.join(self.tmp, "inbox")
        os.makedirs(inbox)
        self.start("--inbox", inbox)
        staging = self.make_drop("incoming", DROP_A)
        open(os.path.join(staging, "empty.txt"), "w").close()  # unreadable: failed, with a reason
        for name in os.listdir(staging):
            os.rename(os.path.join(staging, name), os.path.join(inbox, name))  # moved in
        done_root = os.path.join(inbox, ".fgraph", "done")
        run_dirs = self.wait_for("the inbox run to be filed",
                                 lambda: os.path.isdir(done_root) and os.listdir(done_root))
        self.assertEqual(len(run_dirs), 1)
        run_id = run_dirs[0]
        self.assertEqual(sorted(os.listdir(os.path.join(done_root, run_id))),
                         sorted(os.path.basename(f) for f in DROP_A))
        failed = os.path.join(inbox, ".fgraph", "failed")
        self.assertTrue(os.path.exists(os.path.join(failed, "empty.txt")))
        with open(os.path.join(failed, "empty.txt.reason")) as f:
            self.assertIn("empty_file", f.read())
        report = self.run_state(run_id)
        self.assertEqual(report["state"], "finished")
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        self.assertEqual([n for n in os.listdir(inbox) if not n.startswith(".")], [])
        self.assertEqual(self.service.stop(), 0)

    def _interrupted_then_restarted(self, sig):
        """A run started over HTTP on the batch lane, the service stopped by `sig` while
        the batch is open, then started again: returns the finished report."""
        self.emu.control("/_emulator/config", {"polls_to_complete": 6})
        drops_root = self.home + "-drops"  # the default drops root
        os.makedirs(drops_root, exist_ok=True)
        self.make_drop("a", DROP_A)
        shutil.move(os.path.join(self.tmp, "a"), os.path.join(drops_root, "a"))
        self.start()
        status, body = self.api("POST", "/v1/runs", {"drop": "a", "lane": "openai-batch"})
        self.assertEqual(status, 202, body)
        run_id = body["run_id"]
        self.wait_for("the batch to be submitted", lambda: self.emu.stats()["batches_created"]["openai"] == 1)
        t0 = time.time()
        self.service.proc.send_signal(sig)
        rc = self.service.proc.wait(timeout=35)
        if sig == signal.SIGTERM:
            self.assertEqual(rc, 0)
            self.assertLess(time.time() - t0, 30)
        self.service.drain.join(timeout=5)
        self.start()
        report = self.wait_for("the run to finish after the restart", lambda: self.finished(run_id))
        self.assert_reconciled(report)
        self.assertEqual(report["graph"]["documents_staged"], len(DROP_A))
        self.assert_each_row_answered_once()
        self.assertEqual(self.service.stop(), 0)
        return run_id

    def test_sigterm_mid_run_then_restart_finishes_it(self):
        self._interrupted_then_restarted(signal.SIGTERM)
        self.assertEqual(self.fgraph("audit")[0], 0)

    def test_sigkill_mid_run_then_restart_equals_an_uninterrupted_run(self):
        run_id = self._interrupted_then_restarted(signal.SIGKILL)
        graph = self.normalized_export(run_id)
        registry = self.registry_dump([run_id], row_ids=False)
        # The same drop, uninterrupted, by the command line in a fresh home.
        self.cypher("MATCH (n) DETACH DELETE n")
        self.emu.control("/_emulator/reset", {})
        drop = os.path.join(self.home + "-drops", "a")  # the same paths: sources compare equal
        self.home = os.path.join(self.tmp, "home2")
        os.makedirs(self.home)
        report = self.run_json("run", drop, "--lane", "openai-batch")
        self.assertEqual(self.normalized_export(report["run_id"]), graph)
        self.assertEqual(self.registry_dump([report["run_id"]], row_ids=False), registry)


if __name__ == "__main__":
    unittest.main()

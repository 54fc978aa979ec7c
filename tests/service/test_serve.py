"""End-to-end tests of `fgraph serve`: the real binary over real HTTP, the real Neo4j
(ctest fixture `neo4j`) and the provider emulator for the openai-batch lane.

One service runs for the whole class (started in setUpClass, stopped with SIGTERM in
tearDownClass, which must exit 0). Its home has a config.toml that lowers the upload
limit and the idle timeout so that the hostile-request tests take seconds.

Environment (tests/service/CMakeLists.txt): FGRAPH_BIN, FGRAPH_CORPUS_DIR,
FGRAPH_SOURCE_DIR, FGRAPH_TEST_NEO4J_ENV.
"""
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ["FGRAPH_SOURCE_DIR"], "tests", "run"))
from test_e2e import BIN, CORPUS, E2EBase, Emulator, read_env_file  # noqa: E402

UPLOAD_LIMIT = 200_000
IDLE_TIMEOUT_MS = 1500
FILINGS = ["sec/ex21_aapl.html", "sec/0000887919-21-000012.html", "sec/374WaterForm4.xml"]


class Service:
    """`fgraph serve` as a child process; its stderr is kept to check the logs."""

    def __init__(self, home, env, *extra):
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", *extra], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise AssertionError("fgraph serve did not start:\n" + "".join(self.log) +
                                 self.proc.stderr.read())
        self.url = f"http://127.0.0.1:{self.port}"
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.drain.join(timeout=5)
        return rc


class ServeE2ETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.neo4j = read_env_file(os.environ["FGRAPH_TEST_NEO4J_ENV"])
        # The database is shared: what other suites left would be "extra" to our audit.
        E2EBase.cypher(cls, "MATCH (n) DETACH DELETE n")
        cls.emu = Emulator()
        cls.tmp = tempfile.mkdtemp(prefix="fgraph_serve_")
        cls.home = os.path.join(cls.tmp, "home")
        cls.outside = os.path.join(cls.tmp, "outside")
        os.makedirs(cls.home)
        os.makedirs(cls.outside)
        with open(os.path.join(cls.home, "config.toml"), "w") as f:
            f.write(f"[service]\nmax_upload_bytes = {UPLOAD_LIMIT}\nidle_timeout_ms = {IDLE_TIMEOUT_MS}\n"
                    "poll_initial_s = 1\npoll_max_s = 2\n")
        cls.drops = cls.home + "-drops"  # the default drops root
        cls.env = dict(os.environ)
        cls.env.pop("FGRAPH_SERVICE_TOKEN", None)
        cls.env.update({
            "FGRAPH_HOME": cls.home,
            "FGRAPH_NEO4J_URL": cls.neo4j["FGRAPH_NEO4J_URL"],
            "FGRAPH_NEO4J_USER": cls.neo4j.get("FGRAPH_NEO4J_USER", "neo4j"),
            "FGRAPH_NEO4J_PASSWORD": cls.neo4j["FGRAPH_NEO4J_PASSWORD"],
            "OPENAI_BASE_URL": cls.emu.base + "/v1",
            "OPENAI_API_KEY": "sk-test-emulator-key",
        })
        cls.service = Service(cls.home, cls.env)
        with open(os.path.join(cls.home, "service.token")) as f:
            cls.token = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        rc = cls.service.stop()
        cls.emu.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "fgraph serve exited %s after SIGTERM" % rc

    # ------------------------------------------------------------------ helpers
    def request(self, method, path, body=None, token=True, headers=None, conn=None):
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = "Bearer " + self.token
        elif token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = conn or http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=60)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        ctype = r.getheader("Content-Type", "")
        parsed = json.loads(data) if data and ctype.startswith("application/json") else data.decode()
        return r.status, parsed, r

    def assert_error(self, status, body, expected_status, code=None):
        self.assertEqual(status, expected_status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), {"error"})
        self.assertTrue(body["error"]["message"])
        if code:
            self.assertEqual(body["error"]["code"], code)

    def cli(self, *args):
        p = subprocess.run([BIN, *args], env=self.env, capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def operations(self):
        status, doc, _ = self.request("GET", "/v1/openapi.json")
        self.assertEqual(status, 200)
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                yield path, method.upper(), op

    def outside_untouched(self):
        self.assertEqual(os.listdir(self.outside), [])

    def wait_for_run(self, run_id, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, report, _ = self.request("GET", "/v1/runs/" + run_id)
            self.assertEqual(status, 200, report)
            if report["state"] in ("staged", "finished") and report["requests"]["in_flight"] == 0:
                return report
            time.sleep(0.5)
        self.fail("run %s did not finish: %s" % (run_id, report))

    # ------------------------------------------------------------------ tests
    def test_every_route_but_healthz_needs_the_token(self):
        for path, method, op in self.operations():
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            status, body, r = self.request(method, concrete, token=None)
            if path == "/healthz":
                self.assertEqual(status, 200)
                self.assertEqual(body, {"status": "ok"})
                continue
            self.assert_error(status, body, 401, "unauthorized")
            self.assertEqual(r.getheader("WWW-Authenticate"), "Bearer")
            status, body, _ = self.request(method, concrete, token="not-the-token")
            self.assert_error(status, body, 401, "unauthorized")
            status, body, _ = self.request(method, concrete)
            self.assertNotIn(status, (401, 405), f"{method} {concrete}: {body}")
            if status == 404:  # an unknown object "x", not an unknown route
                self.assertNotIn("no such route", body["error"]["message"])

    def test_openapi_documents_exactly_the_routes_served(self):
        documented = {}
        for path, method, op in self.operations():
            documented.setdefault(path, set()).add(method)
        self.assertEqual(len(documented), 18)
        for path, methods in documented.items():
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                status, body, r = self.request(method, concrete)
                if method in methods:
                    self.assertNotEqual(status, 405, f"{method} {concrete}")
                    if status == 404:
                        self.assertNotIn("no such route", body["error"]["message"])
                else:
                    self.assert_error(status, body, 405, "method_not_allowed")
                    self.assertEqual(set(r.getheader("Allow").split(", ")), methods)
        status, body, _ = self.request("GET", "/v1/undocumented")
        self.assert_error(status, body, 404, "not_found")
        status, body, _ = self.request("GET", "/v1/runs/x/y/z")
        self.assert_error(status, body, 404, "not_found")

    def test_token_file_is_private_and_never_logged(self):
        path = os.path.join(self.home, "service.token")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(len(self.token), 64)
        log = "".join(self.service.log)
        self.assertIn(path, log)
        self.assertNotIn(self.token, log)

    def test_a_token_file_others_can_read_is_refused(self):
        home = os.path.join(self.tmp, "home_open_token")
        os.makedirs(home)
        token_file = os.path.join(home, "token")
        with open(token_file, "w") as f:
            f.write("sekret-token\n")
        os.chmod(token_file, 0o644)
        with open(os.path.join(home, "config.toml"), "w") as f:
            f.write(f'[service]\ntoken_file = "{token_file}"\n')
        env = dict(self.env, FGRAPH_HOME=home)
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0"], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("0600", p.stderr)
        self.assertNotIn("sekret-token", p.stderr)

    def test_non_loopback_needs_allow_remote(self):
        home = os.path.join(self.tmp, "home_remote")
        p = subprocess.run([BIN, "serve", "--listen", "0.0.0.0:0"], env=dict(self.env, FGRAPH_HOME=home),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--allow-remote", p.stderr)

    def test_a_second_writer_exits_2_naming_the_service(self):
        drop = os.path.join(self.tmp, "cli_drop")
        os.makedirs(drop, exist_ok=True)
        shutil.copy(os.path.join(CORPUS, FILINGS[0]), drop)
        rc, out, err = self.cli("run", drop, "--lane", "openai-batch")
        self.assertEqual(rc, 2, err)
        self.assertIn(self.service.url, err)
        rc, out, err = self.cli("registry", "merge", "ent_1", "ent_2")
        self.assertEqual(rc, 2, err)
        self.assertIn(self.service.url, err)
        # Readers work beside it.
        rc, out, err = self.cli("runs", "--json")
        self.assertEqual(rc, 0, err)

    def test_hostile_requests_get_clear_answers(self):
        # A JSON body over 1 MiB.
        status, body, _ = self.request("POST", "/v1/runs", body=b"{" + b" " * (1 << 20) + b"}",
                                       headers={"Content-Type": "application/json"})
        self.assert_error(status, body, 413, "body_too_large")
        # Headers beyond the limit.
        status, body, _ = self.request("GET", "/v1/runs", headers={"X-Big": "a" * 40000})
        self.assert_error(status, body, 431, "header_too_large")
        # Malformed JSON names the problem.
        status, body, _ = self.request("POST", "/v1/runs", body=b'{"drop": "a",', headers={"Content-Type": "application/json"})
        self.assert_error(status, body, 400, "invalid_input")
        self.assertIn("malformed JSON", body["error"]["message"])
        self.assertIn("parse error", body["error"]["message"])
        status, body, _ = self.request("POST", "/v1/runs", body=[1, 2])
        self.assert_error(status, body, 400)
        status, body, _ = self.request("POST", "/v1/runs", body={"lane": "openai-batch"})
        self.assert_error(status, body, 400)
        self.assertIn('"drop"', body["error"]["message"])
        status, body, _ = self.request("POST", "/v1/runs", body={"drop": "x", "budget_usd": -1})
        self.assert_error(status, body, 400)
        status, body, _ = self.request("POST", "/v1/runs", body={"drop": "x", "on_failure": "stop"})
        self.assert_error(status, body, 400)
        self.assertIn('"on_failure"', body["error"]["message"])
        status, body, _ = self.request("POST", "/v1/runs", body={"drop": "x", "canary": 1.5})
        self.assert_error(status, body, 400)
        self.assertIn('"canary"', body["error"]["message"])
        status, body, _ = self.request("GET", "/v1/registry/entities?q=a&limit=-3")
        self.assert_error(status, body, 400)
        status, body, _ = self.request("GET", "/v1/registry/entities")
        self.assert_error(status, body, 400)
        # Unknown route, wrong method.
        status, body, _ = self.request("GET", "/nope")
        self.assert_error(status, body, 404, "not_found")
        status, body, r = self.request("DELETE", "/v1/runs")
        self.assert_error(status, body, 405, "method_not_allowed")
        self.assertEqual(r.getheader("Allow"), "GET, POST")

    def test_upload_over_its_limit_is_413_and_leaves_nothing(self):
        status, body, _ = self.request("PUT", "/v1/drops/big/f.txt", body=b"x" * (UPLOAD_LIMIT + 1))
        self.assert_error(status, body, 413, "body_too_large")
        # Chunked: the limit holds without a Content-Length too.
        c = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=30)
        c.putrequest("PUT", "/v1/drops/big/g.txt")
        c.putheader("Authorization", "Bearer " + self.token)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        try:
            for _ in range(30):
                chunk = b"y" * 10000
                c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            c.send(b"0\r\n\r\n")
            r = c.getresponse()
            self.assertEqual(r.status, 413)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered 413 and closed before the last chunk
        c.close()
        big = os.path.join(self.drops, "big")
        self.assertEqual(os.listdir(big) if os.path.isdir(big) else [], [])

    def test_paths_that_leave_the_drops_root_are_400_and_touch_nothing(self):
        os.makedirs(self.drops, exist_ok=True)
        link = os.path.join(self.drops, "escape")
        if not os.path.islink(link):
            os.symlink(self.outside, link)
        before = sorted(os.listdir(self.drops))
        for target in ["/v1/drops/../x", "/v1/drops/d/..", "/v1/drops/..%2F..%2Fx/f", "/v1/drops/d/..%2F..%2Fx",
                       "/v1/drops/%2Ftmp/x", "/v1/drops/d/a%00b", "/v1/drops/d/a%1b%5b31m", "/v1/drops/d/a%0Ab",
                       "/v1/drops/escape/f.txt", "/v1/drops/d%2F%2Fe/f", "/v1/drops/./f", "/v1/drops/d/a%5c..%5cb"]:
            status, body, _ = self.request("PUT", target, body=b"filing")
            self.assertIn(status, (400, 404), f"{target}: {body}")
            self.assertIsInstance(body, dict)
            self.assertIn("error", body)
        for drop in ["../outside", "/etc", "escape", "a/../../x", "", "a\x00b"]:
            status, body, _ = self.request("POST", "/v1/runs", body={"drop": drop, "lane": "openai-batch"})
            self.assert_error(status, body, 400)
        self.assertEqual(sorted(os.listdir(self.drops)), before)
        self.outside_untouched()

    def test_a_slow_client_is_cut_while_others_are_served(self):
        slow = socket.create_connection(("127.0.0.1", self.service.port))
        slow.sendall(b"GET /v1/runs HTTP/1.1\r\nHost: x\r\n")
        started = time.time()
        # Others are answered at once meanwhile, on both HTTP threads.
        for _ in range(10):
            status, _, _ = self.request("GET", "/healthz", token=None)
            self.assertEqual(status, 200)
        self.assertLess(time.time() - started, IDLE_TIMEOUT_MS / 1000)
        closed = False
        try:
            for _ in range(20):  # a header line every 0.3 s: never completes the head
                slow.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            slow.settimeout(5)
            try:
                closed = slow.recv(1024) == b""
            except ConnectionResetError:
                closed = True
        slow.close()
        self.assertTrue(closed, "the slow client was not cut")
        self.assertLess(time.time() - started, IDLE_TIMEOUT_MS / 1000 + 6.5)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        c = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=30)
        for _ in range(5):
            status, body, _ = self.request("GET", "/v1/alerts", conn=c)
            self.assertEqual(status, 200)
            self.assertEqual(body, {"alerts": []})
        c.close()

    def test_upload_run_registry_replay_rollback(self):
        # Upload a drop, file by file.
        for f in FILINGS:
            with open(os.path.join(CORPUS, f), "rb") as src:
                data = src.read()
            name = os.path.basename(f)
            status, body, _ = self.request("PUT", "/v1/drops/q1/" + name, body=data)
            self.assertEqual(status, 201, body)
            self.assertEqual(body["bytes"], len(data))
            with open(os.path.join(self.drops, "q1", name), "rb") as stored:
                self.assertEqual(stored.read(), data)
        self.assertEqual(sorted(os.listdir(os.path.join(self.drops, "q1"))),
                         sorted(os.path.basename(f) for f in FILINGS))

        # Run it on the emulator's batch lane.
        status, body, _ = self.request("POST", "/v1/runs", body={
            "drop": "q1", "lane": "openai-batch", "budget_usd": 5, "tags": {"cycle": "2026Q1"},
            "on_failure": "halt", "canary": 0})
        self.assertEqual(status, 202, body)
        run_id = body["run_id"]
        # A second run of the same drop while the first is in progress conflicts.
        status, again, _ = self.request("POST", "/v1/runs", body={"drop": "q1", "lane": "openai-batch"})
        if status != 202:  # unless the first one has already finished
            self.assert_error(status, again, 409, "conflict")
        else:
            self.wait_for_run(again["run_id"])
        report = self.wait_for_run(run_id)
        self.assertGreater(report["graph"]["documents_staged"], 0, report)
        self.assertTrue(report["identity_holds"])
        self.assertEqual(report["on_failure"], "halt")  # the body's policy, not the default
        # The same object as `fgraph status --json`.
        rc, out, err = self.cli("status", run_id, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), report)
        status, runs, _ = self.request("GET", "/v1/runs")
        self.assertIn(run_id, [r["run_id"] for r in runs["runs"]])

        # The registry over HTTP answers as the CLI does.
        rc, out, err = self.cli("registry", "find", "Apple", "--json")
        self.assertEqual(rc, 0, err)
        expected = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertTrue(expected)
        status, found, _ = self.request("GET", "/v1/registry/entities?q=Apple")
        self.assertEqual(status, 200)
        self.assertEqual(found["candidates"], expected)
        entity = expected[0]["entity_id"]
        status, shown, _ = self.request("GET", "/v1/registry/entities/" + entity)
        rc, out, _ = self.cli("registry", "show", entity, "--json")
        self.assertEqual(shown, json.loads(out))
        status, hist, _ = self.request("GET", f"/v1/registry/entities/{entity}/history")
        rc, out, _ = self.cli("registry", "history", entity, "--json")
        self.assertEqual(hist["history"], [json.loads(l) for l in out.splitlines() if l.strip()])
        status, body, _ = self.request("GET", "/v1/registry/entities/ent_missing")
        self.assert_error(status, body, 404, "not_found")

        # 200 concurrent queries, each answered as the CLI answers it.
        names = ["Apple", "Braeburn", "Apple Operations", "Water", "Snowflake", "Form"]
        answers = {}
        for n in names:
            rc, out, _ = self.cli("registry", "find", n, "--json", "--limit", "5")
            answers[n] = [json.loads(l) for l in out.splitlines() if l.strip()]

        def query(i):
            n = names[i % len(names)]
            c = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=60)
            c.request("GET", "/v1/registry/entities?limit=5&q=" + n.replace(" ", "+"),
                      headers={"Authorization": "Bearer " + self.token})
            r = c.getresponse()
            data = json.loads(r.read())
            c.close()
            return n, r.status, data

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(query, range(200)))
        self.assertEqual(len(results), 200)
        for n, status, data in results:
            self.assertEqual(status, 200)
            self.assertEqual(data["candidates"], answers[n], n)

        # Metrics and audit read the same ledger.
        status, text, r = self.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain"))
        staged = re.search(r'^fgraph_documents\{state="staged"\} (\d+)$', text, re.M)
        self.assertIsNotNone(staged, text)
        self.assertGreaterEqual(int(staged.group(1)), report["graph"]["documents_staged"])
        self.assertRegex(text, r'fgraph_http_requests_total\{route="find_entities",status="200"\} \d+')
        self.assertRegex(text, r'fgraph_cost_usd\{lane="openai-batch",model="[^"]+"\} ')
        status, audit, _ = self.request("GET", "/v1/audit")
        self.assertEqual(status, 200, audit)
        self.assertEqual(audit["counts"], {}, audit)

        # Replay, then roll back, through the job executor.
        status, replayed, _ = self.request("POST", f"/v1/runs/{run_id}/replay")
        self.assertEqual(status, 200, replayed)
        self.assertEqual(replayed["graph"]["documents_staged"], report["graph"]["documents_staged"])
        status, rolled, _ = self.request("POST", f"/v1/runs/{run_id}/rollback", body={})
        self.assertEqual(status, 200, rolled)
        self.assertEqual(rolled["state"], "rolled_back")
        status, after, _ = self.request("GET", "/v1/runs/" + run_id)
        self.assertEqual(after["state"], "rolled_back")
        status, body, _ = self.request("POST", "/v1/runs/run-nope/replay")
        self.assert_error(status, body, 404)

        # Replay restores what the rollback removed (the registry too).
        status, restored, _ = self.request("POST", f"/v1/runs/{run_id}/replay")
        self.assertEqual(status, 200, restored)
        self.assertEqual(restored["graph"]["documents_staged"], report["graph"]["documents_staged"])

        # Merge two companies and undo it.
        companies = [c for c in self.request("GET", "/v1/registry/entities?q=Apple&type=COMPANY&limit=20")[1]["candidates"]]
        self.assertGreaterEqual(len(companies), 2, companies)
        a, b = companies[0]["entity_id"], companies[1]["entity_id"]
        status, merged, _ = self.request("POST", "/v1/registry/merges", body={"a": a, "b": b})
        self.assertEqual(status, 201, merged)
        self.assertEqual((merged["survivor_id"], merged["merged_id"], merged["state"]), (a, b, "active"))
        status, shown, _ = self.request("GET", "/v1/registry/entities/" + b)
        self.assertIn(merged["merge_id"], [m["merge_id"] for m in shown["merges"]])
        status, undone, _ = self.request("DELETE", "/v1/registry/merges/" + merged["merge_id"])
        self.assertEqual((status, undone), (200, {"merge_id": merged["merge_id"], "state": "undone"}))
        status, body, _ = self.request("DELETE", "/v1/registry/merges/" + merged["merge_id"])
        self.assert_error(status, body, 400)
        status, body, _ = self.request("POST", "/v1/registry/merges", body={"a": "ent_nope", "b": "ent_nope2"})
        self.assert_error(status, body, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)

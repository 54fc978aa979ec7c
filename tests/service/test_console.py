"""The web console of `fgraph serve` (issue 19) in a real browser: Debian's headless
Chromium driven by chromium-driver over W3C WebDriver (plain HTTP JSON, urllib only), the
real binary, the real Neo4j (fixture `neo4j`) and the provider emulator on the
openai-batch lane.

Two runs are made with the command line before the service starts: run B from real filings
with the emulator in `concatenating` mode (every quote comes from a sibling document, so
verify drops facts as cross-document leaks and raises leak alarms), and run A from real
filings plus a hostile submission (a filer name of `<script>`, `<img onerror>` and 10 KB,
and the same in its text) with the deterministic extractor. Then the browser logs in,
opens every page and checks the DOM against the ledger, `fgraph status --json` and
`fgraph registry show --json`; the last test rolls run A back from its button and checks
that the graph is what it was before run A, as `fgraph rollback` leaves it.

Screenshots of each page go to $FGRAPH_ARTIFACTS_DIR (the test's build folder).
"""
import base64
import http.cookiejar
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.environ["FGRAPH_SOURCE_DIR"], "tests", "run"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_e2e import BIN, CORPUS, DROP_A, DROP_B, E2EBase, Emulator, read_env_file  # noqa: E402
from test_serve import Service  # noqa: E402

TOKEN = "test-token-console-0123456789abcdef"
ARTIFACTS = os.environ.get("FGRAPH_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="fgraph_console_shots_")
LONG_NAME = "Q" * 10240
HOSTILE_NAME = "<script>alert('name')</script><img src=x onerror=alert('img')> " + LONG_NAME
HOSTILE_LINES = [
    "Evil Holdings Inc. owns 100% of Target Works Corp. <script>alert('body')</script>",
    "Target Works Corp. <img src=x onerror=alert('onerror')> is a subsidiary of Evil Holdings Inc.",
    "Read more at <a href=\"javascript:alert('link')\">Javascript Partners LLC</a> today.",
]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hostile_filing(path):
    """A real submission (the 24F-2NT in the corpus) with a hostile filer name and text."""
    with open(os.path.join(CORPUS, "sec/0000950129-95-001652.txt"), encoding="latin-1") as f:
        text = f.read()
    text = text.replace("COMMON SENSE TRUST", HOSTILE_NAME, 1)
    text = text.replace("0000950129-95-001652", "0000950129-95-009999")
    text = text.replace("<TEXT>\n", "<TEXT>\n" + "\n".join(HOSTILE_LINES) + "\n", 1)
    with open(path, "w", encoding="latin-1") as f:
        f.write(text)


class WebDriver:
    """The few W3C WebDriver commands the test needs, against chromium-driver."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 20
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": shutil.which("chromium") or "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--no-first-run", "--disable-extensions"]}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            value = json.loads(e.read())["value"]
            raise WebDriverError(value.get("error"), value.get("message", ""))

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def url(self):
        return self.cmd("GET", "/url")

    def find(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def find_all(self, css):
        return [e[ELEMENT] for e in self.cmd("POST", "/elements", {"using": "css selector", "value": css})]

    def text(self, element):
        return self.cmd("GET", f"/element/{element}/text")

    def click(self, element):
        self.cmd("POST", f"/element/{element}/click", {})

    def type(self, element, text):
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def alert_text(self):
        try:
            return self.cmd("GET", "/alert/text")
        except WebDriverError as e:
            if e.error == "no such alert":
                return None
            raise

    def console(self):
        """Browser console entries since the last call."""
        return self.cmd("POST", "/se/log", {"type": "browser"})

    def screenshot(self, name):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(os.path.join(ARTIFACTS, name + ".png"), "wb") as f:
            f.write(png)

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class WebDriverError(Exception):
    def __init__(self, error, message):
        super().__init__(f"{error}: {message}")
        self.error = error


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ConsoleE2ETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.set_up()
        except BaseException:
            cls.tearDownClass()  # unittest does not when setUpClass fails
            raise

    @classmethod
    def set_up(cls):
        cls.service = cls.browser = cls.emu = None
        os.makedirs(ARTIFACTS, exist_ok=True)
        cls.neo4j = read_env_file(os.environ["FGRAPH_TEST_NEO4J_ENV"])
        E2EBase.cypher(cls, "MATCH (n) DETACH DELETE n")
        cls.emu = Emulator()
        cls.tmp = tempfile.mkdtemp(prefix="fgraph_console_")
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(cls.home)
        # FGRAPH_EXTRACT=model: every document goes to the (emulated) model, forms included,
        # whatever extractor the configuration would pick for them.
        cls.env = E2EBase.env(cls, FGRAPH_SERVICE_TOKEN=TOKEN, FGRAPH_EXTRACT="model")
        # Run B: leaks and dropped facts (every quote comes from another document).
        cls.emu.control("/_emulator/config", {"mode": "concatenating"})
        cls.run_b = cls.run_cli(cls.make_drop("b", DROP_B))["run_id"]
        cls.graph_before_a = E2EBase.export(cls)
        # Run A: accepted facts, and the hostile filing.
        cls.emu.control("/_emulator/config", {"mode": "deterministic"})
        drop_a = cls.make_drop("a", DROP_A)
        hostile_filing(os.path.join(drop_a, "hostile.txt"))
        cls.report_a = cls.run_cli(drop_a)
        cls.run_a = cls.report_a["run_id"]
        cls.service = Service(cls.home, cls.env)
        cls.url = cls.service.url
        cls.browser = WebDriver()

    @classmethod
    def tearDownClass(cls):
        for part, stop in ((cls.browser, "quit"), (cls.service, "stop"), (cls.emu, "stop")):
            try:
                if part is not None:
                    getattr(part, stop)()
            except Exception:  # noqa: BLE001 - best effort
                pass
        shutil.rmtree(getattr(cls, "tmp", ""), ignore_errors=True)

    @classmethod
    def make_drop(cls, name, files):
        drop = os.path.join(cls.tmp, name)
        os.makedirs(drop)
        for f in files:
            shutil.copy(os.path.join(CORPUS, f), drop)
        return drop

    @classmethod
    def run_cli(cls, drop):
        p = subprocess.run([BIN, "run", drop, "--lane", "openai-batch", "--json"], env=cls.env,
                           capture_output=True, text=True, timeout=300)
        # Exit 1 when verify raised leak alarms (run B); the run itself must have finished.
        report = json.loads(p.stdout.strip().splitlines()[-1])
        assert p.returncode in (0, 1) and report["state"] == "finished", p.stdout + p.stderr
        return report

    def cli_json(self, *args):
        p = subprocess.run([BIN, *args, "--json"], env=self.env, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    def ledger(self, sql, *params):
        db = sqlite3.connect(os.path.join(self.home, "fgraph.db"))
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    # ------------------------------------------------------------------ browser helpers
    def open(self, path, shot=None):
        self.browser.get(self.url + path)
        if shot:
            self.browser.screenshot(shot)
        self.assertIsNone(self.browser.alert_text(), "a dialog opened on " + path)
        errors = [e for e in self.browser.console() if e.get("level") == "SEVERE"]
        self.assertEqual(errors, [], "console errors on " + path)

    def login(self):
        self.browser.get(self.url + "/ui/runs/" + self.run_a)
        if "/ui/login?next=" not in self.browser.url():  # logged in by an earlier test
            return
        self.browser.screenshot("login")
        self.browser.type(self.browser.find("input[name=token]"), TOKEN)
        self.browser.click(self.browser.find("form.login button"))
        self.wait_for_url(self.url + "/ui/runs/" + self.run_a)

    def wait_for_url(self, url, timeout=60):
        """A POST's answer waits for its job: the click returns before the page changes."""
        deadline = time.time() + timeout
        while self.browser.url() != url:
            if time.time() > deadline:
                page = self.browser.js("return document.querySelector('main').innerText.slice(0, 800)")
                self.fail(f"still at {self.browser.url()}, expected {url}; the page says:\n{page}\n"
                          "service log:\n" + "".join(self.service.log[-15:]))
            time.sleep(0.1)

    def doc_ids(self, run_id):
        return [r[0] for r in self.ledger("SELECT doc_id FROM run_documents WHERE run_id = ?", run_id)]

    # ------------------------------------------------------------------ plain HTTP
    def http(self, method, path, data=None, cookies=None):
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(cookies)
                                             if cookies is not None else urllib.request.BaseHandler())
        body = None if data is None else urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method)
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def http_session(self):
        """Logs in with urllib: the login form's nonce cookie, then the session cookie."""
        jar = http.cookiejar.CookieJar()
        status, _, form = self.http("GET", "/ui/login", cookies=jar)
        self.assertEqual(status, 200)
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)
        status, headers, _ = self.http("POST", "/ui/login", {"token": TOKEN, "csrf": nonce, "next": "/ui/"}, jar)
        self.assertEqual(status, 303)
        self.assertIn("HttpOnly", headers.get("Set-Cookie", ""))
        self.assertIn("SameSite=Strict", headers.get("Set-Cookie", ""))
        return jar

    # ------------------------------------------------------------------ tests
    def test_1_without_a_session_pages_redirect_and_posts_are_refused(self):
        doc = self.doc_ids(self.run_a)[0]
        pages = ["/ui/", "/ui", f"/ui/runs/{self.run_a}", f"/ui/runs/{self.run_a}/dropped",
                 f"/ui/runs/{self.run_a}/documents/{urllib.parse.quote(doc)}", "/ui/cost",
                 "/ui/search?q=apple", "/ui/entities/x", f"/ui/runs/{self.run_a}/rollback"]
        for page in pages:
            status, headers, _ = self.http("GET", page)
            self.assertEqual(status, 303, page)
            self.assertTrue(headers["Location"].startswith("/ui/login?next="), page)
            self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
        posts = [f"/ui/runs/{self.run_a}/rollback", f"/ui/runs/{self.run_a}/replay",
                 "/ui/merges/mrg_1/unmerge", "/ui/logout"]
        for post in posts:
            self.assertEqual(self.http("POST", post, {"csrf": "x"})[0], 403, post)
        # With a session, but without the session's CSRF token (or with another one).
        jar = self.http_session()
        self.assertEqual(self.http("GET", "/ui/", cookies=jar)[0], 200)
        for post in posts:
            self.assertEqual(self.http("POST", post, {}, jar)[0], 403, post)
            self.assertEqual(self.http("POST", post, {"csrf": "0" * 64}, jar)[0], 403, post)
        # The login itself: a wrong token, and a form without its nonce cookie.
        status, _, form = self.http("GET", "/ui/login", cookies=http.cookiejar.CookieJar())
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)
        self.assertEqual(self.http("POST", "/ui/login", {"token": TOKEN, "csrf": nonce})[0], 403)
        jar = http.cookiejar.CookieJar()
        _, _, form = self.http("GET", "/ui/login", cookies=jar)
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)
        status, _, form = self.http("POST", "/ui/login", {"token": "wrong", "csrf": nonce}, jar)
        self.assertEqual(status, 401)
        # Redirects after a login stay on the console.
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)
        status, headers, _ = self.http("POST", "/ui/login", {"token": TOKEN, "csrf": nonce,
                                                             "next": "//evil.example/"}, jar)
        self.assertEqual((status, headers["Location"]), (303, "/ui/"))
        # Nothing changed: run A is still finished.
        self.assertEqual(self.cli_json("status", self.run_a)["state"], "finished")

    def test_2_pages_show_what_the_ledger_and_the_cli_say(self):
        self.login()
        # Runs: both runs, newest first, the alerts and batches sections when any.
        self.open("/ui/", "runs")
        rows = self.browser.js("return [...document.querySelectorAll('table.runs tr[data-run-id]')]"
                               ".map(r => r.dataset.runId)")
        self.assertEqual(rows, [self.run_a, self.run_b])

        # Run B: dropped facts by reason as `fgraph status --json` has them, each with its list.
        status_b = self.cli_json("status", self.run_b)
        self.assertTrue(status_b["facts"]["dropped_by_reason"], status_b)
        self.assertTrue(status_b["leak_alarms"], status_b)
        self.open(f"/ui/runs/{self.run_b}", "run")
        by_reason = self.browser.js(
            "return Object.fromEntries([...document.querySelectorAll('table.dropped-by-reason tr[data-reason]')]"
            ".map(r => [r.dataset.reason, Number(r.querySelector('td.num').textContent)]))")
        self.assertEqual(by_reason, status_b["facts"]["dropped_by_reason"])
        for reason, n in status_b["facts"]["dropped_by_reason"].items():
            self.open(f"/ui/runs/{self.run_b}/dropped?reason={reason}")
            listed = self.browser.js("return [...document.querySelectorAll('table.drops tbody tr')]"
                                     ".map(r => r.dataset.reason)")
            self.assertEqual(listed, [reason] * min(n, 100))
        # A leak alarm links to the document the quote came from, highlighted there.
        self.open(f"/ui/runs/{self.run_b}")
        self.browser.click(self.browser.find("section.leaks td:nth-child(2) a"))
        found = self.browser.js("const m = document.getElementById('found'); return m && m.textContent")
        squash = lambda t: " ".join(t.split())
        quotes = [squash(l["quote"]) for l in status_b["leak_alarms"]]
        self.assertTrue(found and squash(found) in quotes, found)
        self.browser.screenshot("leak")

        # Documents of run A: the text under every mark is the evidence the ledger
        # recorded for its fact id; the dropped facts are the ledger's.
        checked = 0
        for doc in self.doc_ids(self.run_a):
            self.open(f"/ui/runs/{self.run_a}/documents/{urllib.parse.quote(doc, safe='')}",
                      "document" if checked == 0 else None)
            # Overlapping evidence nests: each mark element wraps one stretch of text, so the
            # marks of one id, in document order, hold exactly its evidence.
            marked = self.browser.js(
                "const out = {}; document.querySelectorAll('mark[data-fact-id]').forEach(m => {"
                " out[m.dataset.factId] = (out[m.dataset.factId] || '') + m.textContent; }); return out;")
            expected = {}
            for request, index, evidence in self.ledger(
                    "SELECT request_id, fact_index, evidence FROM verified_facts"
                    " WHERE run_id = ? AND doc_id = ? AND kind = 'entity'", self.run_a, doc):
                expected[f"entity:{request}:{index}"] = evidence
            for fact_id, evidence in self.ledger(
                    "SELECT fact_id, evidence FROM staged_facts WHERE run_id = ? AND doc_id = ?",
                    self.run_a, doc):
                expected[fact_id] = evidence
            self.assertEqual(set(marked), set(expected), doc)
            for fact_id, evidence in expected.items():
                # Exactly: the emulator quotes verbatim (a model's quote may differ from the
                # text by verify's normalisation: whitespace, typographic quotes).
                self.assertEqual(marked[fact_id], evidence, fact_id)
            checked += len(expected)
            dropped = self.browser.js("return [...document.querySelectorAll('table.drops tbody tr')]"
                                      ".map(r => r.dataset.reason)")
            ledger_dropped = [r[0] for r in self.ledger(
                "SELECT reason FROM dropped_facts WHERE run_id = ? AND doc_id = ?"
                " ORDER BY doc_id, request_id, kind, fact_index", self.run_a, doc)]
            self.assertEqual(dropped, ledger_dropped[:100])
        self.assertGreater(checked, 5)

        # An entity: its aliases are those of `fgraph registry show`, after a merge (the
        # merged entity's name becomes an alias), and the merge can be undone from its page.
        # Two entities of run B that run A never touched: a manual merge of an entity a run
        # changed blocks that run's rollback (test 4) while the merge is active.
        a, b = self.ledger("SELECT entity_id FROM entities WHERE type = 'COMPANY' AND merged_into IS NULL"
                           " AND entity_id NOT IN (SELECT entity_id FROM entity_mentions WHERE run_id = ?)"
                           " ORDER BY rid LIMIT 2", self.run_a)
        merge = self.api("POST", "/v1/registry/merges", {"a": a[0], "b": b[0]})
        shown = self.cli_json("registry", "show", a[0])
        self.open(f"/ui/entities/{a[0]}", "entity")
        aliases = self.browser.js("return [...document.querySelectorAll('table.aliases td.alias')]"
                                  ".map(td => td.textContent)")
        self.assertEqual(aliases, [x["raw"] for x in shown["aliases"]])
        self.assertTrue(aliases)
        self.browser.click(self.browser.find("table.merges a.small"))
        self.browser.click(self.browser.find("form button.danger"))
        self.wait_for_url(f"{self.url}/ui/entities/{a[0]}")
        self.assertEqual(self.cli_json("registry", "show", a[0])["merges"][0]["state"], "undone")
        self.assertEqual(merge["merge_id"], self.cli_json("registry", "show", a[0])["merges"][0]["merge_id"])

        # An entity with relations: its neighbourhood is drawn from Neo4j.
        source = self.ledger("SELECT source_entity_id FROM staged_facts WHERE run_id = ? LIMIT 1", self.run_a)[0][0]
        self.open(f"/ui/entities/{source}")
        self.browser.js("document.getElementById('graph').scrollIntoView()")
        self.browser.screenshot("entity_graph")
        neighbours = self.cypher("MATCH (c:Entity {entity_id: $id})--(n:Entity) RETURN count(DISTINCT n)",
                                 {"id": source})[0][0]
        drawn = self.browser.js("return document.querySelectorAll('#graph circle.hop1').length")
        self.assertEqual(drawn, neighbours)
        self.assertGreater(drawn, 0)

        # Search finds documents by accession and entities by name.
        self.open("/ui/search?q=0000950129-95-009999", "search")
        parts = self.ledger("SELECT count(*) FROM documents WHERE accession = '0000950129-95-009999'")[0][0]
        self.assertEqual(len(self.browser.find_all("ul.documents li")), parts)
        self.assertGreater(parts, 0)
        # Cost: the 30-day total is what the runs cost.
        self.open("/ui/cost", "cost")
        total = sum(self.cli_json("status", r)["cost_usd"] for r in (self.run_a, self.run_b))
        shown_total = float(self.browser.text(self.browser.find("#total-30d")).lstrip("$"))
        self.assertAlmostEqual(shown_total, total, delta=0.01 if total >= 1 else 0.0001)

    def test_3_a_hostile_filing_shows_as_text_and_runs_nothing(self):
        self.login()
        # The submission's first document after its header (part 0), whose text holds the
        # hostile lines.
        doc = self.ledger("SELECT doc_id FROM documents WHERE accession = '0000950129-95-009999'"
                          " AND part >= 1 ORDER BY part LIMIT 1")[0][0]
        self.open(f"/ui/runs/{self.run_a}/documents/{urllib.parse.quote(doc, safe='')}", "hostile_document")
        text = self.browser.js("return document.getElementById('text').textContent")
        for line in HOSTILE_LINES:
            self.assertIn(line, text)
        # The heading shows the name's first 160 characters, the title attribute all of it.
        heading = self.browser.js("const h = document.querySelector('h1');"
                                  " return [h.textContent, h.title, h.children.length]")
        self.assertIn(HOSTILE_NAME[:100], heading[0])
        self.assertIn(HOSTILE_NAME, heading[1])
        self.assertEqual(heading[2], 0)
        # Nothing the filing holds became an element: only the console's own script ran.
        self.assertEqual(self.browser.js("return document.querySelectorAll('main script, main img, main a[href^=javascript]').length"), 0)
        self.assertEqual(self.browser.js("return document.scripts.length"), 1)
        # The filer entity carries the hostile name.
        filer = self.ledger("SELECT entity_id FROM entities WHERE name LIKE '<script>%'")[0][0]
        self.open(f"/ui/entities/{filer}", "hostile_entity")
        self.assertEqual(self.browser.js("return document.querySelector('h1').title"), HOSTILE_NAME.strip())
        self.assertTrue(self.browser.js("return document.querySelector('h1').firstChild.textContent")
                        .startswith(HOSTILE_NAME[:100]))
        self.open(f"/ui/search?q={urllib.parse.quote('<script>')}", "hostile_search")
        self.open(f"/ui/runs/{self.run_a}")

    def test_4_rollback_from_the_button_leaves_the_graph_as_before_the_run(self):
        self.login()
        self.open(f"/ui/runs/{self.run_a}")
        self.browser.click(self.browser.find("p.actions a.button"))
        self.assertEqual(self.browser.url(), f"{self.url}/ui/runs/{self.run_a}/rollback")
        self.browser.screenshot("rollback_confirm")
        self.browser.click(self.browser.find("form button.danger"))
        self.wait_for_url(f"{self.url}/ui/runs/{self.run_a}")
        self.assertEqual(self.browser.text(self.browser.find("dd.state")), "rolled_back")
        self.assertEqual(E2EBase.export(self), self.graph_before_a)
        audit = self.api("GET", "/v1/audit")
        self.assertEqual(audit["counts"], {}, audit)

    # ------------------------------------------------------------------ API and Neo4j
    def api(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + TOKEN,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    @classmethod
    def cypher(cls, statement, parameters=None):
        return E2EBase.cypher(cls, statement, parameters)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""console_bench: what rendering the web console costs, against the JSON API call that
returns the same data, measured in the same run.

    FGRAPH_CORPUS_DIR=/path/to/corpus python3 bench/console_bench.py [N] [--requests R]
    (default N=2000, R=200; needs build/tools/fgraph)

Makes a run of N documents (the run_bench drop: real corpus filings as text, each varied
by one line) plus Apple's 10-K (1.6 MB of text, the largest filing of the corpus) through
`fgraph run --lane openai-batch` against the provider emulator and its own Neo4j
(tools/neo4j, free port), then starts `fgraph serve`, logs in to the console and asks, R
times each, one after the other on one keep-alive connection:

    runs page      /ui/                             vs  GET /v1/runs + GET /v1/runs/{id}
    run page       /ui/runs/{id}                    vs  GET /v1/runs/{id} + /v1/runs/{id}/documents
    document page  /ui/runs/{id}/documents/{10-K}   vs  GET /v1/runs/{id}/documents/{10-K}
    (and a 1.5 MB text of that 10-K seven times with 420 subsidiaries, some 500 facts)

(page and JSON in turn) and prints, for each, time to first byte (request sent -> status line and headers read)
and total time, p50 and p99, the bytes of the body, and the ratio page / JSON.
Targets (issue 19): every page p99 under 100 ms and within 3x of its JSON call.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import BIN, CORPUS, ROOT, SOURCES, run_drop  # noqa: E402

TOKEN = "console-bench-token-0123456789abcdef"
TEN_K = "sec/aapl-10-k-2024-11-01.html"
MANY_FACTS = "aapl-10-k-seven-times-with-420-subsidiaries.txt"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Client:
    def __init__(self, port, headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = headers

    def get(self, path):
        """(ttfb seconds, total seconds, status, body bytes)."""
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        ttfb = time.perf_counter() - t0
        body = r.read()
        return ttfb, time.perf_counter() - t0, r.status, len(body)


def measure(ui, page_path, api, json_paths, n):
    """The page and its JSON calls in turn, n times (so that both see the same load); the
    JSON side of one round is the sum of its calls."""
    out = {"page": {"ttfb": [], "total": [], "bytes": 0}, "json": {"ttfb": [], "total": [], "bytes": 0}}
    for _ in range(n):
        for side, client, paths in (("page", ui, [page_path]), ("json", api, json_paths)):
            ttfb = total = size = 0
            for path in paths:
                a, b, status, nbytes = client.get(path)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status}")
                ttfb, total, size = ttfb + a, total + b, size + nbytes
            out[side]["ttfb"].append(ttfb)
            out[side]["total"].append(total)
            out[side]["bytes"] = size
    for side in out.values():
        for k in ("ttfb", "total"):
            side[k + "50"], side[k + "99"] = percentile(side[k], 50), percentile(side[k], 99)
    return out["page"], out["json"]


def login(port):
    """The console's session cookie, through its login form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/ui/login")
    r = conn.getresponse()
    form = r.read().decode()
    nonce_cookie = r.getheader("Set-Cookie").split(";")[0]
    nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', form).group(1)
    body = urllib.parse.urlencode({"token": TOKEN, "csrf": nonce, "next": "/ui/"})
    conn.request("POST", "/ui/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": nonce_cookie})
    r = conn.getresponse()
    r.read()
    assert r.status == 303, r.status
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("fgraph_session="):
            return v.split(";")[0]
    raise SystemExit("no session cookie")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    requests = 200
    if "--requests" in sys.argv:
        requests = int(sys.argv[sys.argv.index("--requests") + 1])
        args.remove(str(requests))
    n = int(args[0]) if args else 2000
    tmp = tempfile.mkdtemp(prefix="fgraph_console_bench_")
    home = os.path.join(tmp, "home")
    drop = os.path.join(tmp, "drop")
    os.makedirs(home)
    os.makedirs(drop)
    texts = []
    for s in SOURCES:
        out = subprocess.run([BIN, "parse", "--json", "--text", os.path.join(CORPUS, s)],
                             capture_output=True, text=True, check=True).stdout
        texts.append(json.loads(out.splitlines()[0])["text"])
    for i in range(n):
        with open(os.path.join(drop, f"doc{i:05d}.txt"), "w") as f:
            f.write(texts[i % len(texts)] + f"\n\nBench copy {i}.\n")
    shutil.copy(os.path.join(CORPUS, TEN_K), drop)
    # A 1.5 MB text with some 500 facts: the 10-K's text seven times, each copy followed by
    # 60 company names (the 10-K alone gives the emulator a few dozen facts; a request's
    # 8,192 output tokens hold some 180, and the text is cut into 400 KB requests).
    ten_k_text = json.loads(subprocess.run([BIN, "parse", "--json", "--text", os.path.join(CORPUS, TEN_K)],
                                           capture_output=True, text=True, check=True).stdout.splitlines()[0])["text"]
    with open(os.path.join(drop, MANY_FACTS), "w") as f:
        for copy in range(7):
            f.write(ten_k_text + f"\n\nCopy {copy}: subsidiaries\n" +
                    "".join(f"Bench Holding {copy * 60 + i} Inc. | Delaware, U.S.\n" for i in range(60)))

    env = dict(os.environ, FGRAPH_HOME=home, FGRAPH_NEO4J_PORT="0", FGRAPH_NEO4J_BOLT_PORT="0",
               FGRAPH_SERVICE_TOKEN=TOKEN)
    subprocess.run([os.path.join(ROOT, "tools/neo4j"), "start"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    neo = dict(l.split("=", 1) for l in subprocess.run(
        [os.path.join(ROOT, "tools/neo4j"), "env"], env=env, capture_output=True, text=True,
        check=True).stdout.split())
    # Up to 600 entities and 200 relations a request: the 10-K's page then carries hundreds
    # of facts (the emulator's default, 12 and 4, gives it a dozen).
    emu = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/emulator.py"), "--port", "0",
                            "--config", json.dumps({"max_entities": 600, "max_relations": 200})],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(emu.stdout.readline().split()[1])
    env.update(neo)
    env.update({"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "sk-bench"})
    serve = None
    try:
        wall, _, report, code = run_drop(BIN, env, drop)
        run_id = report["run_id"]
        print(f"run of {n} documents + the 10-K: exit {code}, {wall:.0f} s, staged "
              f"{report['graph']['documents_staged']}, facts accepted {report['facts']['accepted']}, "
              f"dropped {report['facts']['dropped']}", flush=True)
        serve = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sport = None
        for line in serve.stderr:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                sport = int(m.group(1))
                break
        if sport is None:
            raise SystemExit("fgraph serve did not start")
        # The 10-K's doc id: its document in the run.
        api = Client(sport, {"Authorization": "Bearer " + TOKEN})
        wanted = {os.path.basename(TEN_K): None, MANY_FACTS: None}
        for page in range(1, 4):
            conn = http.client.HTTPConnection("127.0.0.1", sport, timeout=60)
            conn.request("GET", f"/v1/runs/{run_id}/documents?page={page}&per_page=1000",
                         headers=api.headers)
            for d in json.loads(conn.getresponse().read())["documents"]:
                name = os.path.basename(d["source"])
                if name in wanted:
                    wanted[name] = d
        for name, d in wanted.items():
            print(f"document {name}: {d['facts_accepted']} accepted facts", flush=True)
        ui = Client(sport, {"Cookie": login(sport)})
        doc = urllib.parse.quote(wanted[os.path.basename(TEN_K)]["doc_id"], safe="")
        many = urllib.parse.quote(wanted[MANY_FACTS]["doc_id"], safe="")
        # The runs page shows each run's reconciliation: its JSON is the list and one
        # report per run (one run here). The run page lists its first 50 documents.
        cases = [("runs page", "/ui/", ["/v1/runs", f"/v1/runs/{run_id}"]),
                 ("run page", f"/ui/runs/{run_id}",
                  [f"/v1/runs/{run_id}", f"/v1/runs/{run_id}/documents?per_page=50"]),
                 ("document page", f"/ui/runs/{run_id}/documents/{doc}", [f"/v1/runs/{run_id}/documents/{doc}"]),
                 ("doc, ~500 facts", f"/ui/runs/{run_id}/documents/{many}", [f"/v1/runs/{run_id}/documents/{many}"])]
        print(f"{requests} requests each, page and JSON in turn, one keep-alive connection each; ms; "
              f"load {os.getloadavg()[0]:.1f}")
        for name, page_path, json_paths in cases:
            ui.get(page_path)  # warm the connection pool and the page cache
            for path in json_paths:
                api.get(path)
            p, j = measure(ui, page_path, api, json_paths, requests)
            print(f"{name:14s} page: TTFB p50 {p['ttfb50'] * 1e3:7.1f} p99 {p['ttfb99'] * 1e3:7.1f}, "
                  f"total p50 {p['total50'] * 1e3:7.1f} p99 {p['total99'] * 1e3:7.1f}, {p['bytes']:9d} bytes")
            print(f"{'':14s} JSON: TTFB p50 {j['ttfb50'] * 1e3:7.1f} p99 {j['ttfb99'] * 1e3:7.1f}, "
                  f"total p50 {j['total50'] * 1e3:7.1f} p99 {j['total99'] * 1e3:7.1f}, {j['bytes']:9d} bytes")
            print(f"{'':14s} page / JSON: TTFB p50 {p['ttfb50'] / j['ttfb50']:.2f}x, p99 "
                  f"{p['ttfb99'] / j['ttfb99']:.2f}x; bytes {p['bytes'] / max(j['bytes'], 1):.2f}x", flush=True)
    finally:
        if serve:
            serve.terminate()
            serve.wait(timeout=30)
        emu.terminate()
        subprocess.run([os.path.join(ROOT, "tools/neo4j"), "stop"], env=env, stdout=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

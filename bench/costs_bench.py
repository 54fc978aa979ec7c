#!/usr/bin/env python3
"""costs_bench: `fgraph costs` over a ledger of many runs (issue 20: target under 200 ms for
1,000 runs).

    python3 bench/costs_bench.py [RUNS] [--attempts N] [--repeat R]
        (defaults 1000 runs, 200 attempts each, median of 7; needs build/tools/fgraph)

Builds a ledger the way fgraph lays it out (the schema from `fgraph runs` on an empty home,
i.e. fgraph's own migrations; rows written with SQL for speed): RUNS finished runs over
the last 60 days, each tagged with one of 8 projects and 5 owners, each with 20 documents
and N attempts (one request each) spread over its lanes: openai-batch rows, a retry share,
the openai-sync live strike, and anthropic-batch runs; cached input tokens on most rows.

Times each command as a whole process (wall time, median of R, after one warm-up run) and
prints it beside the baseline measured in the same run on the same ledger: `fgraph runs
--json` (lists every run with its tags and document count), and `fgraph --version` (the
process start alone). Ratios are against `runs --json`.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("FGRAPH_BIN", os.path.join(ROOT, "build/tools/fgraph"))

PROJECTS = ["filings", "forms", "ownership", "dart", "uk-ixbrl", "exhibits", "proxy", "backfill"]
OWNERS = ["ana", "bo", "chen", "dee", "eli"]


def fmt(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def build_ledger(home, runs, attempts):
    subprocess.run([BIN, "runs"], env=dict(os.environ, FGRAPH_HOME=home), check=True, capture_output=True)
    db = sqlite3.connect(os.path.join(home, "fgraph.db"))
    rng = random.Random(20)
    now = time.time()
    docs = [(f"sha256:{i:064x}", f"drop/doc{i}.txt", 0, "text", 12, "doc text", fmt(now)) for i in range(2000)]
    db.executemany("INSERT INTO documents(doc_id, source, part, format, chars, text, first_seen_at)"
                   " VALUES(?,?,?,?,?,?,?)", docs)
    run_rows, run_docs, requests, attempt_rows = [], [], [], []
    for r in range(runs):
        run_id = f"run-bench-{r:05d}"
        started = now - rng.uniform(0, 60 * 86400)
        lane, model = ("anthropic-batch", "claude-haiku-4-5") if r % 5 == 0 else ("openai-batch", "gpt-4.1-mini")
        tags = {"project": PROJECTS[r % len(PROJECTS)], "owner": OWNERS[r % len(OWNERS)]}
        run_rows.append((run_id, lane, model, "extract.v1", "extraction.v1", "drop", "finished",
                         json.dumps({"budget_usd": None, "tags": tags}), fmt(started), fmt(started + 3600)))
        for d in range(20):
            run_docs.append((run_id, docs[(r * 20 + d) % len(docs)][0], "staged"))
        for a in range(attempts):
            cid = f"fg-{r:05d}-{a:06d}"
            requests.append((cid, docs[(r * 20 + a % 20) % len(docs)][0], run_id, 0, 1, 0, 12, model, "extract.v1",
                             "extraction.v1", 3000, 500, 0.001, "completed", fmt(started), fmt(started)))
            # 5% of rows fail once and are retried; openai rows end on the live strike.
            tries = [(lane, "transient"), (lane if lane == "anthropic-batch" else "openai-sync", "completed")] \
                if a % 20 == 0 else [(lane, "completed")]
            for n, (l, outcome) in enumerate(tries, start=1):
                inp, cached, out = 3000 + a % 700, 1024 if a else 0, 400 + a % 300
                cost = (inp - cached) * 0.2e-6 + cached * 0.05e-6 + out * 0.8e-6
                attempt_rows.append((cid, n, run_id, l, model, None, outcome, inp, out, cost, None,
                                     fmt(started + a + n), cached, 0))
    db.executemany("INSERT INTO runs(run_id, lane, model, prompt_version, schema_version, drop_path, state,"
                   " options_json, started_at, finished_at) VALUES(?,?,?,?,?,?,?,?,?,?)", run_rows)
    db.executemany("INSERT INTO run_documents(run_id, doc_id, state) VALUES(?,?,?)", run_docs)
    db.executemany("INSERT INTO requests(custom_id, doc_id, run_id, chunk_index, chunk_count, char_start, char_end,"
                   " model, prompt_version, schema_version, est_input_tokens, est_output_tokens, est_cost_usd,"
                   " state, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", requests)
    db.executemany("INSERT INTO attempts(custom_id, attempt, run_id, lane, model, obj_key, outcome, input_tokens,"
                   " output_tokens, cost_usd, error, created_at, cached_input_tokens, cache_write_tokens)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", attempt_rows)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return len(attempt_rows)


def time_command(home, args, repeat):
    env = dict(os.environ, FGRAPH_HOME=home)
    out = subprocess.run([BIN, *args], env=env, check=True, capture_output=True, text=True).stdout  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([BIN, *args], env=env, check=True, capture_output=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), out


def main():
    parser = argparse.ArgumentParser(description="fgraph costs over a ledger of many runs")
    parser.add_argument("runs", nargs="?", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=200, help="attempts per run")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command (median)")
    a = parser.parse_args()
    runs, attempts, repeat = a.runs, a.attempts, a.repeat
    with tempfile.TemporaryDirectory(prefix="fgraph_costs_bench_") as home:
        t0 = time.perf_counter()
        rows = build_ledger(home, runs, attempts)
        print(f"ledger: {runs} runs, {rows} attempts, {os.path.getsize(os.path.join(home, 'fgraph.db')) / 2**20:.1f} MiB"
              f" (built in {time.perf_counter() - t0:.1f} s)")
        version, _ = time_command(home, ["--version"], repeat)
        baseline, listed = time_command(home, ["runs", "--json"], repeat)
        assert len(listed.splitlines()) == runs, "runs --json did not list every run"
        print(f"  {'fgraph --version (process start)':44s} {version:8.1f} ms")
        print(f"  {'fgraph runs --json (baseline)':44s} {baseline:8.1f} ms   1.00x")
        for cmd in (["costs", "--by", "project", "--period", "all", "--json"],
                    ["costs", "--by", "tag:owner", "--period", "30d", "--json"],
                    ["costs", "--by", "model", "--period", "7d", "--json"],
                    ["costs", "--by", "run", "--period", "all", "--json"],
                    ["costs", "--by", "lane", "--period", "24h"]):
            ms, out = time_command(home, cmd, repeat)
            if cmd[-1] == "--json" and cmd[2] == "project" and cmd[4] == "all":
                total = json.loads(out)["total"]
                assert total["runs"] == runs, total
            print(f"  {'fgraph ' + ' '.join(cmd):44s} {ms:8.1f} ms   {ms / baseline:.2f}x"
                  f"{'' if ms < 200 else '   (over the 200 ms target)'}")


if __name__ == "__main__":
    main()

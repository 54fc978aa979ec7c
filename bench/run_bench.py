#!/usr/bin/env python3
"""run_bench: a drop of N documents through `fgraph run --lane openai-batch` end to end,
against the provider emulator (zero provider delay) and a real Neo4j.

    python3 bench/run_bench.py [N] [--audit]   (default 2000; needs a built build/tools/fgraph)

The documents are real corpus filings as text, each varied by one line so their ids
differ. Prints documents per minute end to end, the share of wall time in each phase
(from the progress lines), peak RSS of fgraph, the ledger's size per document, and, as
the baseline measured in the same run, `fgraph parse` over the same drop (ingest alone).
Starts its own Neo4j (tools/neo4j, free port) and emulator; stops both at the end.

With --audit, also times `fgraph audit` on the staged graph (median of three). With
FGRAPH_BASELINE_BIN set to an older fgraph binary, that binary runs the drop and audits
first (its ledger schema is older), then this build audits the same graph and ledger: the
ratio of the two audits, measured in the same run.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("FGRAPH_BIN", os.path.join(ROOT, "build/tools/fgraph"))
CORPUS = os.environ.get("FGRAPH_CORPUS_DIR", os.path.join(ROOT, "../shared/corpus"))
SOURCES = ["sec/ex21_aapl.html", "sec/0000887919-21-000012.html", "sec/afcgamma.8K.html",
           "sec/form3.snow.nonderiv.xml", "sec/374WaterForm4.xml", "sec/NextPoint.8K.html"]


def timed_audit(binary, env, times=3):
    """Median seconds of `binary audit --json` and its last report."""
    secs, report = [], None
    for _ in range(times):
        t0 = time.monotonic()
        p = subprocess.run([binary, "audit", "--json"], env=env, capture_output=True, text=True)
        secs.append(time.monotonic() - t0)
        report = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else {"error": p.stderr}
    return sorted(secs)[len(secs) // 2], report


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    audit = "--audit" in sys.argv
    baseline_bin = os.environ.get("FGRAPH_BASELINE_BIN") if audit else None
    n = int(args[0]) if args else 2000
    tmp = tempfile.mkdtemp(prefix="fgraph_run_bench_")
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

    env = dict(os.environ, FGRAPH_HOME=home, FGRAPH_NEO4J_PORT="0", FGRAPH_NEO4J_BOLT_PORT="0")
    subprocess.run([os.path.join(ROOT, "tools/neo4j"), "start"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    neo = dict(l.split("=", 1) for l in subprocess.run(
        [os.path.join(ROOT, "tools/neo4j"), "env"], env=env, capture_output=True, text=True,
        check=True).stdout.split())
    emu = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/emulator/emulator.py"), "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(emu.stdout.readline().split()[1])
    env.update(neo)
    env.update({"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "sk-bench"})
    try:
        t0 = time.monotonic()
        subprocess.run([BIN, "parse", drop], env=env, capture_output=True, check=False)
        parse_s = time.monotonic() - t0

        phases = {}
        t0 = time.monotonic()
        proc = subprocess.Popen([baseline_bin or BIN, "run", drop, "--lane", "openai-batch", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:  # plain progress lines: "[phase] done/total ..."
            if line.startswith("["):
                phase = line[1:line.index("]")]
                phases.setdefault(phase, time.monotonic() - t0)
        out = proc.stdout.read()
        proc.wait()
        wall = time.monotonic() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        report = json.loads(out.splitlines()[-1])
        db = os.path.join(home, "fgraph.db")
        ledger = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))

        print(f"documents: {n}, exit {proc.returncode}, staged {report['graph']['documents_staged']}, "
              f"facts accepted {report['facts']['accepted']}, relations {report['graph']['relations_staged']}, "
              f"identity {'holds' if report['identity_holds'] else 'BROKEN'}")
        print(f"end to end: {wall:.1f} s = {n / wall * 60:.0f} documents/minute")
        order = sorted(phases.items(), key=lambda kv: kv[1]) + [("end", wall)]
        for (name, start), (_, end) in zip(order, order[1:]):
            print(f"  {name:8s} {end - start:7.1f} s  {100 * (end - start) / wall:5.1f}%")
        print(f"baseline, fgraph parse alone: {parse_s:.2f} s; run / parse = {wall / max(parse_s, 1e-3):.0f}x")
        print(f"peak RSS (largest child process): {rss_mb:.0f} MB (target < 300 MB)")
        print(f"ledger: {ledger / 1e6:.1f} MB = {ledger / n / 1024:.1f} KiB per document")
        if audit:
            if baseline_bin:
                base_s, base = timed_audit(baseline_bin, env)
                print(f"baseline audit ({baseline_bin}): {base_s:.2f} s, "
                      f"{len(base.get('differences', []))} differences")
            subprocess.run([BIN, "runs"], env=env, capture_output=True)  # migrates the ledger
            audit_s, full = timed_audit(BIN, env)
            print(f"audit: {audit_s:.2f} s, graph facts {full.get('graph_facts')}, "
                  f"ledger facts {full.get('ledger_facts')}, differences {full.get('counts')}")
            if baseline_bin:
                print(f"audit / baseline audit = {audit_s / max(base_s, 1e-3):.2f}x (target <= 3x, < 30 s)")
    finally:
        emu.terminate()
        subprocess.run([os.path.join(ROOT, "tools/neo4j"), "stop"], env=env, stdout=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

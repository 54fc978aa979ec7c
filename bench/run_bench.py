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

With --compare (and FGRAPH_BASELINE_BIN), the baseline binary and this build run the same
drop back to back, --rounds R times each (default 3, the order alternating), each on
an empty graph and a fresh ledger: documents per minute and the stage phase's share of the
wall time of both, and their ratios per round and their medians.
"""
import base64
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

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


def run_drop(binary, env, drop):
    """Runs `binary run DROP`: wall seconds, {phase: start second}, the JSON report, exit code."""
    phases = {}
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "run", drop, "--lane", "openai-batch", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # plain progress lines: "[phase] done/total ..."
        if line.startswith("["):
            phase = line[1:line.index("]")]
            phases.setdefault(phase, time.monotonic() - t0)
    out = proc.stdout.read()
    proc.wait()
    wall = time.monotonic() - t0
    return wall, phases, json.loads(out.splitlines()[-1]), proc.returncode


def phase_seconds(phases, wall):
    """[(phase, seconds)] in order, each phase lasting until the next one starts."""
    order = sorted(phases.items(), key=lambda kv: kv[1]) + [("end", wall)]
    return [(name, end - start) for (name, start), (_, end) in zip(order, order[1:])]


def wipe_graph(neo):
    """Empties the bench's own Neo4j (between the runs of --compare)."""
    body = json.dumps({"statement": "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS"})
    req = urllib.request.Request(neo["FGRAPH_NEO4J_URL"] + "/db/neo4j/query/v2", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    token = base64.b64encode(f"{neo['FGRAPH_NEO4J_USER']}:{neo['FGRAPH_NEO4J_PASSWORD']}".encode()).decode()
    req.add_header("Authorization", "Basic " + token)
    urllib.request.urlopen(req, timeout=600).read()


def compare(n, baseline_bin, rounds, env, neo, drop, tmp):
    """Baseline and this build back to back, `rounds` times each (the order alternating, so
    neither always meets the colder server)."""
    runs = {"baseline": [], "this build": []}
    for r in range(rounds):
        order = [("baseline", baseline_bin), ("this build", BIN)]
        for name, binary in (order if r % 2 == 0 else order[::-1]):
            home = os.path.join(tmp, f"home-{name.replace(' ', '-')}-{r}")
            os.makedirs(home)
            wipe_graph(neo)
            wall, phases, report, code = run_drop(binary, dict(env, FGRAPH_HOME=home), drop)
            stage = dict(phase_seconds(phases, wall)).get("stage", 0.0)
            runs[name].append({"per_min": n / wall * 60, "share": stage / wall, "stage": stage})
            print(f"round {r + 1} {name:10s}: exit {code}, staged {report['graph']['documents_staged']}, "
                  f"{wall:6.1f} s = {n / wall * 60:6.0f} documents/minute, stage {stage:5.1f} s = "
                  f"{100 * stage / wall:4.1f}%", flush=True)
    base, new = runs["baseline"], runs["this build"]
    speedup = [b["stage"] / max(t["stage"], 1e-3) for b, t in zip(base, new)]
    ratio = [t["per_min"] / b["per_min"] for b, t in zip(base, new)]
    print("per round, this build / baseline: documents/minute " +
          ", ".join(f"{x:.2f}x" for x in ratio) + "; stage seconds " +
          ", ".join(f"{x:.2f}x faster" for x in speedup))
    med = lambda runs_, key: statistics.median(x[key] for x in runs_)  # noqa: E731
    print(f"median documents/minute: baseline {med(base, 'per_min'):.0f}, this build {med(new, 'per_min'):.0f}; "
          f"median ratio {statistics.median(ratio):.2f}x (target >= 1.5x)")
    print(f"median stage share: baseline {100 * med(base, 'share'):.1f}%, this build "
          f"{100 * med(new, 'share'):.1f}% (target < 50%); median stage speed-up {statistics.median(speedup):.2f}x")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    audit = "--audit" in sys.argv
    compare_bins = "--compare" in sys.argv
    rounds = 3
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
        args.remove(str(rounds))
    baseline_bin = os.environ.get("FGRAPH_BASELINE_BIN") if (audit or compare_bins) else None
    if compare_bins and not baseline_bin:
        sys.exit("--compare needs FGRAPH_BASELINE_BIN (an fgraph built from the baseline)")
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
        if compare_bins:
            print(f"load before: {os.getloadavg()}", flush=True)
            compare(n, baseline_bin, rounds, env, neo, drop, tmp)
            print(f"load after: {os.getloadavg()}")
            return
        t0 = time.monotonic()
        subprocess.run([BIN, "parse", drop], env=env, capture_output=True, check=False)
        parse_s = time.monotonic() - t0

        wall, phases, report, returncode = run_drop(baseline_bin or BIN, env, drop)
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        db = os.path.join(home, "fgraph.db")
        ledger = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))

        print(f"documents: {n}, exit {returncode}, staged {report['graph']['documents_staged']}, "
              f"facts accepted {report['facts']['accepted']}, relations {report['graph']['relations_staged']}, "
              f"identity {'holds' if report['identity_holds'] else 'BROKEN'}")
        print(f"end to end: {wall:.1f} s = {n / wall * 60:.0f} documents/minute")
        for name, secs in phase_seconds(phases, wall):
            print(f"  {name:8s} {secs:7.1f} s  {100 * secs / wall:5.1f}%")
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

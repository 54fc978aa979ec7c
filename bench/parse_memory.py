#!/usr/bin/env python3
"""parse_memory: peak memory of `fgraph parse` on the largest files the ingest stage accepts.

Builds files at the size limits from real corpus filings, runs
`/usr/bin/time -v fgraph parse FILE --json >/dev/null` on each, and prints the peak RSS
(maximum resident set size) as a ratio of the file's size and of the budget, 4x the
largest accepted file (4 x 64 MiB = 256 MiB). The plain-text file is the baseline of the
run: its ratio is the cost of a file's bytes and text alone.
Targets (issue 16, ARCHITECTURE.md "Memory"): plain text and SGML submissions peak under
4x their size; an HTML/XML document (whose libxml2 tree takes about 10x its size) is
accepted up to 16 MiB, so that every accepted file peaks under the budget.

  bench/parse_memory.py [--fgraph build/tools/fgraph] [--mb 63] [--markup-mb 15.9]
                        [--corpus DIR] [--keep]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def peak_rss_kb(fgraph, path):
    r = subprocess.run(["/usr/bin/time", "-v", fgraph, "parse", path, "--json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    if not m:
        sys.exit("no peak RSS in /usr/bin/time output:\n" + r.stderr[-2000:])
    secs = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    wall = 0.0
    if secs:
        wall = int(secs.group(1) or 0) * 3600 + int(secs.group(2)) * 60 + float(secs.group(3))
    return int(m.group(1)), r.returncode, wall


def body_of(html):
    lo = html.lower()
    start = lo.find("<body")
    start = lo.find(">", start) + 1 if start >= 0 else 0
    end = lo.rfind("</body>")
    return html[start:end if end > 0 else len(html)]


def fill(out, target, unit, head=b"", tail=b""):
    with open(out, "wb") as f:
        f.write(head)
        size = len(head) + len(tail)
        while size + len(unit) <= target:
            f.write(unit)
            size += len(unit)
        f.write(tail)
    return size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fgraph", default=os.path.join(HERE, "..", "build", "tools", "fgraph"))
    ap.add_argument("--mb", type=float, default=63.0, help="size of each generated file")
    ap.add_argument("--markup-mb", type=float, default=15.9,
                    help="size of the largest HTML document (the markup limit is 16 MiB)")
    ap.add_argument("--corpus", default=os.environ.get("FGRAPH_CORPUS_DIR", "/work/shared/corpus"))
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    a = ap.parse_args()
    target = int(a.mb * 1024 * 1024)
    html = open(os.path.join(a.corpus, "sec", "wfc-10-k-2025-02-25.html"), "rb").read()
    old_html = open(os.path.join(a.corpus, "sec", "0001193125-10-073212.html"), "rb").read()
    body = body_of(html.decode("utf-8", "replace")).encode("utf-8")
    tmp = tempfile.mkdtemp(prefix="fgraph_parse_memory_")
    cases = []

    p = os.path.join(tmp, "plain.txt")
    line = b"The Company reported net revenue of $1,234 million for the fiscal year, up 4%.\n"
    cases.append(("plain text (baseline)", p, fill(p, target, line)))

    markup = int(a.markup_mb * 1024 * 1024)
    html_head = b"<html><head><title>x</title></head><body>"
    # One HTML document at the markup limit: a 10-K body repeated (table-dense markup).
    p = os.path.join(tmp, "one.html")
    cases.append(("HTML document at the markup limit", p,
                  fill(p, markup, body, html_head, b"</body></html>\n")))

    # A full submission of many HTML <DOCUMENT>s (what EDGAR's .txt holds).
    p = os.path.join(tmp, "submission.txt")
    head = (b"<SEC-DOCUMENT>0000000000-25-000001.txt : 20250101\n<SEC-HEADER>x\n"
            b"ACCESSION NUMBER:\t\t0000000000-25-000001\nCONFORMED SUBMISSION TYPE:\t10-K\n"
            b"</SEC-HEADER>\n")
    def document(payload):
        return (b"<DOCUMENT>\n<TYPE>EX-99\n<SEQUENCE>1\n<FILENAME>d.htm\n<TEXT>\n" + payload +
                b"\n</TEXT>\n</DOCUMENT>\n")
    cases.append(("submission of 1.5 MB HTML documents", p,
                  fill(p, target, document(old_html), head, b"</SEC-DOCUMENT>\n")))

    # The worst accepted case: a full-size submission whose main document is at the limit.
    p = os.path.join(tmp, "submission_big.txt")
    big = html_head + body * max(1, (markup - 4096) // len(body)) + b"</body></html>"
    cases.append(("submission with one 16 MB HTML doc", p,
                  fill(p, target, document(line * 20000), head + document(big),
                       b"</SEC-DOCUMENT>\n")))

    budget = 4 * 64 * 2**20
    print(f"{'file':38} {'MB':>6} {'peak MB':>8} {'peak/size':>9} {'peak/budget':>11} {'s':>6}  exit")
    ok = True
    base = None
    for name, path, size in cases:
        kb, rc, wall = peak_rss_kb(a.fgraph, path)
        ratio = kb * 1024 / size
        base = base or ratio
        ok = ok and kb * 1024 < budget and rc == 0
        if "markup limit" not in name:
            ok = ok and ratio < 4
        print(f"{name:38} {size / 2**20:6.1f} {kb / 1024:8.1f} {ratio:8.2f}x {kb * 1024 / budget:10.2f}x"
              f" {wall:6.1f}  {rc}")
    print(f"plain-text baseline {base:.2f}x; budget {budget / 2**20:.0f} MiB (4x the 64 MiB file limit);"
          f" {'all within target' if ok else 'TARGET MISSED'}")
    if not a.keep:
        for _, path, _ in cases:
            os.remove(path)
        os.rmdir(tmp)
    else:
        print("files kept in", tmp)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

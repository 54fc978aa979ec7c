#!/usr/bin/env python3
"""Probes a running `tools/local-llm` server: which response_format shape constrains decoding,
how long one extraction request takes, and whether requests run concurrently.

Usage: python3 tools/local_llm_probe.py [--url http://127.0.0.1:8081/v1] [--max-tokens 512]
Stdlib only. If the `jsonschema` package is importable, outputs are validated with it against
schemas/extraction.v1.json; otherwise with the hand-coded check of tests/emulator/emulator.py.
The findings are written up in tools/local-llm.md.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))
import emulator  # noqa: E402

with open(os.path.join(ROOT, "schemas", "extraction.v1.json")) as f:
    SCHEMA = json.load(f)

try:
    import jsonschema

    def validate(obj):
        errs = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(obj), key=str)
        return [e.message for e in errs]
except ImportError:
    validate = emulator.schema_errors

FILING = """UNITED STATES SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-K
ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the fiscal year ended December 31, 2023
Commission File Number 001-12345
NORTHWIND HOLDINGS, INC.
(Exact name of registrant as specified in its charter)
Delaware (State or other jurisdiction of incorporation) 94-1234567 (I.R.S. Employer Identification No.)
500 Harbor Boulevard, Redwood City, California 94063
Securities registered pursuant to Section 12(b) of the Act: Common Stock, par value $0.001 per share, trading symbol NWND, The Nasdaq Stock Market LLC.
Item 1. Business
Northwind Holdings, Inc. ("Northwind" or the "Company") is a holding company whose principal operating subsidiary, Northwind Logistics LLC, provides freight brokerage and warehousing services in North America. Northwind Logistics LLC is a wholly-owned subsidiary of Northwind Holdings, Inc. The Company also owns 60% of Pacific Cold Chain Corp., a California corporation, which operates refrigerated warehouses in Oakland and Fresno.
On March 15, 2023, Northwind Logistics LLC acquired Summit Freight Partners, L.P. for a cash purchase price of $42.0 million. Summit Freight Partners, L.P. operates a network of cross-dock facilities in Texas and Oklahoma. The acquisition was financed with borrowings under our credit agreement with First Harbor Bank, N.A., as administrative agent.
In 2022, the Company entered into a master services agreement with Globex Retail Corporation, our largest customer, which accounted for 18% of consolidated revenue in 2023. The agreement has an initial term of five years.
Item 7. Management's Discussion and Analysis of Financial Condition and Results of Operations
Revenue for 2023 was $1,184.2 million, an increase of 14% compared with $1,038.9 million in 2022, driven by the acquisition of Summit Freight Partners, L.P. and higher warehousing volumes at Pacific Cold Chain Corp. Freight brokerage revenue grew 9% as truckload spot rates declined but shipment counts increased. Warehousing revenue grew 31% as two new facilities in Fresno opened in the second quarter.
Operating income was $96.7 million compared with $88.1 million in 2022. Purchased transportation costs rose to 71% of brokerage revenue from 69%, reflecting tighter carrier capacity in the fourth quarter. Salaries and benefits increased due to the addition of 420 employees from the acquisition.
Liquidity and Capital Resources. As of December 31, 2023, we had cash and cash equivalents of $58.3 million and $210.0 million available under our revolving credit facility with First Harbor Bank, N.A. In January 2024, Northwind Canada Ltd. entered into a lease for a 300,000 square foot distribution center near Vancouver, British Columbia. We expect capital expenditures of $45 million to $55 million in 2024, primarily for warehouse automation and trailer replacement.
Contractual obligations include operating leases of $312.5 million, of which $61.2 million is due in 2024, and purchase commitments for tractors and refrigeration units of $18.9 million.
Item 1A. Risk Factors
Our business depends on a small number of large customers. The loss of Globex Retail Corporation or any other major customer could materially reduce our revenue. Fuel prices, driver shortages and changes in trade policy may increase our costs. We rely on third-party carriers, and a disruption at any of our warehouses could interrupt service to customers.
Item 9A. Controls and Procedures
Our independent registered public accounting firm, Baker Tilly US, LLP, has audited the effectiveness of our internal control over financial reporting as of December 31, 2023.
Item 10. Directors, Executive Officers and Corporate Governance
Jane M. Porter, Chief Executive Officer, has served as our President since 2019 and as a director since 2017.
David Chen, Chief Financial Officer, joined the Company in 2021 from Globex Retail Corporation, where he was Vice President of Finance.
Maria Alvarez, Director, is the chair of the audit committee and a partner at Alvarez Capital Management LLC.
Security Ownership of Certain Beneficial Owners
Harbor Point Capital Management LLC beneficially owns 12.4% of our outstanding common stock according to a Schedule 13G filed on February 10, 2024.
Vanguard Group, Inc. beneficially owns 8.1% of our outstanding common stock.
Exhibit 21.1 Subsidiaries of the Registrant
Northwind Logistics LLC (Delaware)
Pacific Cold Chain Corp. (California)
Summit Freight Partners, L.P. (Texas)
Northwind Canada Ltd. (British Columbia)
SIGNATURES
Pursuant to the requirements of Section 13 or 15(d) of the Securities Exchange Act of 1934, the registrant has duly caused this report to be signed on its behalf by the undersigned, thereunto duly authorized.
/s/ Jane M. Porter
Jane M. Porter, Chief Executive Officer
/s/ David Chen
David Chen, Chief Financial Officer
Date: February 28, 2024
"""

SYSTEM = ("You extract entities and relations from ONE regulatory filing. Answer with a JSON object "
          "with keys entities and relations. Every evidence is a verbatim quote from the filing.")
OFF_TOPIC = "Write a short poem about the sea. Do not use JSON."


def post(url, body, timeout=900):
    req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.time()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    return answer, time.time() - t0


def body_for(shape, user, max_tokens):
    b = {"model": "smollm2", "temperature": 0, "max_tokens": max_tokens, "seed": 1,
         "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]}
    if shape == "json_object+schema":
        b["response_format"] = {"type": "json_object", "schema": SCHEMA}
    elif shape == "json_schema(nested)":
        b["response_format"] = {"type": "json_schema",
                                "json_schema": {"name": "extraction_v1", "schema": SCHEMA, "strict": True}}
    elif shape == "json_schema(flat)":
        b["response_format"] = {"type": "json_schema", "schema": SCHEMA}
    elif shape == "json_object":
        b["response_format"] = {"type": "json_object"}
    return b


def report(shape, prompt_name, answer, secs):
    choice = answer["choices"][0]
    text = choice["message"].get("content") or ""
    try:
        obj = json.loads(text)
        errs = validate(obj)
        verdict = "valid" if not errs else f"INVALID ({len(errs)} errors: {errs[0][:80]})"
    except ValueError:
        obj, verdict = None, "NOT JSON"
    usage = answer.get("usage", {})
    print(f"{shape:22s} {prompt_name:9s} {secs:7.1f}s finish={choice.get('finish_reason'):6s} "
          f"prompt={usage.get('prompt_tokens')} completion={usage.get('completion_tokens')} -> {verdict}")
    print("    " + text[:160].replace("\n", "\\n"))
    return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("FGRAPH_LOCAL_URL", "http://127.0.0.1:8081/v1"))
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--skip-shapes", action="store_true")
    ap.add_argument("--skip-concurrency", action="store_true")
    args = ap.parse_args()
    user = "<document>\n" + FILING + "\n</document>"
    short = "<document>\n" + FILING[:1200] + "\n</document>"
    if not args.skip_shapes:
        print("== which response_format constrains decoding (off-topic prompt: only a constraint yields JSON)")
        for shape in ("none", "json_object", "json_object+schema", "json_schema(nested)", "json_schema(flat)"):
            try:
                ans, secs = post(args.url, body_for(shape, OFF_TOPIC + "\n" + short, 256))
                report(shape, "off-topic", ans, secs)
            except urllib.error.HTTPError as exc:
                print(f"{shape:22s} off-topic HTTP {exc.code}: {exc.read()[:200]!r}")
    print(f"== timing: full filing ({len(FILING)} chars), max_tokens {args.max_tokens}")
    for shape in ("json_object+schema", "json_schema(nested)"):
        ans, secs = post(args.url, body_for(shape, user, args.max_tokens))
        obj = report(shape, "filing", ans, secs)
        if obj and not validate(obj):
            ev = [x["evidence"] for x in obj["entities"] + obj["relations"]]
            print(f"    entities={len(obj['entities'])} relations={len(obj['relations'])} "
                  f"verbatim evidence {sum(e in FILING for e in ev)}/{len(ev)}")
    if not args.skip_concurrency:
        print("== concurrency: two identical requests (unconstrained, max_tokens 64) at once vs one")
        body = body_for("none", short, 64)
        _, one = post(args.url, body)
        times, starts = [], []

        def worker():
            starts.append(time.time())
            _, s = post(args.url, body)
            times.append((starts[-1], time.time()))

        t0 = time.time()
        ths = [threading.Thread(target=worker) for _ in range(2)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        wall = time.time() - t0
        ends = sorted(e - t0 for _, e in times)
        print(f"one request {one:.1f}s; two at once: wall {wall:.1f}s, finished at {ends[0]:.1f}s and {ends[1]:.1f}s "
              f"-> {'serial' if wall > 1.6 * one else 'concurrent'}")


if __name__ == "__main__":
    main()

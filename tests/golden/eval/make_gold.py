#!/usr/bin/env python3
"""Writes the gold files of `fgraph eval` for the corpus's forms, from the raw filings.

Independent of fgraph: it reads the XML with ElementTree and the EX-21 tables with
html.parser, never fgraph's text or the form extractor's output. Run from the repository:
    tests/golden/eval/make_gold.py ../shared/corpus tests/golden/eval
"""
import html.parser
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OWNERSHIP = [  # (file, part of the submission or None)
    ("sec/0001127602-25-001055.txt", 1),
    ("sec/0001127602-25-004598.nc", 1),
    ("sec/form4.snow.xml", None),
    ("sec/374WaterForm4.xml", None),
    ("sec/form3.snow.nonderiv.xml", None),
]
THIRTEEN_F = ("sec/13F.0001894188-23-000007.txt", 2, "LTS One Management LP")
EX21 = [("sec/ex21_aapl.html", "Apple Inc."), ("sec/ex21_xom.html", "Exxon Mobil Corporation")]


def xml_block(raw):
    """The form's XML: the file itself, or the first <XML> block of a submission."""
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    m = re.search(r"<XML>\s*(.*?)\s*</XML>", raw, re.S)
    text = m.group(1) if m else raw
    return ET.fromstring(text.strip().encode())


def local(tag):
    return tag.rsplit("}", 1)[-1]


def find_text(node, *path):
    for step in path:
        node = next((c for c in node if local(c.tag) == step), None)
        if node is None:
            return ""
    value = next((c for c in node if local(c.tag) == "value"), None)
    return ((value if value is not None else node).text or "").strip()


def fact(doc, part, typ, source, target):
    f = {"document": doc, "type": typ, "source": source, "target": target}
    if part is not None:
        f["part"] = part
    return f


def ownership(corpus):
    out = []
    for doc, part in OWNERSHIP:
        root = xml_block((corpus / doc).read_text(errors="replace"))
        issuer = find_text(root, "issuer", "issuerName")
        has_securities = any(local(e.tag) == "securityTitle" for e in root.iter())
        for owner in (e for e in root if local(e.tag) == "reportingOwner"):
            name = find_text(owner, "reportingOwnerId", "rptOwnerName")
            rel = next((c for c in owner if local(c.tag) == "reportingOwnerRelationship"), None)
            flag = lambda k: rel is not None and find_text(rel, k) in ("1", "true")
            if flag("isOfficer"):
                out.append(fact(doc, part, "OFFICER_OF", name, issuer))
            if flag("isDirector"):
                out.append(fact(doc, part, "DIRECTOR_OF", name, issuer))
            if flag("isTenPercentOwner"):
                out.append(fact(doc, part, "BENEFICIAL_OWNER_OF", name, issuer))
            if has_securities:
                out.append(fact(doc, part, "HOLDS", name, issuer))
    return out


def thirteen_f(corpus):
    doc, part, manager = THIRTEEN_F
    raw = (corpus / doc).read_text(errors="replace")
    blocks = re.findall(r"<XML>\s*(.*?)\s*</XML>", raw, re.S)
    table = ET.fromstring(blocks[1].strip().encode())
    issuers = []
    for info in (e for e in table.iter() if local(e.tag) == "infoTable"):
        name = find_text(info, "nameOfIssuer")
        if name not in issuers:
            issuers.append(name)
    return [fact(doc, part, "HOLDS", manager, i) for i in issuers]


class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append([c for c in self.row if c])
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def ex21(corpus):
    out = []
    for doc, parent in EX21:
        p = Rows()
        p.feed((corpus / doc).read_text(errors="replace"))
        for cells in p.rows:
            if len(cells) < 2 or re.search(r"jurisdiction|organization|incorporation|percentage", " ".join(cells), re.I):
                continue
            name = re.sub(r"(\s*\(\d+\))+\s*$", "", cells[0]).rstrip("*").strip()
            place = cells[-1]
            out.append(fact(doc, None, "SUBSIDIARY_OF", name, parent))
            out.append(fact(doc, None, "INCORPORATED_IN", name, place))
    return out


def headers(corpus):
    """Every full submission's header (part 0): for each COMPANY DATA block, the company's
    state of incorporation and the city of its business address."""
    out = []
    for path in sorted((corpus / "sec").iterdir()):
        if path.suffix not in (".txt", ".nc"):
            continue
        raw = path.read_text(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        m = re.search(r"<SEC-HEADER>.*?\n(.*?)</SEC-HEADER>", raw, re.S) or \
            re.search(r"<SUBMISSION>\n(.*?)<DOCUMENT>", raw, re.S)
        if not m:
            continue
        doc = "sec/" + path.name
        fields = []  # (key, value) in order, both dialects
        for line in m.group(1).split("\n"):
            line = line.strip()
            t = re.match(r"<([A-Z0-9-]+)>(.*)$", line) or re.match(r"([A-Z][A-Z0-9 -]*):(.*)$", line)
            if t:
                fields.append((t.group(1).replace("-", " ").lower(), t.group(2).strip()))
        company, section = None, None
        for key, value in fields:
            if key in ("company data", "owner data"):
                company = {"doc": doc} if key == "company data" else None
                section = None
                if company is not None:
                    out.append(company)
            elif company is None:
                continue
            elif key in ("business address", "mail address", "former company", "filing values"):
                section = key
            elif key in ("company conformed name", "conformed name") and "name" not in company:
                company["name"] = value
            elif key == "state of incorporation" and value:
                company["incorporated"] = value
            elif key == "city" and section == "business address" and "city" not in company and value:
                company["city"] = value
    facts = []
    for c in out:  # a company in several roles (filer, depositor, ...) counts once
        for typ, key in (("INCORPORATED_IN", "incorporated"), ("HEADQUARTERED_IN", "city")):
            f = fact(c["doc"], 0, typ, c.get("name"), c.get(key))
            if f["source"] and f["target"] and f not in facts:
                facts.append(f)
    return facts


def main():
    corpus, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    for name, facts in (("ownership", ownership(corpus)), ("13f", thirteen_f(corpus)), ("ex21", ex21(corpus)),
                        ("header", headers(corpus))):
        with open(out_dir / f"{name}.gold.jsonl", "w") as f:
            for x in facts:
                f.write(json.dumps(x, ensure_ascii=False) + "\n")
        print(f"{name}: {len(facts)} facts")


if __name__ == "__main__":
    main()

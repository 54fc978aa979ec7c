"""The emulator's stand-in for a model: the prompt contract (the one document between
<document> tags), a deterministic extractor of companies, people and their relations
with verbatim evidence, and the extraction v1 schema check. Split from emulator.py, which
serves it over the providers' protocols."""
from __future__ import annotations

import re
import bisect


DOC_OPEN_RE = re.compile(r"^<document>[ \t]*\r?$", re.MULTILINE)
DOC_CLOSE_RE = re.compile(r"^</document>[ \t]*\r?$", re.MULTILINE)


def content_text(content) -> str:
    """Text of an OpenAI/Anthropic message content (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "\n".join(out)
    return ""


def document_of(messages) -> str:
    """The document of a request: the text between a line `<document>` and a line `</document>`
    in the LAST user message; the whole user message if the markers are absent."""
    last_user = None
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict) and msg.get("role") == "user":
                last_user = msg
    if last_user is None:
        return ""
    text = content_text(last_user.get("content"))
    m_open = DOC_OPEN_RE.search(text)
    if not m_open:
        return text
    start = m_open.end()
    if text.startswith("\r\n", start):
        start += 2
    elif text.startswith("\n", start):
        start += 1
    closes = [m for m in DOC_CLOSE_RE.finditer(text, start)]
    if not closes:
        return text[start:]
    end = closes[-1].start()
    if end > start and text[end - 1] == "\n":
        end -= 1
        if end > start and text[end - 1] == "\r":
            end -= 1
    return text[start:end]


_COMPANY_SUFFIXES = ["Inc.", "Inc", "Incorporated", "Corporation", "Corp.", "Corp", "Co.", "Company",
                     "L.L.C.", "LLC", "L.P.", "LP", "Limited", "Ltd.", "Ltd", "N.V.", "B.V.", "plc",
                     "PLC", "S.A.", "AG", "GmbH", "SE", "LLP"]
_SUFFIX_UPPER = {s.upper() for s in _COMPANY_SUFFIXES}
_SUFFIX_RE = re.compile(
    r"(?:,[ \t]?)?(?<![A-Za-z0-9])("
    + "|".join(re.escape(s) for s in sorted(_COMPANY_SUFFIXES, key=len, reverse=True))
    + r")(?![A-Za-z0-9])", re.IGNORECASE)
_NAME_TOKEN_RE = re.compile(r"^(?:[A-Z0-9][A-Za-z0-9&'\u2019.\-]*|&)$")
_CONNECTORS = {"and", "of", "de", "&", "la", "du", "der", "und"}
_STOPWORDS = {"The", "This", "That", "These", "Those", "Our", "Such", "Each", "Any", "Its", "A", "An",
              "In", "On", "By", "For", "Of", "And", "To", "With", "From", "As", "At", "Between",
              "Among", "Under", "Per", "Dear", "See", "If", "When", "Where", "Upon", "All", "Both",
              "Neither", "Either", "Certain", "Other", "Your", "Their", "His", "Her", "We", "It",
              "THE", "OF", "AND", "Item", "ITEM", "Section", "Note", "Exhibit", "EXHIBIT"}
_TITLES = sorted([
    "Chief Executive Officer", "Chief Financial Officer", "Chief Operating Officer",
    "Chief Accounting Officer", "Chief Legal Officer", "Chief Technology Officer",
    "General Counsel", "Executive Vice President", "Senior Vice President", "Vice President",
    "President", "Chairman of the Board", "Chairman", "Chairwoman", "Chair", "Director",
    "Corporate Secretary", "Secretary", "Treasurer", "Controller", "Managing Director", "Trustee",
], key=len, reverse=True)
_TITLE_ALT = "|".join(re.escape(t) for t in _TITLES)
_PNAME = (r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?(?:[ \t]+[A-Z]\.)?"
          r"(?:[ \t]+[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?){1,2}")
_PERSON_A_RE = re.compile(r"(?<![A-Za-z])(" + _PNAME + r"),[ \t]+(?:(?:our|the|its|their)[ \t]+)?(" + _TITLE_ALT + r")\b")
_PERSON_B_RE = re.compile(r"\b(" + _TITLE_ALT + r"),?[ \t]+(" + _PNAME + r")(?![A-Za-z])")
_PERSON_SIG_RE = re.compile(r"/s/[ \t]*(" + _PNAME + r")(?![A-Za-z])")
_NOT_PERSON_WORDS = {"Board", "Company", "Annual", "Report", "Form", "Securities", "Exchange",
                     "Commission", "Act", "Agreement", "Plan", "Stock", "Common", "United", "States",
                     "Registrant", "Corporation", "Inc", "Fund", "Trust", "Bank", "Group", "Holdings"}
_CIK_RE = re.compile(r"(?:CIK|Central Index Key|CENTRAL INDEX KEY)[:#\s]*(?:No\.?\s*)?(\d{4,10})")
_TICKER_RE = re.compile(r"(?:NYSE|Nasdaq|NASDAQ|NYSE American|Nasdaq Global Select Market)[:\s]+\"?([A-Z]{1,5})\b")
_LEI_RE = re.compile(r"\bLEI\b[:\s]*([A-Z0-9]{18}[0-9]{2})\b")
_JURIS_RE = re.compile(r"\ban? (Delaware|Nevada|Maryland|New York|California|Texas|Ohio|Pennsylvania|"
                       r"Massachusetts|New Jersey|Virginia|Washington|Florida|Minnesota|Cayman Islands|"
                       r"Bermuda|British Virgin Islands|England and Wales|Ireland|Luxembourg|Netherlands|"
                       r"Switzerland|Canada|Germany|Japan|Korea|Singapore)\b")
_PERCENT_RE = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?(?:%|percent)")
MAX_EVIDENCE = 300
MIN_EVIDENCE = 20


def _line_bounds(text: str, s: int, e: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, s) + 1
    b = text.find("\n", e)
    return a, (len(text) if b < 0 else b)


def _strip_bounds(text: str, a: int, b: int, s: int, e: int) -> tuple[int, int]:
    while a < s and text[a].isspace():
        a += 1
    while b > e and text[b - 1].isspace():
        b -= 1
    return a, b


def evidence_span(text: str, s: int, e: int) -> tuple[int, int] | None:
    """A verbatim quote around [s, e): its line, else its sentence, clipped to MAX_EVIDENCE chars,
    widened to MIN_EVIDENCE chars if the line is shorter. None if [s, e) alone is too long."""
    if e - s > MAX_EVIDENCE:
        return None
    a, b = _strip_bounds(text, *_line_bounds(text, s, e), s, e)
    if b - a > MAX_EVIDENCE:
        cut = max(text.rfind(". ", a, s), text.rfind("; ", a, s))
        if cut >= 0:
            a = cut + 2
        ends = [x for x in (text.find(". ", e, b), text.find("; ", e, b)) if x >= 0]
        if ends:
            b = min(ends) + 1
        a, b = _strip_bounds(text, a, b, s, e)
    if b - a > MAX_EVIDENCE:
        room = MAX_EVIDENCE - (e - s)
        a = max(a, s - room // 2)
        b = min(b, a + MAX_EVIDENCE)
        a = max(a, b - MAX_EVIDENCE)
        # start and end on word boundaries where that keeps the match inside
        sp = text.find(" ", a, s)
        if 0 <= sp < s and sp - a < 40:
            a = sp + 1
        sp = text.rfind(" ", e, b)
        if sp > e and b - sp < 40:
            b = sp
        a, b = _strip_bounds(text, a, b, s, e)
    # Too short: add whole neighbouring lines, the next one first. The raw bounds move on
    # every step (stripping blank lines must not undo the progress, or this never ends).
    ra, rb = a, b
    while b - a < MIN_EVIDENCE and (ra > 0 or rb < len(text)):
        if rb < len(text):
            nb = text.find("\n", rb + 1)
            nb = len(text) if nb < 0 else nb
            if nb - ra > MAX_EVIDENCE:
                break
            rb = nb
        else:
            pa = text.rfind("\n", 0, max(0, ra - 1)) + 1
            if rb - pa > MAX_EVIDENCE:
                break
            ra = pa
        a, b = _strip_bounds(text, ra, rb, s, e)
    return a, b


def _is_suffix(word: str) -> bool:
    return word in _COMPANY_SUFFIXES or (word.isupper() and word in _SUFFIX_UPPER)


_TITLE_OF_RE = re.compile(r"(?:" + _TITLE_ALT + r") of ")


def _find_companies(text: str) -> list[tuple[int, int]]:
    spans = []
    matches = [m for m in _SUFFIX_RE.finditer(text) if _is_suffix(m.group(1))]
    for i, m in enumerate(matches):
        if i + 1 < len(matches):
            gap = text[m.end():matches[i + 1].start(1)]
            if len(gap) <= 2 and gap.strip(", \t") == "":
                continue  # "Co. LLC": the next suffix ends this name
        name_end = m.end()
        head_end = m.start()  # before the optional comma
        line_start = text.rfind("\n", 0, head_end) + 1
        head = text[line_start:head_end]
        tokens = list(re.finditer(r"\S+", head))
        if not tokens or tokens[-1].end() != len(head.rstrip(" \t")) or head[tokens[-1].end():].strip(" \t"):
            continue
        if len(head) - tokens[-1].end() > 1:  # more than one space before the suffix
            continue
        taken = []
        for tok in reversed(tokens):
            word = tok.group(0)
            if len(taken) >= 6:
                break
            if taken and _is_suffix(word.rstrip(",")):
                break  # the end of a previous company name
            if _NAME_TOKEN_RE.match(word) or (word in _CONNECTORS and taken):
                if taken and head[tok.end():taken[-1].start()] not in (" ", "\t"):
                    break
                taken.append(tok)
            else:
                break
        taken.reverse()
        if taken:
            t_of = None
            for mm in _TITLE_OF_RE.finditer(head, taken[0].start()):
                t_of = mm.end()
            if t_of is not None:  # "Chief Executive Officer of Apple Inc." -> "Apple Inc."
                taken = [t for t in taken if t.start() >= t_of]
        while taken and (taken[0].group(0) in _CONNECTORS or taken[0].group(0) in _STOPWORDS
                         or re.fullmatch(r"[\d,.\-/]+", taken[0].group(0))):
            taken.pop(0)
        if not any(t.group(0)[0].isalpha() and t.group(0) not in _STOPWORDS for t in taken):
            continue
        spans.append((line_start + taken[0].start(), name_end))
    return spans


def _find_persons(text: str, company_spans) -> list[tuple[int, int, str | None]]:
    found = []
    company_spans = sorted(company_spans)
    starts = [cs for cs, _ in company_spans]

    def ok(s: int, e: int) -> bool:
        words = text[s:e].split()
        if words[0] in _STOPWORDS or any(w.rstrip(".") in _NOT_PERSON_WORDS for w in words):
            return False
        if any(words[0] == t.split()[0] for t in _TITLES):
            return False
        i = bisect.bisect_left(starts, e)  # company spans starting before e; they don't nest
        return not (i > 0 and company_spans[i - 1][1] > s)

    for m in _PERSON_A_RE.finditer(text):
        if ok(m.start(1), m.end(1)):
            found.append((m.start(1), m.end(1), m.group(2)))
    for m in _PERSON_B_RE.finditer(text):
        if ok(m.start(2), m.end(2)):
            found.append((m.start(2), m.end(2), m.group(1)))
    for m in _PERSON_SIG_RE.finditer(text):
        if ok(m.start(1), m.end(1)):
            found.append((m.start(1), m.end(1), None))
    found.sort(key=lambda x: x[0])
    return found


def extract(text: str, max_entities: int = 12, max_relations: int = 4) -> dict:
    """Deterministic extraction.v1 output for `text`: every evidence is a verbatim substring."""
    companies = _find_companies(text)
    persons = _find_persons(text, companies)
    mentions = [(s, e, "COMPANY", None) for s, e in companies] + [(s, e, "PERSON", t) for s, e, t in persons]
    mentions.sort(key=lambda x: (x[0], x[1]))
    entities, by_name = [], {}
    for s, e, etype, title in mentions:
        name = text[s:e]
        if name in by_name:
            continue
        if len(entities) >= max_entities:
            break
        ev = evidence_span(text, s, e)
        if ev is None:
            continue
        a, b = ev
        la, lb = _line_bounds(text, s, e)
        line = text[la:lb]
        cik = ticker = lei = juris = None
        if etype == "COMPANY":
            m = _CIK_RE.search(line)
            cik = m.group(1) if m else None
            m = _TICKER_RE.search(line)
            ticker = m.group(1) if m else None
            m = _LEI_RE.search(line)
            lei = m.group(1) if m else None
            m = _JURIS_RE.search(text, e, min(lb, e + 80))
            juris = m.group(1) if m else None
        eid = f"e{len(entities) + 1}"
        by_name[name] = eid
        entities.append({"id": eid, "name": name, "type": etype, "cik": cik, "ticker": ticker,
                         "lei": lei, "jurisdiction": juris, "evidence": text[a:b]})

    relations, seen = [], set()

    def add_relation(src: str, dst: str, rtype: str, s1, e1, s2, e2, role=None):
        if len(relations) >= max_relations or (src, dst, rtype) in seen or src == dst:
            return
        lo, hi = min(s1, s2), max(e1, e2)
        ev = evidence_span(text, lo, hi)
        if ev is None:
            return
        a, b = ev
        quote = text[a:b]
        pct = None
        if rtype in ("SUBSIDIARY_OF", "BENEFICIAL_OWNER_OF"):
            m = _PERCENT_RE.search(quote)
            if m:
                pct = float(m.group(1))
                if pct > 100:
                    pct = None
        seen.add((src, dst, rtype))
        relations.append({"source": src, "target": dst, "type": rtype, "evidence": quote,
                          "ownership_percent": pct, "effective_date": None, "role": role})

    # companies and persons mentioned on the same line (mentions are sorted, so lines are runs)
    lines: dict[int, list] = {}
    for s, e, etype, title in mentions:
        if text[s:e] in by_name:
            lines.setdefault(_line_bounds(text, s, e)[0], []).append((s, e, etype, title, by_name[text[s:e]]))
    for line_start, group in lines.items():
        if len(relations) >= max_relations:
            break
        if len({g[4] for g in group}) < 2:
            continue
        la, lb = _line_bounds(text, group[0][0], group[0][1])
        low = text[la:lb].lower()
        for i, (s1, e1, t1, title1, id1) in enumerate(group):
            for s2, e2, t2, title2, id2 in group[i + 1:]:
                if t1 == "COMPANY" and t2 == "COMPANY":
                    if "acqui" in low:
                        add_relation(id1, id2, "ACQUIRED", s1, e1, s2, e2)
                    elif "agreement" in low and "subsidiar" not in low:
                        add_relation(id1, id2, "AGREEMENT_WITH", s1, e1, s2, e2)
                    else:
                        add_relation(id1, id2, "SUBSIDIARY_OF", s1, e1, s2, e2)
                elif {t1, t2} == {"PERSON", "COMPANY"}:
                    pid, cid = (id1, id2) if t1 == "PERSON" else (id2, id1)
                    title = title1 if t1 == "PERSON" else title2
                    director = title and title.split()[0] in ("Director", "Chairman", "Chairwoman", "Chair", "Trustee")
                    add_relation(pid, cid, "DIRECTOR_OF" if director else "OFFICER_OF", s1, e1, s2, e2, role=title)
    return {"entities": entities, "relations": relations}


ENTITY_KEYS = ["id", "name", "type", "cik", "ticker", "lei", "jurisdiction", "evidence"]
RELATION_KEYS = ["source", "target", "type", "evidence", "ownership_percent", "effective_date", "role"]
ENTITY_TYPES = {"COMPANY", "PERSON", "SECURITY", "FUND", "GOVERNMENT_BODY", "LOCATION", "EXCHANGE", "TRUST"}
RELATION_TYPES = {"SUBSIDIARY_OF", "OFFICER_OF", "DIRECTOR_OF", "BENEFICIAL_OWNER_OF", "AUDITED_BY",
                  "ACQUIRED", "AGREEMENT_WITH", "ISSUER_OF", "INCORPORATED_IN", "HEADQUARTERED_IN",
                  "HOLDS", "LISTED_ON"}


def schema_errors(obj) -> list[str]:
    """Checks `obj` against schemas/extraction.v1.json (hand-coded, stdlib only)."""
    errs = []
    if not isinstance(obj, dict) or set(obj) != {"entities", "relations"}:
        return ["root must be an object with exactly entities and relations"]
    for key, keys, checks in (("entities", ENTITY_KEYS, {"type": ENTITY_TYPES}),
                              ("relations", RELATION_KEYS, {"type": RELATION_TYPES})):
        if not isinstance(obj[key], list):
            errs.append(f"{key} must be an array")
            continue
        for i, item in enumerate(obj[key]):
            if not isinstance(item, dict) or set(item) != set(keys):
                errs.append(f"{key}[{i}] must have exactly {keys}")
                continue
            for k, v in item.items():
                nullable = k in ("cik", "ticker", "lei", "jurisdiction", "effective_date", "role", "ownership_percent")
                want = (int, float) if k == "ownership_percent" else str
                if v is None and nullable:
                    continue
                if not isinstance(v, want) or isinstance(v, bool):
                    errs.append(f"{key}[{i}].{k} has the wrong type")
                elif k in checks and v not in checks[k]:
                    errs.append(f"{key}[{i}].{k} is not in the enumeration")
    return errs

// The web console's pages. Each reads through the typed calls the JSON API answers from
// (run::Coordinator, the entity registry, verify's and extract's records) and escapes
// every value with html::escape; links are "/ui/..." plus url-encoded ids only.
#include "service/internal/console_pages.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "registry/registry.h"
#include "service/internal/html.h"
#include "verify/verify.h"

namespace fgraph::service::pages {

using html::escape;
using html::url_encode;

namespace {

run::Coordinator coordinator(const Request& r) {
  return run::Coordinator(r.settings, *r.ledger.store, *r.ledger.transport, r.ledger.clock,
                          r.ledger.progress);
}

std::string query_value(const Request& r, const std::string& name) {
  auto it = r.query.find(name);
  return it == r.query.end() ? std::string() : it->second;
}

std::string run_href(const std::string& run_id) { return "/ui/runs/" + url_encode(run_id); }
std::string doc_href(const std::string& run_id, const std::string& doc_id) {
  return run_href(run_id) + "/documents/" + url_encode(doc_id);
}
std::string entity_href(const std::string& id) { return "/ui/entities/" + url_encode(id); }

// <a href="HREF">TEXT</a>: `href` is built from url-encoded parts; `text` is escaped here.
std::string link(const std::string& href, std::string_view text) {
  std::string out = "<a href=\"";
  escape(out, href);
  out += "\">";
  escape(out, text);
  out += "</a>";
  return out;
}

std::string cell(std::string_view text) { return "<td>" + escape(text) + "</td>"; }
std::string num(std::int64_t n) { return "<td class=\"num\">" + std::to_string(n) + "</td>"; }
std::string opt(const std::optional<std::string>& v) { return v ? *v : std::string("—"); }

// "3 d 4 h", "2 h 5 min", "40 s".
std::string age_of(const std::string& rfc3339, std::chrono::system_clock::time_point now) {
  auto at = parse_utc(rfc3339);
  if (!at) return "?";
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *at).count();
  if (s < 0) s = 0;
  if (s >= 86400) return std::to_string(s / 86400) + " d " + std::to_string(s % 86400 / 3600) + " h";
  if (s >= 3600) return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  if (s >= 60) return std::to_string(s / 60) + " min";
  return std::to_string(s) + " s";
}

// "10-K · Apple Inc. · 0000320193-24-000123", the filer's name clipped unless `whole`.
std::string document_label(const registry::DocumentRecord& d, bool whole = false) {
  std::string label = d.form_type.value_or(d.format);
  if (d.company) label += " · " + (whole ? *d.company : html::clipped(*d.company));
  if (d.accession) label += " · " + *d.accession;
  return label;
}

// <h1 title="WHOLE">CLIPPED</h1>: a 10 KB name stays readable.
std::string heading(std::string_view text, std::string_view after = "") {
  std::string out = "<h1 title=\"" + escape(text) + "\">" + escape(html::clipped(text));
  out += after;
  out += "</h1>";
  return out;
}

// The dropped facts of a page as a table.
std::string drops_table(const std::string& run_id, const std::vector<verify::RecordedDrop>& drops,
                        bool with_document) {
  std::string b = "<table class=\"drops\"><thead><tr>";
  if (with_document) b += "<th>Document</th>";
  b += "<th>Fact</th><th>Reason</th><th>Detail</th><th>Quote the model gave</th></tr></thead><tbody>";
  for (const auto& d : drops) {
    b += "<tr data-reason=\"" + escape(d.reason) + "\">";
    if (with_document) b += "<td>" + link(doc_href(run_id, d.doc_id), d.doc_id.substr(0, 19)) + "</td>";
    std::string fact = std::string(verify::to_string(d.kind));
    if (d.index >= 0) fact += " #" + std::to_string(d.index);
    if (!d.local_id.empty()) fact += " (" + d.local_id + ")";
    b += cell(fact) + "<td class=\"reason\">" + escape(d.reason) + "</td>" + cell(d.detail) +
         "<td class=\"quote\">" + escape(d.quote) + "</td></tr>";
  }
  b += "</tbody></table>";
  return b;
}

}  // namespace

std::int64_t page_of(const std::map<std::string, std::string>& query) {
  auto it = query.find("page");
  if (it == query.end() || it->second.empty() || it->second.size() > 9 ||
      it->second.find_first_not_of("0123456789") != std::string::npos) {
    return 1;
  }
  return std::max<std::int64_t>(1, std::stoll(it->second));
}

std::string marked_text(std::string_view text, std::vector<Span> spans) {
  std::erase_if(spans, [](const Span& s) { return s.end <= s.start; });
  // Outer marks first: by start, the longer first.
  std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::vector<std::uint32_t> bounds;
  for (const auto& s : spans) {
    bounds.push_back(s.start);
    bounds.push_back(s.end);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  // Code-point boundary -> byte offset, in one pass over the text.
  std::vector<std::size_t> at(bounds.size(), text.size());
  std::size_t next = 0;
  std::uint32_t cp = 0;
  for (std::size_t i = 0; i <= text.size() && next < bounds.size(); ++i) {
    if (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    while (next < bounds.size() && bounds[next] == cp) at[next++] = i;
    ++cp;
  }
  std::string out;
  out.reserve(text.size() + text.size() / 8 + spans.size() * 160);
  std::size_t pos = 0;  // bytes of the text written
  bool found_anchor = false;
  for (std::size_t k = 0; k + 1 < bounds.size(); ++k) {
    const std::size_t from = at[k], to = at[k + 1];
    escape(out, text.substr(pos, from - pos));
    pos = from;
    std::size_t open = 0;
    for (const auto& s : spans) {
      if (s.start > bounds[k]) break;
      if (s.end <= bounds[k]) continue;
      if (s.fact_id.empty()) {
        out += found_anchor ? "<mark class=\"found\">" : "<mark class=\"found\" id=\"found\">";
        found_anchor = true;
      } else {
        out += "<mark data-fact-id=\"";
        escape(out, s.fact_id);
        out += "\" title=\"";
        escape(out, s.title);
        out += "\">";
      }
      ++open;
    }
    escape(out, text.substr(from, to - from));
    pos = to;
    for (std::size_t i = 0; i < open; ++i) out += "</mark>";
  }
  escape(out, text.substr(std::min(pos, text.size())));
  return out;
}

Result<Rendered> runs(const Request& r) {
  auto co = coordinator(r);
  const auto now = r.ledger.clock.now();
  std::string b;
  if (auto alerts = r.alerts.open(); !alerts.empty()) {
    b += "<section class=\"alerts\"><h2>Open alerts</h2><ul>";
    for (const auto& a : alerts) {
      b += "<li><span class=\"kind\">" + escape(a.kind) + "</span> " + escape(a.message);
      if (!a.run_id.empty()) b += " " + link(run_href(a.run_id), a.run_id);
      b += " <span class=\"muted\">" + escape(a.raised_at) + "</span></li>";
    }
    b += "</ul></section>";
  }
  auto batches = extract::open_batches(*r.ledger.store);
  if (!batches) return batches.error();
  if (!batches->empty()) {
    b += "<section><h2>Open batches</h2><table><thead><tr><th>Run</th><th>Lane</th><th>Model</th>"
         "<th>Batch</th><th>State</th><th>Rows</th><th>Age</th></tr></thead><tbody>";
    for (const auto& x : *batches) {
      b += "<tr><td>" + link(run_href(x.run_id), x.run_id) + "</td>" + cell(x.lane) + cell(x.model) +
           cell(x.remote_id) + cell(x.state) + num(x.rows) + cell(age_of(x.created_at, now)) + "</tr>";
    }
    b += "</tbody></table></section>";
  }
  auto all = co.runs();
  if (!all) return all.error();
  std::reverse(all->begin(), all->end());  // newest first
  const std::int64_t total = static_cast<std::int64_t>(all->size());
  const std::int64_t page = page_of(r.query);
  const std::int64_t first = std::min(total, (page - 1) * kRunsPerPage);
  const std::int64_t last = std::min(total, first + kRunsPerPage);
  b += "<section><h2>Runs</h2><table class=\"runs\"><thead><tr><th>Run</th><th>State</th>"
       "<th>Lane</th><th>Model</th><th>Tags</th><th>Documents</th><th>Accepted</th>"
       "<th>Dropped</th><th>Leak alarms</th><th>Cost</th><th>Started</th><th>Finished</th>"
       "</tr></thead><tbody>";
  for (std::int64_t i = first; i < last; ++i) {
    const auto& s = (*all)[i];
    auto rep = co.report(s.run_id);
    if (!rep) return rep.error();
    std::string tags;
    for (const auto& [k, v] : s.tags) tags += (tags.empty() ? "" : ", ") + k + "=" + v;
    b += "<tr data-run-id=\"" + escape(s.run_id) + "\"><td>" + link(run_href(s.run_id), s.run_id) +
         "</td><td class=\"state\">" + escape(run::to_string(s.state)) + "</td>" + cell(s.lane) +
         cell(s.model) + cell(tags) + num(s.documents) + num(rep->facts_accepted) +
         num(rep->facts_dropped) + num(static_cast<std::int64_t>(rep->leak_alarms.size())) +
         "<td class=\"num\">" + html::dollars(rep->cost_usd) + "</td>" + cell(s.started_at) +
         cell(s.finished_at.value_or("")) + "</tr>";
  }
  b += "</tbody></table>" + html::pager("/ui/?", page, kRunsPerPage, total) + "</section>";
  return Rendered{"Runs", "<h1>Runs</h1>" + b, ""};
}

Result<Rendered> run(const Request& r) {
  const std::string& run_id = r.params.at(0);
  auto co = coordinator(r);
  auto rep = co.report(run_id);
  if (!rep) return rep.error();
  const std::string href = run_href(run_id);
  std::string b = "<h1>Run <code>" + escape(run_id) + "</code></h1>";
  b += "<p class=\"actions\"><a class=\"button\" href=\"" + escape(href) +
       "/rollback\">Roll back the run…</a> <a class=\"button\" href=\"" + escape(href) +
       "/replay\">Replay…</a></p>";
  b += "<dl class=\"summary\"><dt>State</dt><dd class=\"state\">" + escape(rep->state) +
       "</dd><dt>Lane</dt><dd>" + escape(rep->lane) + "</dd><dt>Model</dt><dd>" + escape(rep->model) +
       "</dd><dt>Files seen</dt><dd>" + std::to_string(rep->files_seen) +
       "</dd><dt>Documents parsed</dt><dd>" + std::to_string(rep->documents_parsed) +
       "</dd><dt>Parts skipped</dt><dd>" + std::to_string(rep->parts_skipped) + "</dd>";
  for (const auto& [reason, n] : rep->files_failed_by_reason) {
    b += "<dt>Files failed: " + escape(reason) + "</dt><dd>" + std::to_string(n) + "</dd>";
  }
  b += "</dl>";

  b += "<section><h2>Requests</h2><table class=\"reconciliation\"><tbody>";
  const std::pair<const char*, std::int64_t> requests[] = {
      {"planned", rep->requests_planned},     {"deduplicated", rep->requests_deduplicated},
      {"reused", rep->requests_reused},       {"submitted", rep->requests_submitted},
      {"completed", rep->requests_completed}, {"dead-lettered", rep->requests_dead_lettered},
      {"in flight", rep->requests_in_flight}, {"attempts", rep->attempts},
      {"resubmitted", rep->resubmitted}};
  for (const auto& [name, n] : requests) b += "<tr><th>" + std::string(name) + "</th>" + num(n) + "</tr>";
  for (const auto& [outcome, n] : rep->failed_by_outcome) {
    b += "<tr><th>failed: " + escape(outcome) + "</th>" + num(n) + "</tr>";
  }
  b += "</tbody></table><p class=\"identity\">submitted = completed + dead-lettered + in flight: <strong>" +
       std::string(rep->identity_holds() ? "holds" : "DOES NOT HOLD") + "</strong></p></section>";

  b += "<section><h2>Facts</h2><p>" + std::to_string(rep->facts_accepted) + " accepted, " +
       std::to_string(rep->facts_dropped) + " dropped.</p>";
  if (!rep->dropped_by_reason.empty()) {
    b += "<table class=\"dropped-by-reason\"><thead><tr><th>Reason</th><th>Dropped</th></tr></thead><tbody>";
    for (const auto& [reason, n] : rep->dropped_by_reason) {
      b += "<tr data-reason=\"" + escape(reason) + "\"><td>" +
           link(href + "/dropped?reason=" + url_encode(reason), reason) + "</td>" + num(n) + "</tr>";
    }
    b += "</tbody></table><p>" + link(href + "/dropped", "Every dropped fact") + "</p>";
  }
  b += "</section>";

  if (!rep->leak_alarms.empty()) {
    b += "<section class=\"leaks\"><h2>Leak alarms</h2><table><thead><tr><th>Document</th>"
         "<th>Quote found in</th><th>Quote</th></tr></thead><tbody>";
    for (const auto& l : rep->leak_alarms) {
      b += "<tr><td>" + link(doc_href(run_id, l.own_doc_id), l.own_doc_id.substr(0, 19)) + "</td><td>" +
           link(doc_href(run_id, l.other_doc_id) + "?find=" + url_encode(l.quote) + "#found",
                l.other_doc_id.substr(0, 19)) +
           "</td><td class=\"quote\">" + escape(l.quote) + "</td></tr>";
    }
    b += "</tbody></table></section>";
  }

  if (!rep->dead_letters.empty()) {
    b += "<section><h2>Dead letters</h2><table class=\"dead-letters\"><thead><tr><th>Request</th>"
         "<th>Document</th><th>Outcome</th><th>Detail</th><th>Attempts</th></tr></thead><tbody>";
    for (const auto& d : rep->dead_letters) {
      b += "<tr>" + cell(d.custom_id) + "<td>" + link(doc_href(run_id, d.doc_id), d.doc_id.substr(0, 19)) +
           "</td>" + cell(d.outcome) + cell(d.detail) + num(d.attempts) + "</tr>";
    }
    b += "</tbody></table></section>";
  }

  b += "<section><h2>Cost</h2><table class=\"usage\"><thead><tr><th>Lane</th><th>Model</th>"
       "<th>Attempts</th><th>Input tokens</th><th>Output tokens</th><th>Dollars</th></tr></thead><tbody>";
  for (const auto& u : rep->usage) {
    b += "<tr>" + cell(u.lane) + cell(u.model) + num(u.attempts) + num(u.input_tokens) +
         num(u.output_tokens) + "<td class=\"num\">" + html::dollars(u.cost_usd) + "</td></tr>";
  }
  b += "</tbody></table><p>Total " + html::dollars(rep->cost_usd) + ", " +
       html::dollars(rep->cost_per_staged_document()) + " per staged document.</p></section>";

  b += "<section><h2>Graph</h2><p>" + std::to_string(rep->documents_staged) + " documents staged, " +
       std::to_string(rep->documents_stage_failed) + " failed, " +
       std::to_string(rep->documents_rolled_back) + " rolled back alone, " +
       std::to_string(rep->relations_staged) + " relations.</p>";
  if (!rep->stage_errors.empty()) {
    b += "<ul class=\"errors\">";
    for (const auto& e : rep->stage_errors) b += "<li>" + escape(e) + "</li>";
    b += "</ul>";
  }
  b += "</section>";

  const std::int64_t page = page_of(r.query);
  auto docs = co.documents(run_id, (page - 1) * kDocumentsPerPage, kDocumentsPerPage);
  if (!docs) return docs.error();
  b += "<section><h2>Documents</h2><table class=\"documents\"><thead><tr><th>Document</th>"
       "<th>Source</th><th>State</th><th>Accepted</th><th>Dropped</th><th></th></tr></thead><tbody>";
  for (const auto& d : docs->documents) {
    const auto& m = d.document;
    b += "<tr data-doc-id=\"" + escape(m.doc_id) + "\"><td>" + link(doc_href(run_id, m.doc_id), document_label(m)) +
         "</td>" + cell(m.source) + "<td class=\"state\">" + escape(run::to_string(d.state)) +
         (d.error.empty() ? "" : " <span class=\"error\">" + escape(d.error) + "</span>") + "</td>" +
         num(d.facts.accepted) + num(d.facts.dropped) + "<td><a class=\"small\" href=\"" +
         escape(href + "/rollback?doc_id=" + url_encode(m.doc_id)) + "\">Roll back…</a></td></tr>";
  }
  b += "</tbody></table>" + html::pager(href + "?", page, kDocumentsPerPage, docs->total) + "</section>";
  return Rendered{"Run " + run_id, b, ""};
}

Result<Rendered> dropped(const Request& r) {
  const std::string& run_id = r.params.at(0);
  verify::DropQuery q;
  q.run_id = run_id;
  const std::string reason = query_value(r, "reason");
  if (!reason.empty()) q.reason = reason;
  const std::int64_t page = page_of(r.query);
  q.offset = (page - 1) * kDropsPerPage;
  q.limit = kDropsPerPage;
  auto co = coordinator(r);
  if (auto rep = co.report(run_id); !rep) return rep.error();  // kNotFound for an unknown run
  auto drops = verify::recorded_drops(*r.ledger.store, q);
  if (!drops) return drops.error();
  std::string b = "<h1>Dropped facts of run " + link(run_href(run_id), run_id);
  if (!reason.empty()) b += ": <span class=\"reason\">" + escape(reason) + "</span>";
  b += "</h1><p>" + std::to_string(drops->total) + " dropped.</p>";
  b += drops_table(run_id, drops->drops, true);
  std::string base = run_href(run_id) + "/dropped?";
  if (!reason.empty()) base += "reason=" + url_encode(reason) + "&";
  b += html::pager(escape(base), page, kDropsPerPage, drops->total);
  return Rendered{"Dropped facts", b, ""};
}

Result<Rendered> document(const Request& r) {
  const std::string& run_id = r.params.at(0);
  const std::string& doc_id = r.params.at(1);
  auto co = coordinator(r);
  auto facts = co.document_facts(run_id, doc_id);
  if (!facts) return facts.error();
  auto doc = registry::get_document(*r.ledger.store, doc_id);
  if (!doc) return doc.error();
  std::vector<Span> spans;
  spans.reserve(facts->size() + 1);
  for (const auto& f : *facts) {
    std::string title = f.type + ": " + f.name;
    if (f.kind == verify::FactKind::kRelation) title += " → " + f.target_name;
    spans.push_back({f.char_start, f.char_end, f.fact_id, std::move(title)});
  }
  // A leak alarm's quote, found here where it really came from.
  const std::string find = query_value(r, "find");
  bool found = false;
  if (!find.empty()) {
    ingest::Document d;
    d.doc_id = doc->doc_id;
    d.text = doc->text;
    if (auto at = verify::prepare_document(d).find(find)) {
      spans.push_back({at->char_start, at->char_end, "", ""});
      found = true;
    }
  }

  std::string b = heading(document_label(*doc, true));
  b += "<p>" + link(run_href(run_id), "Run " + run_id) + " · <a href=\"" +
       escape(run_href(run_id) + "/rollback?doc_id=" + url_encode(doc_id)) +
       "\">Roll back this document…</a></p>";
  b += "<dl class=\"summary\"><dt>Document</dt><dd><code>" + escape(doc->doc_id) +
       "</code></dd><dt>Source</dt><dd>" + escape(doc->source) + "</dd><dt>Format</dt><dd>" +
       escape(doc->format) + "</dd><dt>Form</dt><dd>" + escape(opt(doc->form_type)) +
       "</dd><dt>Filer</dt><dd>" + escape(opt(doc->company)) + "</dd><dt>CIK</dt><dd>" +
       escape(opt(doc->cik)) + "</dd><dt>Accession</dt><dd>" + escape(opt(doc->accession)) +
       "</dd><dt>Filed</dt><dd>" + escape(opt(doc->filed_at)) + "</dd></dl>";
  if (!find.empty()) {
    b += found ? "<p class=\"notice\"><a href=\"#found\">The quote of the leak alarm is highlighted below.</a></p>"
               : "<p class=\"notice\">The quote was not found in this document.</p>";
  }

  b += "<div class=\"doc-layout\"><article class=\"doc-text\"><pre id=\"text\">" +
       marked_text(doc->text, std::move(spans)) + "</pre></article><aside>";
  b += "<h2>Accepted facts (" + std::to_string(facts->size()) + ")</h2><ol class=\"facts\">";
  for (const auto& f : *facts) {
    b += "<li data-fact-id=\"" + escape(f.fact_id) + "\"><span class=\"type\">" + escape(f.type) +
         "</span> ";
    b += f.entity_id.empty() ? escape(html::clipped(f.name)) : link(entity_href(f.entity_id), html::clipped(f.name));
    if (f.kind == verify::FactKind::kRelation) {
      b += " → ";
      b += f.target_entity_id.empty() ? escape(html::clipped(f.target_name))
                                      : link(entity_href(f.target_entity_id), html::clipped(f.target_name));
    }
    b += "<q>" + escape(f.evidence) + "</q></li>";
  }
  b += "</ol>";

  verify::DropQuery q;
  q.run_id = run_id;
  q.doc_id = doc_id;
  const std::int64_t page = page_of(r.query);
  q.offset = (page - 1) * kDropsPerPage;
  q.limit = kDropsPerPage;
  auto drops = verify::recorded_drops(*r.ledger.store, q);
  if (!drops) return drops.error();
  b += "<h2>Dropped facts (" + std::to_string(drops->total) + ")</h2>";
  b += drops_table(run_id, drops->drops, false);
  b += html::pager(escape(doc_href(run_id, doc_id) + "?"), page, kDropsPerPage, drops->total);

  auto verdicts = verify::run_verdicts(*r.ledger.store, run_id);
  if (!verdicts) return verdicts.error();
  std::string leaks;
  for (const auto& l : verdicts->leaks) {
    if (l.own_doc_id == doc_id) {
      leaks += "<li>A quote of this document's output was found in " +
               link(doc_href(run_id, l.other_doc_id) + "?find=" + url_encode(l.quote) + "#found",
                    l.other_doc_id.substr(0, 19)) +
               ": <q>" + escape(l.quote) + "</q></li>";
    } else if (l.other_doc_id == doc_id) {
      leaks += "<li>A quote in the output of " + link(doc_href(run_id, l.own_doc_id), l.own_doc_id.substr(0, 19)) +
               " comes from this document: <q>" + escape(l.quote) + "</q></li>";
    }
  }
  if (!leaks.empty()) b += "<h2>Leak alarms</h2><ul class=\"leaks\">" + leaks + "</ul>";
  b += "</aside></div>";
  return Rendered{html::clipped(document_label(*doc), 80), b, ""};
}

Result<Rendered> entity(const Request& r) {
  const std::string& id = r.params.at(0);
  auto e = r.ledger.registry->show(id);
  if (!e) return e.error();
  std::string b = heading(e->name, " <span class=\"type\">" + escape(e->type) + "</span>");
  if (e->merged_into) {
    b += "<p class=\"notice\">Merged into " + link(entity_href(*e->merged_into), *e->merged_into) + ".</p>";
  }
  b += "<dl class=\"summary\"><dt>Entity</dt><dd><code>" + escape(e->entity_id) +
       "</code></dd><dt>CIK</dt><dd>" + escape(opt(e->cik)) + "</dd><dt>LEI</dt><dd>" +
       escape(opt(e->lei)) + "</dd><dt>Ticker</dt><dd>" + escape(opt(e->ticker)) +
       "</dd><dt>Jurisdiction</dt><dd>" + escape(opt(e->jurisdiction)) +
       "</dd><dt>Authoritative</dt><dd>" + (e->authoritative ? "yes" : "no") + "</dd>";
  if (e->possible_duplicate_of) {
    b += "<dt>Possible duplicate of</dt><dd>" + link(entity_href(*e->possible_duplicate_of), *e->possible_duplicate_of) + "</dd>";
  }
  b += "</dl>";

  b += "<section><h2>Aliases (" + std::to_string(e->aliases.size()) + ")</h2><table class=\"aliases\">"
       "<thead><tr><th>Alias</th><th>Normalised</th><th>Learnt by</th><th>From</th></tr></thead><tbody>";
  for (const auto& a : e->aliases) {
    b += "<tr><td class=\"alias\">" + escape(a.raw) + "</td>" + cell(a.norm) + cell(a.method) + "<td>";
    if (a.doc_id && a.run_id) b += link(doc_href(*a.run_id, *a.doc_id), a.doc_id->substr(0, 19));
    b += "</td></tr>";
  }
  b += "</tbody></table></section>";

  b += "<section><h2>Merges</h2>";
  if (e->merges.empty()) b += "<p>None.</p>";
  else {
    b += "<table class=\"merges\"><thead><tr><th>Merge</th><th>Survivor</th><th>Merged</th><th>State</th>"
         "<th>Merged at</th><th>Unmerged at</th><th></th></tr></thead><tbody>";
    for (const auto& m : e->merges) {
      b += "<tr>" + cell(m.merge_id) + "<td>" + link(entity_href(m.survivor_id), m.survivor_id) + "</td><td>" +
           link(entity_href(m.merged_id), m.merged_id) + "</td>" + cell(m.state) + cell(m.merged_at) +
           cell(m.unmerged_at.value_or("")) + "<td>";
      if (m.state == "active") {
        b += "<a class=\"small\" href=\"" +
             escape("/ui/merges/" + url_encode(m.merge_id) + "/unmerge?entity=" + url_encode(id)) +
             "\">Unmerge…</a>";
      }
      b += "</td></tr>";
    }
    b += "</tbody></table>";
  }
  b += "</section>";

  const std::int64_t page = page_of(r.query);
  const std::int64_t total = static_cast<std::int64_t>(e->mentions.size());
  b += "<section><h2>Documents that mention it (" + std::to_string(total) + ")</h2><ul class=\"mentions\">";
  for (std::int64_t i = (page - 1) * kDocumentsPerPage; i < std::min(total, page * kDocumentsPerPage); ++i) {
    const auto& m = e->mentions[i];
    auto meta = registry::get_document_meta(*r.ledger.store, m.doc_id);
    b += "<li>" + link(doc_href(m.run_id, m.doc_id), meta ? document_label(*meta) : m.doc_id) +
         " <span class=\"muted\">run " + escape(m.run_id) + "</span></li>";
  }
  b += "</ul>" + html::pager(escape(entity_href(id) + "?"), page, kDocumentsPerPage, total) + "</section>";

  b += "<section><h2>Neighbourhood in the graph</h2>";
  auto co = coordinator(r);
  auto hood = co.neighbourhood(id, 60);
  if (!hood) {
    b += "<p class=\"error\">The graph could not be read: " + escape(redact_urls(hood.error().message)) + "</p>";
  } else if (hood->nodes.empty()) {
    b += "<p>Neo4j holds no node of this entity.</p>";
  } else {
    nlohmann::json g = {{"nodes", nlohmann::json::array()}, {"edges", nlohmann::json::array()}};
    for (const auto& n : hood->nodes) {
      g["nodes"].push_back({{"id", n.entity_id}, {"label", n.label}, {"name", n.name}, {"hops", n.hops}});
    }
    std::string list;
    std::map<std::string, std::string> names;
    for (const auto& n : hood->nodes) names[n.entity_id] = n.name;
    for (const auto& ed : hood->edges) {
      g["edges"].push_back({{"s", ed.source_entity_id}, {"t", ed.target_entity_id}, {"type", ed.type}});
      list += "<li>" + link(entity_href(ed.source_entity_id), html::clipped(names[ed.source_entity_id])) +
              " <span class=\"type\">" + escape(ed.type) + "</span> " +
              link(entity_href(ed.target_entity_id), html::clipped(names[ed.target_entity_id])) + "</li>";
    }
    const std::string data = g.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    b += "<figure class=\"graph\"><svg id=\"graph\" viewBox=\"0 0 800 560\" role=\"img\" "
         "aria-label=\"Neighbourhood graph\" data-graph=\"" + escape(data) + "\"></svg><figcaption>" +
         std::to_string(hood->nodes.size()) + " entities, " + std::to_string(hood->edges.size()) +
         " relations, one and two hops" + (hood->truncated ? " (capped)" : "") +
         ".</figcaption></figure><details><summary>As a list</summary><ul class=\"edges\">" + list +
         "</ul></details>";
  }
  b += "</section>";
  return Rendered{html::clipped(e->name, 80), b, ""};
}

Result<Rendered> search(const Request& r) {
  const std::string q = query_value(r, "q");
  std::string b = "<h1>Search</h1>";
  if (q.empty()) return Rendered{"Search", b + "<p>Type a name, CIK, LEI, ticker, accession number or form type.</p>", ""};
  auto candidates = r.ledger.registry->find(q, std::nullopt, 20);
  if (!candidates) return candidates.error();
  b += "<section><h2>Entities</h2>";
  if (candidates->empty()) b += "<p>None.</p>";
  else {
    b += "<table class=\"candidates\"><thead><tr><th>Entity</th><th>Type</th><th>Matched</th>"
         "<th>By</th><th>Score</th></tr></thead><tbody>";
    for (const auto& c : *candidates) {
      char score[16];
      std::snprintf(score, sizeof score, "%.2f", c.score);
      b += "<tr><td>" + link(entity_href(c.entity_id), html::clipped(c.name)) + "</td>" + cell(c.type) +
           cell(html::clipped(c.matched)) +
           cell(c.method) + "<td class=\"num\">" + score + "</td></tr>";
    }
    b += "</tbody></table>";
  }
  b += "</section>";
  auto docs = registry::find_documents(*r.ledger.store, q, 20);
  if (!docs) return docs.error();
  auto co = coordinator(r);
  b += "<section><h2>Documents</h2>";
  if (docs->empty()) b += "<p>None.</p>";
  else {
    b += "<ul class=\"documents\">";
    for (const auto& d : *docs) {
      auto runs = co.document_runs(d.doc_id);
      if (!runs) return runs.error();
      b += "<li>" + escape(document_label(d)) + " <span class=\"muted\">" + escape(d.source) + "</span>";
      for (const auto& run_id : *runs) b += " " + link(doc_href(run_id, d.doc_id), "in run " + run_id);
      b += "</li>";
    }
    b += "</ul>";
  }
  b += "</section>";
  return Rendered{"Search", b, q};
}

Result<Rendered> cost(const Request& r) {
  using std::chrono::hours;
  const auto now = r.ledger.clock.now();
  auto total_since = [&](std::chrono::system_clock::time_point since) -> Result<double> {
    auto rows = extract::daily_costs(*r.ledger.store, format_utc(since));
    if (!rows) return rows.error();
    double sum = 0;
    for (const auto& x : *rows) sum += x.cost_usd;
    return sum;
  };
  auto day24 = total_since(now - hours(24));
  if (!day24) return day24.error();
  auto day7 = total_since(now - hours(24 * 7));
  if (!day7) return day7.error();
  // The chart's 30 days: today (UTC) and the 29 before it, from their midnight.
  const std::string today = format_utc(now).substr(0, 10);
  std::vector<std::string> days;
  for (int i = 29; i >= 0; --i) days.push_back(format_utc(now - hours(24 * i)).substr(0, 10));
  auto rows = extract::daily_costs(*r.ledger.store, days.front() + "T00:00:00Z");
  if (!rows) return rows.error();
  auto month = total_since(now - hours(24 * 30));
  if (!month) return month.error();

  std::string b = "<h1>Cost</h1><dl class=\"totals\"><dt>Last 24 hours</dt><dd id=\"total-24h\">" +
                  html::dollars(*day24) + "</dd><dt>Last 7 days</dt><dd id=\"total-7d\">" +
                  html::dollars(*day7) + "</dd><dt>Last 30 days</dt><dd id=\"total-30d\">" +
                  html::dollars(*month) + "</dd></dl>";
  // Series: one per (lane, model), stacked per day.
  std::vector<std::pair<std::string, std::string>> series;
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> by;
  std::map<std::string, double> day_total;
  for (const auto& x : *rows) {
    auto key = std::make_pair(x.lane, x.model);
    if (!by.count(key)) series.push_back(key);
    by[key][x.day] += x.cost_usd;
    day_total[x.day] += x.cost_usd;
  }
  double top = 0;
  for (const auto& [d, v] : day_total) top = std::max(top, v);
  constexpr int kWidth = 800, kHeight = 240, kLeft = 60, kBottom = 30, kBar = 20, kStep = 24;
  b += "<figure class=\"chart\"><svg viewBox=\"0 0 " + std::to_string(kWidth) + " " +
       std::to_string(kHeight + kBottom) + "\" role=\"img\" aria-label=\"Dollars per day\">";
  b += "<text x=\"4\" y=\"14\" class=\"axis\">" + html::dollars(top) + "</text>";
  b += "<line x1=\"" + std::to_string(kLeft) + "\" y1=\"" + std::to_string(kHeight) + "\" x2=\"" +
       std::to_string(kWidth) + "\" y2=\"" + std::to_string(kHeight) + "\" class=\"axis\"/>";
  for (std::size_t i = 0; i < days.size(); ++i) {
    const int x = kLeft + static_cast<int>(i) * kStep;
    double base = 0;
    for (std::size_t s = 0; s < series.size(); ++s) {
      auto it = by[series[s]].find(days[i]);
      if (it == by[series[s]].end() || top <= 0) continue;
      const double h0 = base / top * (kHeight - 20), h1 = (base + it->second) / top * (kHeight - 20);
      base += it->second;
      char rect[160];
      std::snprintf(rect, sizeof rect, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" class=\"s%zu\">",
                    x, kHeight - h1, kBar, std::max(h1 - h0, 0.5), s % 8);
      b += rect;
      b += "<title>" + escape(days[i] + " " + series[s].first + " " + series[s].second + " " +
                              html::dollars(it->second)) + "</title></rect>";
    }
    if (i % 5 == 0 || days[i] == today) {
      b += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(kHeight + 18) +
           "\" class=\"axis\">" + days[i].substr(5) + "</text>";
    }
  }
  b += "</svg><figcaption><ul class=\"legend\">";
  for (std::size_t s = 0; s < series.size(); ++s) {
    b += "<li><span class=\"swatch s" + std::to_string(s % 8) + "\"></span>" +
         escape(series[s].first + " · " + series[s].second) + "</li>";
  }
  b += "</ul></figcaption></figure>";
  b += "<table class=\"daily\"><thead><tr><th>Day</th><th>Lane</th><th>Model</th><th>Attempts</th>"
       "<th>Dollars</th></tr></thead><tbody>";
  for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
    b += "<tr>" + cell(it->day) + cell(it->lane) + cell(it->model) + num(it->attempts) +
         "<td class=\"num\">" + html::dollars(it->cost_usd) + "</td></tr>";
  }
  b += "</tbody></table>";
  return Rendered{"Cost", b, ""};
}

}  // namespace fgraph::service::pages

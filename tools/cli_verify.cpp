// fgraph verify DOC_PATH OUTPUT_JSON: the inspection tool of the verify stage. Parses the
// document with the ingest stage, verifies one model output file against it and prints a
// verdict per fact. Writes nothing.
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "tools/cli.h"
#include "verify/verify.h"

namespace fgraph::cli {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One printed line per fact, in output order: entities first, then relations.
struct Line {
  verify::FactKind kind;
  int index;
  std::string id;
  bool accepted;
  std::string reason;
  std::string detail;
  std::uint32_t char_start = 0;
  std::uint32_t char_end = 0;
};

std::vector<Line> lines_of(const verify::RowVerdict& v) {
  std::vector<Line> lines;
  for (const auto& e : v.entities) {
    lines.push_back({verify::FactKind::kEntity, e.index, e.local_id, true, "", "", e.char_start,
                     e.char_end});
  }
  for (const auto& r : v.relations) {
    lines.push_back({verify::FactKind::kRelation, r.index, "", true, "", "", r.char_start,
                     r.char_end});
  }
  for (const auto& d : v.dropped) {
    lines.push_back({d.kind, d.index, d.local_id, false, std::string(verify::to_string(d.reason)),
                     d.detail});
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.index < b.index;
  });
  return lines;
}

json line_json(const Line& l) {
  json j = {{"kind", std::string(verify::to_string(l.kind))}};
  if (l.kind == verify::FactKind::kEntity) j["id"] = l.id;
  if (l.kind == verify::FactKind::kRelation) j["index"] = l.index;
  j["verdict"] = l.accepted ? "accepted" : "dropped";
  j["reason"] = l.accepted ? json(nullptr) : json(l.reason);
  j["char_start"] = l.accepted ? json(l.char_start) : json(nullptr);
  j["char_end"] = l.accepted ? json(l.char_end) : json(nullptr);
  j["detail"] = l.accepted ? json(nullptr) : json(l.detail);
  return j;
}

}  // namespace

void register_verify_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::string doc_path;
    std::string output_path;
    int part = 1;
    std::string schema_path;
    std::vector<std::string> siblings;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Verify one model output file against its document: schema, references between "
      "facts, evidence quotes (substring-or-drop) and the cross-document leak check. "
      "Prints one verdict per fact and a summary. Writes nothing. Exit 0 whether or not "
      "facts were dropped; 1 when the output or the document could not be read; 2 for "
      "usage errors.");
  cmd->add_option("doc_path", flags->doc_path,
                  "The filing the output was extracted from (parsed by the ingest stage)")
      ->required();
  cmd->add_option("output_json", flags->output_path,
                  "The model output: one JSON object with `entities` and `relations`")
      ->required();
  cmd->add_option("--part", flags->part,
                  "Which document of a multi-document file (1-based; default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--schema", flags->schema_path,
                  "The exact schema file sent with the request (default: the built-in "
                  "schemas/extraction.v1.json)");
  cmd->add_option("--sibling", flags->siblings,
                  "Other documents of the same run, for the leak check (repeatable; the "
                  "other parts of DOC_PATH are always included)");
  cmd->add_flag("--json", cli.globals.json,
                "Print one JSON object per fact, then one summary object");
  cmd->callback([&cli, flags] {
    cli.action = [&cli, flags]() -> int {
      std::string schema_text(verify::extraction_schema_v1());
      if (!flags->schema_path.empty()) {
        auto s = read_file(flags->schema_path, 16u << 20);
        if (!s) return report_error(cli, make_error(ErrorCode::kInvalidInput, s.error().message));
        schema_text = std::move(*s);
      }
      auto verifier = verify::Verifier::create(schema_text);
      if (!verifier) return report_error(cli, verifier.error());

      ingest::ParseResult parsed = ingest::parse_file(flags->doc_path);
      if (parsed.documents.empty()) {
        std::string why = parsed.failures.empty() ? "no document in the file"
                                                  : parsed.failures.front().error.message;
        std::cerr << "fgraph: " << flags->doc_path << ": " << why << "\n";
        return kExitPartial;
      }
      auto own = std::find_if(parsed.documents.begin(), parsed.documents.end(),
                              [&](const ingest::Document& d) { return d.part == flags->part; });
      if (own == parsed.documents.end()) {
        std::cerr << "fgraph: " << flags->doc_path << " has no part " << flags->part << " ("
                  << parsed.documents.size() << " documents)\n";
        return kExitUsage;
      }
      auto output = read_file(flags->output_path, 256u << 20);
      if (!output) {
        std::cerr << "fgraph: " << flags->output_path << ": " << output.error().message << "\n";
        return kExitPartial;
      }

      verify::PreparedDocument doc = verify::prepare_document(*own);
      verify::LeakIndex run;
      run.add(doc);
      for (const auto& d : parsed.documents) run.add(d.doc_id, d.text);
      for (const auto& path : flags->siblings) {
        ingest::ParseResult s = ingest::parse_file(path);
        if (s.documents.empty()) {
          std::cerr << "fgraph: " << path << ": cannot be parsed\n";
          return kExitPartial;
        }
        for (const auto& d : s.documents) run.add(d.doc_id, d.text);
      }

      verify::RowVerdict v = verifier->verify(doc, *output, &run);
      int accepted = static_cast<int>(v.accepted_count());
      int dropped = static_cast<int>(v.dropped.size());
      if (cli.globals.json) {
        if (!v.schema_ok) {
          std::cout << dump({{"kind", "output"},
                             {"verdict", "dropped"},
                             {"reason", "schema_invalid"},
                             {"pointer", v.pointer},
                             {"detail", v.schema_error}})
                    << "\n";
        } else {
          for (const auto& l : lines_of(v)) std::cout << dump(line_json(l)) << "\n";
        }
        json leaks = json::array();
        for (const auto& l : v.leaks) {
          leaks.push_back({{"kind", std::string(verify::to_string(l.kind))},
                           {"index", l.index},
                           {"quote", l.quote},
                           {"own_doc_id", l.own_doc_id},
                           {"other_doc_id", l.other_doc_id}});
        }
        std::cout << dump({{"accepted", accepted},
                           {"dropped", dropped},
                           {"by_reason", v.dropped_by_reason()},
                           {"doc_id", v.doc_id},
                           {"leaks", leaks}})
                  << "\n";
        return kExitOk;
      }
      if (!v.schema_ok) {
        std::cout << "output  dropped  schema_invalid at \"" << v.pointer << "\": "
                  << v.schema_error << "\n";
      } else {
        for (const auto& l : lines_of(v)) {
          std::cout << verify::to_string(l.kind) << " "
                    << (l.kind == verify::FactKind::kEntity ? l.id : std::to_string(l.index));
          if (l.accepted) {
            std::cout << "  accepted  [" << l.char_start << ", " << l.char_end << ")\n";
          } else {
            std::cout << "  dropped  " << l.reason << ": " << l.detail << "\n";
          }
        }
      }
      for (const auto& l : v.leaks) {
        std::cout << "ALARM cross-document leak: " << verify::to_string(l.kind) << " "
                  << l.index << " quotes " << l.other_doc_id << " (own " << l.own_doc_id
                  << ")\n";
      }
      std::cout << accepted << " accepted, " << dropped << " dropped";
      for (const auto& [reason, n] : v.dropped_by_reason()) std::cout << "  " << reason << "=" << n;
      std::cout << "\n";
      return kExitOk;
    };
  });
}

}  // namespace fgraph::cli

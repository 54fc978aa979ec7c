// fgraph parse PATH... : the inspection tool of the ingest stage. Writes nothing.
#include <iostream>

#include <nlohmann/json.hpp>

#include "ingest/ingest.h"
#include "tools/cli.h"

namespace fgraph::cli {
namespace {

nlohmann::json optional_json(const std::optional<std::string>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Unicode code points of UTF-8 text (the unit of evidence offsets downstream).
std::size_t count_chars(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

nlohmann::json document_json(const ingest::Document& d, bool with_text) {
  nlohmann::json j = {
      {"doc_id", d.doc_id},
      {"source", d.source},
      {"part", d.part},
      {"format", std::string(ingest::to_string(d.format))},
      {"form_type", optional_json(d.form_type)},
      {"cik", optional_json(d.cik)},
      {"company", optional_json(d.company)},
      {"accession", optional_json(d.accession)},
      {"filed_at", optional_json(d.filed_at)},
      {"period", optional_json(d.period)},
      {"doc_type", optional_json(d.doc_type)},
      {"sequence", optional_json(d.sequence)},
      {"filename", optional_json(d.filename)},
      {"description", optional_json(d.description)},
      {"registry_id", optional_json(d.registry_id)},
      {"chars", count_chars(d.text)},
      {"warnings", d.warnings},
  };
  nlohmann::json parties = nlohmann::json::array();
  for (const auto& p : d.parties) {
    parties.push_back({{"role", p.role}, {"name", p.name}, {"cik", optional_json(p.cik)}});
  }
  j["parties"] = std::move(parties);
  if (with_text) j["text"] = d.text;
  return j;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void register_parse_commands(CLI::App& app, Cli& cli) {
  struct Flags {
    std::vector<std::string> paths;
    bool text = false;
    bool include_hidden = false;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "parse",
      "Parse filings (files or folders, recursively) into documents and print them. "
      "Writes nothing.");
  cmd->add_option("paths", flags->paths,
                  "Files or folders to parse; folders are walked recursively in byte-wise "
                  "sorted order and symlinks may not leave them")
      ->required();
  cmd->add_flag("--json", cli.globals.json,
                "Print one JSON object per line: a document {doc_id, source, part, format, "
                "form_type, cik, company, accession, filed_at, chars, warnings, ...}, a skipped "
                "part {source, part, skipped}, or a failed file {source, error: {code, message}}");
  cmd->add_flag("--text", flags->text, "Include each document's clean text (\"text\" with --json)");
  cmd->add_flag("--include-hidden", flags->include_hidden,
                "Also read files and folders whose name starts with '.' inside the folders "
                "given (passed over by default; the fgraph home is never read)");
  cmd->callback([&cli, flags] {
    cli.action = [&cli, flags]() -> int {
      ingest::Options options;
      options.include_hidden = flags->include_hidden;
      options.excluded_dirs = {cli.globals.home};
      ingest::ParseResult result = ingest::parse_paths(flags->paths, options);
      // Names and metadata come from the files: escaped for the terminal, since they can
      // hold escape codes and newlines (--json escapes through the JSON encoder).
      auto esc = [](std::string_view s) { return escape_for_terminal(s); };
      for (const auto& d : result.documents) {
        if (cli.globals.json) {
          std::cout << dump(document_json(d, flags->text)) << "\n";
        } else {
          std::cout << esc(d.source) << " #" << d.part << "  " << ingest::to_string(d.format)
                    << "  " << esc(d.form_type.value_or("-")) << "  "
                    << esc(d.company.value_or("-")) << "  " << d.text.size() << " bytes  "
                    << d.doc_id.substr(0, 19) << "\n";
          for (const auto& w : d.warnings) std::cout << "  warning: " << esc(w) << "\n";
          if (flags->text) std::cout << d.text << "\n\n";
        }
      }
      for (const auto& s : result.skipped) {
        if (cli.globals.json) {
          std::cout << dump({{"source", s.source}, {"part", s.part}, {"skipped", s.reason}})
                    << "\n";
        } else {
          std::cout << esc(s.source) << " #" << s.part << "  skipped: " << esc(s.reason) << "\n";
        }
      }
      for (const auto& f : result.failures) {
        if (cli.globals.json) {
          nlohmann::json j = {{"source", f.source},
                              {"error", {{"code", f.reason_code}, {"message", f.error.message}}}};
          if (f.part > 0) j["part"] = f.part;
          std::cout << dump(j) << "\n";
        } else {
          std::cerr << "fgraph: " << esc(f.source)
                    << (f.part > 0 ? " #" + std::to_string(f.part) : std::string()) << ": "
                    << esc(f.error.message) << "\n";
        }
      }
      if (!cli.globals.json) {
        std::cerr << result.documents.size() << " documents, " << result.skipped.size()
                  << " parts skipped, " << result.failures.size() << " files failed";
        if (result.hidden_skipped > 0) {
          std::cerr << ", " << result.hidden_skipped
                    << " hidden files or folders passed over (--include-hidden reads them)";
        }
        std::cerr << "\n";
      }
      return result.failures.empty() ? kExitOk : kExitPartial;
    };
  });
}

}  // namespace fgraph::cli

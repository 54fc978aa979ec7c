// Entry points of the ingest stage. Placeholder that reads plain text only; the real
// format detection and parsers land with the ingest issue.
#include "ingest/ingest.h"

#include <algorithm>
#include <filesystem>

namespace fgraph::ingest {

std::string_view to_string(Format f) {
  switch (f) {
    case Format::kSecSubmission: return "sec-submission";
    case Format::kHtml: return "html";
    case Format::kIxbrl: return "ixbrl";
    case Format::kXml: return "xml";
    case Format::kXbrl: return "xbrl";
    case Format::kText: return "text";
  }
  return "text";
}

std::string make_doc_id(std::string_view text) { return "sha256:" + sha256_hex(text); }

ParseResult parse_bytes(std::string_view bytes, const std::string& name, const Options&) {
  ParseResult r;
  Document d;
  d.source = name;
  d.text = std::string(bytes);
  d.doc_id = make_doc_id(d.text);
  r.documents.push_back(std::move(d));
  return r;
}

ParseResult parse_file(const std::string& path, const Options& options) {
  auto bytes = read_file(path, options.max_file_bytes);
  if (!bytes) {
    ParseResult r;
    r.failures.push_back({path, bytes.error(), "unreadable"});
    return r;
  }
  return parse_bytes(*bytes, path, options);
}

ParseResult parse_paths(const std::vector<std::string>& paths, const Options& options) {
  ParseResult all;
  for (const auto& p : paths) {
    std::vector<std::string> files;
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path().string());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const auto& f : files) {
      ParseResult r = parse_file(f, options);
      for (auto& d : r.documents) all.documents.push_back(std::move(d));
      for (auto& s : r.skipped) all.skipped.push_back(std::move(s));
      for (auto& e : r.failures) all.failures.push_back(std::move(e));
    }
  }
  return all;
}

}  // namespace fgraph::ingest

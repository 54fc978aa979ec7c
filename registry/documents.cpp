#include "registry/registry.h"

namespace fgraph::registry {

Result<bool> put_document(Store& store, const DocumentRecord& d) {
  auto st = store.cached(
      "INSERT INTO documents(doc_id, source, part, format, form_type, cik, company, accession,"
      " filed_at, chars, metadata_json, warnings_json, text, first_seen_at)"
      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?, strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
      " ON CONFLICT(doc_id) DO NOTHING");
  if (!st) return st.error();
  Statement& s = **st;
  s.bind(1, d.doc_id).bind(2, d.source).bind(3, std::int64_t{d.part}).bind(4, d.format);
  s.bind_optional(5, d.form_type).bind_optional(6, d.cik).bind_optional(7, d.company);
  s.bind_optional(8, d.accession).bind_optional(9, d.filed_at);
  s.bind(10, static_cast<std::int64_t>(d.text.size()));
  s.bind(11, d.metadata_json).bind(12, d.warnings_json).bind(13, d.text);
  if (auto r = s.run(); !r) return r.error();
  return store.changes() > 0;
}

Result<DocumentRecord> get_document(Store& store, std::string_view doc_id) {
  auto st = store.cached(
      "SELECT doc_id, source, part, format, form_type, cik, company, accession, filed_at,"
      " metadata_json, warnings_json, text FROM documents WHERE doc_id = ?");
  if (!st) return st.error();
  Statement& s = **st;
  s.bind(1, doc_id);
  auto row = s.step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorCode::kNotFound, "no document " + std::string(doc_id));
  DocumentRecord d;
  d.doc_id = s.column_text(0);
  d.source = s.column_text(1);
  d.part = static_cast<int>(s.column_int(2));
  d.format = s.column_text(3);
  d.form_type = s.column_optional(4);
  d.cik = s.column_optional(5);
  d.company = s.column_optional(6);
  d.accession = s.column_optional(7);
  d.filed_at = s.column_optional(8);
  d.metadata_json = s.column_text(9);
  d.warnings_json = s.column_text(10);
  d.text = s.column_text(11);
  return d;
}

namespace {
constexpr std::string_view kMetaColumns =
    "doc_id, source, part, format, form_type, cik, company, accession, filed_at,"
    " metadata_json, warnings_json";

DocumentRecord meta_of(const std::vector<SqlValue>& r) {
  auto opt = [](const SqlValue& v) -> std::optional<std::string> {
    if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
    return text_of(v);
  };
  DocumentRecord d;
  d.doc_id = text_of(r[0]);
  d.source = text_of(r[1]);
  d.part = static_cast<int>(int_of(r[2]));
  d.format = text_of(r[3]);
  d.form_type = opt(r[4]);
  d.cik = opt(r[5]);
  d.company = opt(r[6]);
  d.accession = opt(r[7]);
  d.filed_at = opt(r[8]);
  d.metadata_json = text_of(r[9]);
  d.warnings_json = text_of(r[10]);
  return d;
}
}  // namespace

Result<DocumentRecord> get_document_meta(Store& store, std::string_view doc_id) {
  auto rows = store.query("SELECT " + std::string(kMetaColumns) + " FROM documents WHERE doc_id = ?",
                          {std::string(doc_id)});
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorCode::kNotFound, "no document " + std::string(doc_id));
  return meta_of(rows->front());
}

Result<std::vector<DocumentRecord>> find_documents(Store& store, std::string_view text,
                                                   std::size_t limit) {
  if (text.empty()) return make_error(ErrorCode::kInvalidInput, "the search text is empty");
  std::string like = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') like += '\\';
    like += c;
  }
  like += '%';
  const std::string t(text);
  // A CIK is matched with or without its leading zeros.
  std::string cik = t.find_first_not_of("0123456789") == std::string::npos && t.size() <= 10
                        ? std::string(10 - t.size(), '0') + t
                        : t;
  auto rows = store.query(
      "SELECT " + std::string(kMetaColumns) + " FROM documents"
      " WHERE accession = ?1 OR cik = ?2 OR cik = ?1 OR upper(form_type) = upper(?1)"
      " OR company LIKE ?3 ESCAPE '\\'"
      " ORDER BY company, accession, doc_id LIMIT ?4",
      {t, cik, like, static_cast<std::int64_t>(limit)});
  if (!rows) return rows.error();
  std::vector<DocumentRecord> out;
  for (const auto& r : *rows) out.push_back(meta_of(r));
  return out;
}

}  // namespace fgraph::registry

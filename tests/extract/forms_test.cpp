// The form extractor on real filings of the corpus: specific facts, and every fact it
// proposes passes the verify stage unchanged (schema, references, substring-or-drop).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "extract/extract.h"
#include "ingest/ingest.h"
#include "registry/registry.h"
#include "verify/verify.h"

namespace fgraph::extract {
namespace {

using nlohmann::json;

std::string corpus(const std::string& rel) { return std::string(FGRAPH_CORPUS_DIR) + "/" + rel; }

ingest::Document document(const std::string& rel, int part = 1) {
  auto r = ingest::parse_file(corpus(rel));
  for (auto& d : r.documents) {
    if (d.part == part) return d;
  }
  ADD_FAILURE() << rel << " has no part " << part;
  return {};
}

struct Checked {
  FormExtraction form;
  verify::RowVerdict verdict;
  json out;
  // "TYPE source -> target" of every accepted relation.
  std::set<std::string> relations;
  std::map<std::string, json> entities;  // by name

  bool has(const std::string& type, const std::string& source, const std::string& target) const {
    return relations.count(type + " " + source + " -> " + target) > 0;
  }
  const json* relation(const std::string& type, const std::string& source) const {
    for (const auto& r : out["relations"]) {
      if (r["type"] == type && name_of(r["source"]) == source) return &r;
    }
    return nullptr;
  }
  std::string name_of(const json& id) const {
    if (id == std::string(verify::kFilerRef)) return id;  // the document's filer
    for (const auto& e : out["entities"]) {
      if (e["id"] == id) return e["name"];
    }
    return "";
  }
};

Checked check(const ingest::Document& doc) {
  Checked c;
  auto form = extract_form(doc);
  EXPECT_TRUE(form.has_value()) << (form ? "" : form.error().message);
  if (!form) return c;
  c.form = *form;
  if (form->kind == FormKind::kNone) return c;
  static const auto verifier = verify::Verifier::create(verify::extraction_schema_v1());
  c.verdict = verifier->verify(verify::prepare_document(doc), form->output_json);
  c.out = json::parse(form->output_json);
  EXPECT_TRUE(c.verdict.schema_ok) << c.verdict.schema_error;
  for (const auto& d : c.verdict.dropped) ADD_FAILURE() << "dropped: " << d.detail << " " << d.raw_json;
  for (const auto& e : c.out["entities"]) c.entities[e["name"]] = e;
  for (const auto& r : c.out["relations"]) {
    c.relations.insert(r["type"].get<std::string>() + " " + c.name_of(r["source"]) + " -> " +
                       c.name_of(r["target"]));
  }
  EXPECT_EQ(c.verdict.entities.size(), c.out["entities"].size());
  EXPECT_EQ(c.verdict.relations.size(), c.out["relations"].size());
  return c;
}

TEST(FormExtractorTest, Form4InASubmissionGivesOfficerAndHoldingsWithCiks) {
  ingest::Document doc = document("sec/0001127602-25-001055.txt", 1);
  Checked c = check(doc);
  EXPECT_EQ(c.form.kind, FormKind::kOwnership);
  EXPECT_EQ(c.form.coverage, Coverage::kComplete);
  ASSERT_TRUE(c.entities.count("AAR CORP"));
  EXPECT_EQ(c.entities["AAR CORP"]["cik"], "0000001750");
  EXPECT_EQ(c.entities["AAR CORP"]["ticker"], "AIR");
  ASSERT_TRUE(c.entities.count("Garascia Jessica A."));
  EXPECT_EQ(c.entities["Garascia Jessica A."]["cik"], "0001806647");
  EXPECT_EQ(c.entities["Garascia Jessica A."]["type"], "PERSON");
  EXPECT_TRUE(c.has("OFFICER_OF", "Garascia Jessica A.", "AAR CORP"));
  const json* officer = c.relation("OFFICER_OF", "Garascia Jessica A.");
  ASSERT_NE(officer, nullptr);
  EXPECT_EQ((*officer)["role"], "Senior VP, GC, CAO & Secretary");
  EXPECT_EQ((*officer)["effective_date"], "2025-01-10");
  EXPECT_TRUE(c.has("HOLDS", "Garascia Jessica A.", "AAR CORP"));
  EXPECT_FALSE(c.has("DIRECTOR_OF", "Garascia Jessica A.", "AAR CORP"));
  // The accepted offsets point at the quote in the document's own text.
  for (const auto& r : c.verdict.relations) {
    EXPECT_LT(r.char_start, r.char_end);
    EXPECT_NE(r.evidence.find("rptOwnerName: Garascia Jessica A."), std::string::npos);
  }
  // The power of attorney beside it is prose: not a form.
  EXPECT_EQ(check(document("sec/0001127602-25-001055.txt", 2)).form.kind, FormKind::kNone);
}

TEST(FormExtractorTest, Form3WithTwoReportingOwnersGivesBothTenPercentOwners) {
  Checked c = check(document("sec/form3.snow.nonderiv.xml"));
  EXPECT_EQ(c.entities["BERKSHIRE HATHAWAY INC"]["type"], "COMPANY");
  EXPECT_EQ(c.entities["BERKSHIRE HATHAWAY INC"]["cik"], "0001067983");
  EXPECT_EQ(c.entities["BUFFETT WARREN E"]["type"], "PERSON");
  EXPECT_EQ(c.entities["BUFFETT WARREN E"]["cik"], "0000315090");
  EXPECT_TRUE(c.has("BENEFICIAL_OWNER_OF", "BERKSHIRE HATHAWAY INC", "Snowflake Inc."));
  EXPECT_TRUE(c.has("BENEFICIAL_OWNER_OF", "BUFFETT WARREN E", "Snowflake Inc."));
  EXPECT_TRUE(c.has("HOLDS", "BUFFETT WARREN E", "Snowflake Inc."));
  EXPECT_FALSE(c.has("OFFICER_OF", "BUFFETT WARREN E", "Snowflake Inc."));
  EXPECT_EQ(c.relations.size(), 4u);
}

TEST(FormExtractorTest, Form4XmlFilesGiveTheirOwners) {
  Checked snow = check(document("sec/form4.snow.xml"));
  EXPECT_EQ(snow.form.kind, FormKind::kOwnership);
  EXPECT_GE(snow.relations.size(), 2u);
  Checked water = check(document("sec/374WaterForm4.xml"));
  EXPECT_GE(water.relations.size(), 2u);
  Checked arrow = check(document("sec/0001127602-25-004598.nc", 1));
  EXPECT_EQ(arrow.form.kind, FormKind::kOwnership);
  EXPECT_GE(arrow.relations.size(), 1u);
}

TEST(FormExtractorTest, AmendmentIsReadLikeTheOriginal) {
  auto r = ingest::parse_file(corpus("sec/374WaterForm4.xml"));
  ASSERT_EQ(r.documents.size(), 1u);
  std::string original = check(r.documents[0]).form.output_json;
  // The same form filed as 4/A.
  std::string bytes;
  {
    std::ifstream in(corpus("sec/374WaterForm4.xml"));
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = bytes.find("<documentType>4</documentType>");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 30, "<documentType>4/A</documentType>");
  auto amended = ingest::parse_bytes(bytes, "4A.xml");
  ASSERT_EQ(amended.documents.size(), 1u);
  EXPECT_EQ(amended.documents[0].form_type.value_or(""), "4/A");
  Checked c = check(amended.documents[0]);
  EXPECT_EQ(c.form.output_json, original);
}

TEST(FormExtractorTest, MalformedOwnershipFormIsAPerDocumentError) {
  auto r = ingest::parse_bytes(
      "<ownershipDocument><documentType>4</documentType><reportingOwner><reportingOwnerId>"
      "<rptOwnerCik>0000000001</rptOwnerCik><rptOwnerName>Jane Doe</rptOwnerName>"
      "</reportingOwnerId></reportingOwner></ownershipDocument>",
      "bad4.xml");
  ASSERT_EQ(r.documents.size(), 1u);
  auto f = extract_form(r.documents[0]);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(f.error().detail, "malformed_form");
}

TEST(FormExtractorTest, ThirteenFCoverAndTableGiveManagerAndIssuers) {
  Checked cover = check(document("sec/13F.0001894188-23-000007.txt", 1));
  EXPECT_EQ(cover.form.kind, FormKind::kThirteenFCover);
  EXPECT_EQ(cover.entities["LTS One Management LP"]["cik"], "0001894188");
  EXPECT_TRUE(cover.has("HEADQUARTERED_IN", "LTS One Management LP", "NEW YORK"));
  Checked table = check(document("sec/13F.0001894188-23-000007.txt", 2));
  EXPECT_EQ(table.form.kind, FormKind::kThirteenFTable);
  EXPECT_EQ(table.form.coverage, Coverage::kComplete);
  EXPECT_EQ(table.entities.size(), 14u);  // tableEntryTotal: 14
  ASSERT_TRUE(table.entities.count("AMAZON COM INC"));
  EXPECT_NE(table.entities["AMAZON COM INC"]["evidence"].get<std::string>().find("cusip: 023135106"),
            std::string::npos);
  // The table never names its manager: each holding is the filer's (its metadata, from
  // the submission's header), quoted by the issuer's own lines.
  int holds = 0;
  for (const auto& r : table.relations) holds += r.starts_with("HOLDS @filer -> ");
  EXPECT_EQ(holds, 14);
  EXPECT_TRUE(table.has("HOLDS", "@filer", "AMAZON COM INC"));
  EXPECT_EQ(table.verdict.relations.size(), 14u);  // verify accepts every one
  // A table cut from its submission has no filer: issuers only.
  Checked big = check(document("sec/13F-HR.infotable.xml"));
  EXPECT_GT(big.entities.size(), 100u);
  EXPECT_TRUE(big.relations.empty());
}

TEST(FormExtractorTest, SubmissionHeaderGivesEachCompanysCikIncorporationAndAddress) {
  // Part 0 of a full submission is its header; what only the header states is quoted from it.
  ingest::Document header = document("sec/0001127602-25-001055.txt", 0);
  EXPECT_EQ(header.doc_type, std::string(ingest::kSubmissionHeader));
  EXPECT_NE(header.text.find("STATE OF INCORPORATION: DE"), std::string::npos) << header.text;
  Checked c = check(header);
  EXPECT_EQ(c.form.kind, FormKind::kSubmissionHeader);
  EXPECT_EQ(c.form.coverage, Coverage::kComplete);
  ASSERT_TRUE(c.entities.count("AAR CORP"));
  EXPECT_EQ(c.entities["AAR CORP"]["cik"], "0000001750");
  EXPECT_TRUE(c.has("INCORPORATED_IN", "AAR CORP", "DE"));
  EXPECT_TRUE(c.has("HEADQUARTERED_IN", "AAR CORP", "WOOD DALE"));
  // The reporting owner is a person: the Form 4 itself says what she is, not the header.
  EXPECT_FALSE(c.entities.count("Garascia Jessica A."));
  EXPECT_EQ(c.relations.size(), 2u);
  // The .nc dialect (tags, bare CR): the issuer's state of incorporation is NY.
  Checked nc = check(document("sec/0001127602-25-004598.nc", 0));
  EXPECT_EQ(nc.entities["ARROW ELECTRONICS, INC."]["cik"], "0000007536");
  EXPECT_TRUE(nc.has("INCORPORATED_IN", "ARROW ELECTRONICS, INC.", "NY"));
  EXPECT_TRUE(nc.has("HEADQUARTERED_IN", "ARROW ELECTRONICS, INC.", "CENTENNIAL"));
  // The 13F manager's header: incorporated in Delaware, business address in New York.
  Checked f = check(document("sec/13F.0001894188-23-000007.txt", 0));
  EXPECT_TRUE(f.has("INCORPORATED_IN", "LTS One Management LP", "DE"));
  EXPECT_TRUE(f.has("HEADQUARTERED_IN", "LTS One Management LP", "NEW YORK"));
}

TEST(FormExtractorTest, Ex21TableGivesEverySubsidiaryAndItsJurisdiction) {
  Checked c = check(document("sec/ex21_aapl.html"));
  EXPECT_EQ(c.form.kind, FormKind::kEx21);
  EXPECT_EQ(c.form.coverage, Coverage::kComplete);
  ASSERT_TRUE(c.entities.count("Apple Inc."));  // the footnote mark "*" is not the name's
  EXPECT_TRUE(c.has("SUBSIDIARY_OF", "Braeburn Capital, Inc.", "Apple Inc."));
  EXPECT_TRUE(c.has("INCORPORATED_IN", "Braeburn Capital, Inc.", "Nevada, U.S."));
  EXPECT_TRUE(c.has("SUBSIDIARY_OF", "iTunes K.K.", "Apple Inc."));
  int subsidiaries = 0;
  for (const auto& r : c.relations) subsidiaries += r.starts_with("SUBSIDIARY_OF ");
  EXPECT_EQ(subsidiaries, 19);
}

TEST(FormExtractorTest, Ex21WithFootnotesAndPercentColumn) {
  Checked c = check(document("sec/ex21_xom.html"));
  EXPECT_TRUE(c.has("INCORPORATED_IN", "Al-Jubail Petrochemical Company", "Saudi Arabia"));
  EXPECT_TRUE(c.has("INCORPORATED_IN", "Esso Exploration Angola (Block 15) Limited", "Bahamas"));
  EXPECT_EQ(c.entities["AKG Marketing Company Limited"]["jurisdiction"], "Bahamas");
  // "Subsidiaries of the Registrant": the parent is not named, so no SUBSIDIARY_OF can be
  // grounded in this document alone.
  for (const auto& r : c.relations) EXPECT_FALSE(r.starts_with("SUBSIDIARY_OF ")) << r;
  int rows = 0;
  for (const auto& r : c.relations) rows += r.starts_with("INCORPORATED_IN ");
  EXPECT_GT(rows, 100);

  // The same exhibit in its 10-K submission: the header names the registrant, so every
  // row is SUBSIDIARY_OF the document's filer, with the percent owned.
  std::ifstream in(corpus("sec/ex21_xom.html"), std::ios::binary);
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = ingest::parse_bytes(
      "<SEC-DOCUMENT>0000034088-26-000001.txt : 20260225\n<SEC-HEADER>\n"
      "ACCESSION NUMBER:\t\t0000034088-26-000001\nCONFORMED SUBMISSION TYPE:\t10-K\n"
      "PUBLIC DOCUMENT COUNT:\t\t1\nFILED AS OF DATE:\t\t20260225\n\nFILER:\n\n\tCOMPANY DATA:\t\n"
      "\t\tCOMPANY CONFORMED NAME:\t\t\tEXXON MOBIL CORP\n\t\tCENTRAL INDEX KEY:\t\t\t0000034088\n"
      "</SEC-HEADER>\n<DOCUMENT>\n<TYPE>EX-21\n<SEQUENCE>2\n<TEXT>\n" + html +
          "\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n",
      "xom-10k.txt");
  ASSERT_EQ(r.documents.size(), 2u);
  Checked sub = check(r.documents[1]);
  int subsidiaries = 0;
  for (const auto& x : sub.relations) subsidiaries += x.starts_with("SUBSIDIARY_OF ");
  EXPECT_EQ(subsidiaries, rows);
  EXPECT_TRUE(sub.has("SUBSIDIARY_OF", "Imperial Oil Limited", "@filer"));
  const json* akg = sub.relation("SUBSIDIARY_OF", "AKG Marketing Company Limited");
  ASSERT_NE(akg, nullptr);
  EXPECT_EQ((*akg)["ownership_percent"], 87.5);
  EXPECT_EQ((*akg)["evidence"], "AKG Marketing Company Limited | 87.5 | Bahamas");
}

TEST(FormExtractorTest, Ex21InASubmissionUsesTheFilerAndThePercentOwned) {
  std::string sub =
      "<SEC-DOCUMENT>0000000000-25-000001.txt : 20250101\n<SEC-HEADER>\n"
      "ACCESSION NUMBER:\t\t0000000000-25-000001\nCONFORMED SUBMISSION TYPE:\t10-K\n"
      "PUBLIC DOCUMENT COUNT:\t\t1\nFILED AS OF DATE:\t\t20250101\n\nFILER:\n\n\tCOMPANY DATA:\t\n"
      "\t\tCOMPANY CONFORMED NAME:\t\t\tPARENT HOLDINGS INC\n\t\tCENTRAL INDEX KEY:\t\t\t0000123456\n"
      "</SEC-HEADER>\n<DOCUMENT>\n<TYPE>EX-21\n<SEQUENCE>2\n<TEXT>\n<html><body>"
      "<p>Subsidiaries of Parent Holdings Inc.</p><table>"
      "<tr><td>Name</td><td>Percent</td><td>Jurisdiction of Incorporation</td></tr>"
      "<tr><td>Child One LLC (1)</td><td>100</td><td>Delaware</td></tr>"
      "<tr><td>Grandchild GmbH</td><td>60</td><td>Germany</td></tr>"
      "</table><p>(1) Held through Parent Sub LLC.</p></body></html>\n</TEXT>\n</DOCUMENT>\n"
      "</SEC-DOCUMENT>\n";
  auto r = ingest::parse_bytes(sub, "sub.txt");
  ASSERT_EQ(r.documents.size(), 2u);  // the header (part 0) and the exhibit
  EXPECT_EQ(r.documents[0].doc_type, ingest::kSubmissionHeader);
  Checked c = check(r.documents[1]);
  EXPECT_EQ(c.entities["Parent Holdings Inc."]["cik"], "0000123456");
  EXPECT_TRUE(c.has("SUBSIDIARY_OF", "Child One LLC", "Parent Holdings Inc."));
  const json* g = c.relation("SUBSIDIARY_OF", "Grandchild GmbH");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ((*g)["ownership_percent"], 60.0);
  // The parent is the filing's subject: each row alone is the quote.
  EXPECT_EQ((*g)["evidence"], "Grandchild GmbH | 60 | Germany");
}

TEST(FormExtractorTest, Schedule13CoverPages) {
  Checked livent = check(document("sec/SC-13G-DOCUMENT.html"));
  EXPECT_EQ(livent.form.kind, FormKind::kSchedule13);
  EXPECT_EQ(livent.form.coverage, Coverage::kPartial);
  EXPECT_TRUE(livent.entities.count("LIVENT CORPORATION"));
  EXPECT_TRUE(livent.entities.count("Israel A. Englander"));
  EXPECT_TRUE(livent.relations.empty());  // every reporting person reports 0.0%
  auto r = ingest::parse_bytes(
      "SCHEDULE 13D\n\nACME WIDGETS INC\n(Name of Issuer)\n\n"
      "1 | NAMES OF REPORTING PERSONS Jane Q. Holder\n"
      "11 | PERCENT OF CLASS REPRESENTED BY AMOUNT IN ROW (11) 12.5%\n",
      "13d.txt");
  ASSERT_EQ(r.documents.size(), 1u);
  Checked c = check(r.documents[0]);
  const json* b = c.relation("BENEFICIAL_OWNER_OF", "Jane Q. Holder");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ((*b)["ownership_percent"], 12.5);
  EXPECT_TRUE(c.has("BENEFICIAL_OWNER_OF", "Jane Q. Holder", "ACME WIDGETS INC"));
}

TEST(FormExtractorTest, ProseIsNotAForm) {
  Checked c = check(document("sec/BeyondAir.html"));
  EXPECT_EQ(c.form.kind, FormKind::kNone);
  EXPECT_EQ(c.form.coverage, Coverage::kNone);
}

TEST(FormExtractorTest, SameDocumentSameBytes) {
  ingest::Document doc = document("sec/ex21_xom.html");
  auto a = extract_form(doc);
  auto b = extract_form(doc);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->output_json, b->output_json);
}

// A local model server that answers every chat completion with an empty extraction and
// keeps the bodies it was sent.
class RecordingModel final : public HttpTransport {
 public:
  Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    bodies.push_back(request.body);
    HttpResponse r;
    r.status = 200;
    r.body = R"({"choices":[{"message":{"content":"{\"entities\":[],\"relations\":[]}"},)"
             R"("finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":10}})";
    return r;
  }
  std::vector<std::string> bodies;

 private:
  std::mutex mu_;
};

class CascadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = registry::Store::open({":memory:"});
    ASSERT_TRUE(s.has_value());
    store_ = std::move(*s);
    docs_ = {document("sec/0001127602-25-001055.txt", 1), document("sec/BeyondAir.html"),
             document("sec/ex21_aapl.html"), document("sec/SC-13G-DOCUMENT.html")};
  }
  ExtractorOptions options(ExtractMode mode, LaneKind lane = LaneKind::kLocal) {
    ExtractorOptions o;
    o.lane = lane;
    o.mode = mode;
    o.plan.model = lane == LaneKind::kLocal ? "smollm2" : "gpt-4.1-mini";
    return o;
  }
  // Which documents' texts reached the model.
  std::set<std::string> sent(const RecordingModel& model) {
    std::set<std::string> out;
    for (const auto& b : model.bodies) {
      for (const auto& d : docs_) {
        if (b.find(json(d.text.substr(0, 60)).dump().substr(1, 40)) != std::string::npos) out.insert(d.source);
      }
    }
    return out;
  }
  ManualClock clock_;
  std::unique_ptr<registry::Store> store_;
  std::vector<ingest::Document> docs_;
};

TEST_F(CascadeTest, RulesAndModelSendsOnlyDocumentsTheFormsDoNotCover) {
  RecordingModel model;
  Extractor ex(*store_, model, clock_, options(ExtractMode::kRulesAndModel));
  auto rec = ex.run("run-1", docs_);
  ASSERT_TRUE(rec.has_value()) << rec.error().message;
  // The Form 4 and the EX-21 are read completely: no model request; the press release and
  // the 13G (whose items are prose) go to the model.
  EXPECT_EQ(model.bodies.size(), 2u);
  std::set<std::string> expected = {docs_[1].source, docs_[3].source};
  EXPECT_EQ(sent(model), expected);
  EXPECT_EQ(rec->documents_by_extractor["rules"], 3);
  EXPECT_EQ(rec->documents_by_extractor["model"], 2);
  EXPECT_EQ(rec->documents_model_skipped, 2);
  EXPECT_EQ(rec->requests, 2);
  EXPECT_TRUE(rec->balanced());
  auto reqs = run_requests(*store_, "run-1");
  ASSERT_TRUE(reqs.has_value());
  int rules = 0;
  for (const auto& r : *reqs) {
    if (r.extractor != "rules") continue;
    ++rules;
    EXPECT_EQ(r.chunk_index, -1);
    EXPECT_EQ(r.state, "completed");
    auto out = stored_result(*store_, r.custom_id);
    ASSERT_TRUE(out.has_value());
    for (const auto& d : docs_) {
      if (d.doc_id == r.doc_id) {
        EXPECT_EQ(*out, extract_form(d)->output_json);
      }
    }
  }
  EXPECT_EQ(rules, 3);
  // A second run of the same drop reuses everything: nothing is sent again.
  Extractor again(*store_, model, clock_, options(ExtractMode::kRulesAndModel));
  ASSERT_TRUE(again.run("run-2", docs_).has_value());
  EXPECT_EQ(model.bodies.size(), 2u);
  auto reqs2 = run_requests(*store_, "run-2");
  ASSERT_TRUE(reqs2.has_value());
  EXPECT_EQ(reqs2->size(), reqs->size());
}

TEST_F(CascadeTest, RulesModeSendsNothingAndModelModeSendsEverything) {
  RecordingModel model;
  Extractor rules(*store_, model, clock_, options(ExtractMode::kRules));
  auto rec = rules.run("run-r", docs_);
  ASSERT_TRUE(rec.has_value());
  EXPECT_TRUE(model.bodies.empty());
  EXPECT_EQ(rec->documents_by_extractor["rules"], 3);
  EXPECT_EQ(rec->documents_by_extractor.count("model"), 0u);
  Extractor everything(*store_, model, clock_, options(ExtractMode::kModel));
  auto all = everything.run("run-m", docs_);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(model.bodies.size(), docs_.size());
  EXPECT_EQ(all->documents_by_extractor.count("rules"), 0u);
}

TEST_F(CascadeTest, PlanCountsTheDollarsTheCascadeSaves) {
  RecordingModel model;
  Extractor cascade(*store_, model, clock_, options(ExtractMode::kRulesAndModel, LaneKind::kOpenAiBatch));
  Extractor alone(*store_, model, clock_, options(ExtractMode::kModel, LaneKind::kOpenAiBatch));
  auto with = cascade.plan(docs_);
  auto without = alone.plan(docs_);
  ASSERT_TRUE(with && without);
  EXPECT_EQ(with->documents_model_skipped, 2);
  EXPECT_GT(with->saved_usd, 0);
  EXPECT_NEAR(with->est_cost_usd + with->saved_usd, without->est_cost_usd, 1e-9);
  EXPECT_TRUE(model.bodies.empty());
}

}  // namespace
}  // namespace fgraph::extract

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "registry/registry.h"
#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = registry::Store::open({":memory:"});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    store_ = std::move(*s);
    for (const char* text : {kOwn, kSibling}) {
      registry::DocumentRecord d;
      d.text = text;
      d.doc_id = ingest::make_doc_id(d.text);
      d.source = "fixture.txt";
      d.format = "text";
      ASSERT_TRUE(registry::put_document(*store_, d).has_value());
    }
    ASSERT_TRUE(store_
                    ->execute("INSERT INTO runs (run_id, lane, model, prompt_version, "
                              "schema_version, started_at) VALUES ('run-1', 'local', 'm', 'p1', "
                              "'v1', '2026-01-01T00:00:00Z')")
                    .has_value());
  }

  RowVerdict verdict() {
    auto v = Verifier::create(extraction_schema_v1());
    EXPECT_TRUE(v.has_value());
    ingest::Document d;
    d.text = kOwn;
    d.doc_id = ingest::make_doc_id(d.text);
    PreparedDocument doc = prepare_document(d);
    LeakIndex index;
    index.add(doc);
    index.add(ingest::make_doc_id(kSibling), kSibling);
    json ent = {{"id", "e1"}, {"name", "Jane Roe"}, {"type", "PERSON"}, {"cik", nullptr},
                {"ticker", nullptr}, {"lei", nullptr}, {"jurisdiction", nullptr},
                {"evidence", "Jane Roe is the Treasurer of Delta Corp"}};
    json leak = ent;
    leak["id"] = "e2";
    leak["evidence"] = "Gamma Bank appointed Jane Roe as Chief Financial Officer";
    json out = {{"entities", {ent, leak}}, {"relations", json::array()}};
    return v->verify(doc, out.dump(), &index);
  }

  std::int64_t count(const std::string& sql) {
    auto rows = store_->query(sql);
    EXPECT_TRUE(rows.has_value());
    return std::get<std::int64_t>((*rows)[0][0]);
  }

  static constexpr const char* kOwn = "Minutes. Jane Roe is the Treasurer of Delta Corp since 2020.";
  static constexpr const char* kSibling =
      "Gamma Bank appointed Jane Roe as Chief Financial Officer in May.";
  std::unique_ptr<registry::Store> store_;
};

TEST_F(RecordTest, RecordsVerifiedDroppedAndLeakRows) {
  RowVerdict v = verdict();
  ASSERT_EQ(v.entities.size(), 1u);
  ASSERT_EQ(v.leaks.size(), 1u);
  RowKey key{"run-1", "req-1", "batch-7"};
  ASSERT_TRUE(record_verdict(*store_, key, v, "2026-01-01T00:00:01Z").has_value());
  EXPECT_EQ(count("SELECT count(*) FROM verified_facts WHERE char_start = 9"), 1);
  auto rows = store_->query("SELECT reason, raw_json FROM dropped_facts");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(std::get<std::string>((*rows)[0][0]), "cross_document_leak");
  EXPECT_EQ(json::parse(std::get<std::string>((*rows)[0][1]))["id"], "e2");
  EXPECT_EQ(count("SELECT count(*) FROM evidence_leaks WHERE batch_id = 'batch-7'"), 1);
}

TEST_F(RecordTest, RecordingTwiceReplacesTheRow) {
  RowVerdict v = verdict();
  RowKey key{"run-1", "req-1", ""};
  ASSERT_TRUE(record_verdict(*store_, key, v, "t1").has_value());
  ASSERT_TRUE(record_verdict(*store_, key, v, "t2").has_value());
  EXPECT_EQ(count("SELECT count(*) FROM verified_facts"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM dropped_facts"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM evidence_leaks"), 1);
}

TEST_F(RecordTest, UnknownRunIsInvalidInputAndLeavesNothing) {
  RowVerdict v = verdict();
  Status s = record_verdict(*store_, {"no-such-run", "req-1", ""}, v, "t1");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(count("SELECT count(*) FROM verified_facts"), 0);
}

TEST_F(RecordTest, LedgerRefusesReasonsOutsideTheClosedSet) {
  Status s = store_->execute(
      "INSERT INTO dropped_facts (run_id, request_id, doc_id, kind, fact_index, reason, "
      "raw_json, dropped_at) VALUES ('run-1', 'r', ?1, 'entity', 0, 'looked_wrong', '{}', 't')",
      {ingest::make_doc_id(kOwn)});
  EXPECT_FALSE(s.has_value());
}

}  // namespace
}  // namespace fgraph::verify

// EntityRegistry::rollback_document, the registry half of `fgraph rollback RUN --doc DOC`
// (tools/coordinator.cpp): a real SQLite ledger in memory.
#include <sstream>

#include <gtest/gtest.h>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

EntityInput company(std::string name, std::string doc, std::string run = "run1") {
  EntityInput in;
  in.type = "COMPANY";
  in.name = std::move(name);
  in.doc_id = std::move(doc);
  in.run_id = std::move(run);
  return in;
}

class RollbackDocumentTest : public ::testing::Test {
 protected:
  static std::unique_ptr<Store> open_ledger(const std::vector<std::pair<std::string, std::string>>& docs) {
    auto s = Store::open({":memory:"});
    EXPECT_TRUE(s.has_value()) << s.error().describe();
    for (const auto& [id, text] : docs) {
      DocumentRecord d;
      d.doc_id = id;
      d.source = id + ".txt";
      d.format = "text";
      d.text = text;
      auto put = put_document(**s, d);
      EXPECT_TRUE(put.has_value()) << put.error().describe();
    }
    return std::move(*s);
  }
  static void resolve_all(EntityRegistry& reg, const std::vector<EntityInput>& inputs) {
    auto r = reg.resolve_all(inputs);
    ASSERT_TRUE(r.has_value()) << r.error().describe();
  }
  static std::string dump(EntityRegistry& reg) {
    auto d = reg.dump();
    EXPECT_TRUE(d.has_value()) << d.error().describe();
    return d.value_or("");
  }

  const std::vector<std::pair<std::string, std::string>> docs_ = {
      {"doc1", "Beta Tools LLC and Gamma Inc. signed an agreement."},
      {"doc2", "Acme Widgets Corp. bought from Gamma Inc. and Beta Tool LLC."},
  };
  // doc1 first, then doc2: what doc2 alone taught comes last.
  const std::vector<EntityInput> doc1_ = {company("Beta Tools LLC", "doc1"), company("Gamma Inc.", "doc1")};
  const std::vector<EntityInput> doc2_ = {company("Acme Widgets Corp.", "doc2"),
                                          company("Gamma Inc.", "doc2"),
                                          company("Beta Tool LLC", "doc2")};
};

TEST_F(RollbackDocumentTest, EmptyIdsAreInvalidInput) {
  auto store = open_ledger(docs_);
  EntityRegistry reg(*store);
  EXPECT_EQ(reg.rollback_document("", "doc1").error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg.rollback_document("run1", "").error().code, ErrorCode::kInvalidInput);
}

TEST_F(RollbackDocumentTest, DocumentWithNothingInTheRunIsNotFound) {
  auto store = open_ledger(docs_);
  EntityRegistry reg(*store);
  resolve_all(reg, doc1_);
  EXPECT_EQ(reg.rollback_document("run1", "doc2").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reg.rollback_document("run2", "doc1").error().code, ErrorCode::kNotFound);
}

TEST_F(RollbackDocumentTest, LeavesWhatARunWithoutTheDocumentWouldHaveLeft) {
  auto without = open_ledger(docs_);
  EntityRegistry reference(*without);
  resolve_all(reference, doc1_);
  const std::string expected = dump(reference);

  auto store = open_ledger(docs_);
  EntityRegistry reg(*store);
  resolve_all(reg, doc1_);
  resolve_all(reg, doc2_);
  const std::string full = dump(reg);
  // doc2 created Acme, mentioned Gamma and taught Beta Tools LLC an alias (fuzzy).
  ASSERT_NE(full.find("Acme Widgets"), std::string::npos) << full;
  ASSERT_NE(full.find("\"Beta Tool LLC\""), std::string::npos) << full;

  ASSERT_TRUE(reg.rollback_document("run1", "doc2").has_value());
  EXPECT_EQ(dump(reg), expected);
  EXPECT_EQ(reg.rollback_document("run1", "doc2").error().code, ErrorCode::kNotFound);
  // The whole run still rolls back to nothing afterwards.
  ASSERT_TRUE(reg.rollback_run("run1").has_value());
  auto empty = open_ledger(docs_);
  EntityRegistry fresh(*empty);
  EXPECT_EQ(dump(reg), dump(fresh));
}

TEST_F(RollbackDocumentTest, KeepsWhatAnotherRunStillMentions) {
  auto store = open_ledger(docs_);
  EntityRegistry reg(*store);
  resolve_all(reg, doc1_);
  resolve_all(reg, doc2_);
  resolve_all(reg, {company("Acme Widgets Corp.", "doc2", "run2")});
  ASSERT_TRUE(reg.rollback_document("run1", "doc2").has_value());
  const std::string after = dump(reg);
  // Acme stays (run2 mentions it); of the mentions, only doc2's in run1 go.
  EXPECT_NE(after.find("\"Acme Widgets Corp.\",\"acme widgets corp\",\"acme widgets\""),
            std::string::npos)
      << after;
  std::vector<std::string> mentions;
  std::istringstream lines(after);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("mention ", 0) == 0) mentions.push_back(line);
  }
  EXPECT_EQ(mentions, (std::vector<std::string>{
                          "mention [\"ent_0cf3c123cce28bde\",\"doc1\",\"run1\"]",
                          "mention [\"ent_4bb1d300f33365e2\",\"doc1\",\"run1\"]",
                          "mention [\"ent_6eb26eebb59bcc49\",\"doc2\",\"run2\"]"}));
}

}  // namespace
}  // namespace fgraph::registry

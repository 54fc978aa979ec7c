#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "verify/verify.h"

namespace fgraph::verify {
namespace {

using nlohmann::json;

const char kText[] =
    "APPLE INC. ANNUAL REPORT\n"
    "Apple Inc. (\u201CApple\u201D) designs smartphones. Braeburn Capital, Inc. is a wholly\u00A0owned "
    "subsidiary of Apple Inc. incorporated in Nevada.\n"
    "Tim Cook serves as Chief Executive Officer of Apple Inc. since 2011.\n"
    "Subsidiaries: Apple Operations International Limited  Ireland\n";

ingest::Document make_doc(std::string text, std::optional<std::string> company = std::nullopt) {
  ingest::Document d;
  d.text = std::move(text);
  d.doc_id = ingest::make_doc_id(d.text);
  d.company = std::move(company);
  return d;
}

json entity(const std::string& id, const std::string& name, const std::string& type,
            const std::string& evidence) {
  return {{"id", id},     {"name", name}, {"type", type},         {"cik", nullptr},
          {"ticker", nullptr}, {"lei", nullptr}, {"jurisdiction", nullptr}, {"evidence", evidence}};
}

json relation(const std::string& source, const std::string& target, const std::string& type,
              const std::string& evidence) {
  return {{"source", source},          {"target", target},         {"type", type},
          {"evidence", evidence},      {"ownership_percent", nullptr},
          {"effective_date", nullptr}, {"role", nullptr}};
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = Verifier::create(extraction_schema_v1());
    ASSERT_TRUE(v.has_value()) << v.error().describe();
    verifier_ = std::make_unique<Verifier>(std::move(*v));
    doc_ = prepare_document(make_doc(kText, "APPLE INC"));
  }

  RowVerdict run(const json& entities, const json& relations, const LeakIndex* index = nullptr) {
    json out = {{"entities", entities}, {"relations", relations}};
    return verifier_->verify(doc_, out.dump(), index);
  }

  static const DroppedFact* dropped(const RowVerdict& v, FactKind kind, int index) {
    for (const auto& d : v.dropped) {
      if (d.kind == kind && d.index == index) return &d;
    }
    return nullptr;
  }

  std::unique_ptr<Verifier> verifier_;
  PreparedDocument doc_;
};

TEST_F(VerifierTest, ReadsTypeEnumerationsFromTheSchema) {
  EXPECT_EQ(verifier_->entity_types().size(), 8u);
  EXPECT_EQ(verifier_->entity_types().front(), "COMPANY");
  EXPECT_EQ(verifier_->relation_types().size(), 12u);
  EXPECT_EQ(verifier_->schema_sha256(), sha256_hex(extraction_schema_v1()));
}

TEST_F(VerifierTest, AcceptsTrueFactsWithOffsets) {
  json ents = json::array({entity("e1", "Braeburn Capital, Inc.", "COMPANY",
                                  "Braeburn Capital, Inc. is a wholly owned subsidiary of Apple Inc."),
                           entity("e2", "Apple Inc.", "COMPANY",
                                  "Apple Inc. (\"Apple\") designs smartphones")});
  json rels = json::array({relation("e1", "e2", "SUBSIDIARY_OF",
                                    "Braeburn Capital, Inc. is a wholly owned subsidiary of Apple Inc.")});
  RowVerdict v = run(ents, rels);
  ASSERT_TRUE(v.schema_ok);
  ASSERT_EQ(v.entities.size(), 2u);
  ASSERT_EQ(v.relations.size(), 1u);
  EXPECT_TRUE(v.dropped.empty());
  // "Braeburn" starts at code point 67 of kText (25 + 42); the quote has 65 code points.
  EXPECT_EQ(v.entities[0].char_start, 67u);
  EXPECT_EQ(v.entities[0].char_end, 67u + 65u);
  EXPECT_EQ(v.relations[0].char_start, 67u);
  EXPECT_TRUE(v.entities[1].is_subject);
  EXPECT_FALSE(v.entities[0].is_subject);
}

TEST_F(VerifierTest, SchemaInvalidOutputFailsTheWholeRowWithPointer) {
  json ents = json::array({entity("e1", "Apple Inc.", "COMPANY",
                                  "Apple Inc. (\"Apple\") designs smartphones"),
                           entity("e2", "Tim Cook", "PERSON", "Tim Cook serves as Chief")});
  ents[1].erase("lei");
  RowVerdict v = run(ents, json::array());
  EXPECT_FALSE(v.schema_ok);
  EXPECT_EQ(v.pointer, "/entities/1");
  EXPECT_TRUE(v.entities.empty());
  ASSERT_EQ(v.dropped.size(), 1u);
  EXPECT_EQ(v.dropped[0].kind, FactKind::kOutput);
  EXPECT_EQ(v.dropped[0].reason, DropReason::kSchemaInvalid);
}

TEST_F(VerifierTest, SchemaPointerNamesTheBadField) {
  json ents = json::array({entity("e1", "Apple Inc.", "CORPORATION",
                                  "Apple Inc. (\"Apple\") designs smartphones")});
  RowVerdict v = run(ents, json::array());
  EXPECT_FALSE(v.schema_ok);
  EXPECT_EQ(v.pointer, "/entities/0/type");
}

TEST_F(VerifierTest, NonJsonOutputIsSchemaInvalid) {
  RowVerdict v = verifier_->verify(doc_, "{\"entities\": [", nullptr);
  EXPECT_FALSE(v.schema_ok);
  EXPECT_EQ(v.pointer, "");
  ASSERT_EQ(v.dropped.size(), 1u);
  EXPECT_EQ(v.dropped[0].reason, DropReason::kSchemaInvalid);
  EXPECT_EQ(v.dropped[0].raw_json, "{\"entities\": [");
}

TEST_F(VerifierTest, RelationToUnknownOrDroppedEntityIsUnknownEntityRef) {
  json ents = json::array({entity("e1", "Apple Inc.", "COMPANY",
                                  "Apple Inc. (\"Apple\") designs smartphones"),
                           entity("e2", "Beats", "COMPANY", "Beats Electronics is owned by Apple")});
  std::string ev = "Braeburn Capital, Inc. is a wholly owned subsidiary of Apple Inc.";
  json rels = json::array({relation("e9", "e1", "SUBSIDIARY_OF", ev),
                           relation("e2", "e1", "SUBSIDIARY_OF", ev)});
  RowVerdict v = run(ents, rels);
  ASSERT_TRUE(v.schema_ok);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 1)->reason, DropReason::kEvidenceNotFound);
  EXPECT_EQ(dropped(v, FactKind::kRelation, 0)->reason, DropReason::kUnknownEntityRef);
  const DroppedFact* d = dropped(v, FactKind::kRelation, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, DropReason::kUnknownEntityRef);
  EXPECT_NE(d->detail.find("was dropped (evidence_not_found)"), std::string::npos);
  EXPECT_EQ(json::parse(d->raw_json), rels[1]);
}

TEST_F(VerifierTest, DuplicateEntityIdsAreDroppedAsUnknownEntityRef) {
  json ents = json::array({entity("e1", "Apple Inc.", "COMPANY",
                                  "Apple Inc. (\"Apple\") designs smartphones"),
                           entity("e1", "Tim Cook", "PERSON",
                                  "Tim Cook serves as Chief Executive Officer")});
  RowVerdict v = run(ents, json::array());
  EXPECT_TRUE(v.entities.empty());
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kUnknownEntityRef);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 1)->reason, DropReason::kUnknownEntityRef);
}

TEST_F(VerifierTest, RefusedTypeIsDisallowed) {
  Options o;
  o.refused_types = {"LOCATION", "INCORPORATED_IN"};
  auto v2 = Verifier::create(extraction_schema_v1(), o);
  ASSERT_TRUE(v2.has_value());
  json out = {{"entities", json::array({entity("e1", "Nevada", "LOCATION",
                                               "subsidiary of Apple Inc. incorporated in Nevada"),
                                        entity("e2", "Braeburn Capital, Inc.", "COMPANY",
                                               "Braeburn Capital, Inc. is a wholly owned")})},
              {"relations", json::array({relation("e2", "e2", "INCORPORATED_IN",
                                                  "Braeburn Capital, Inc. is a wholly owned")})}};
  RowVerdict v = v2->verify(doc_, out.dump());
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kDisallowedType);
  EXPECT_EQ(dropped(v, FactKind::kRelation, 0)->reason, DropReason::kDisallowedType);
}

TEST_F(VerifierTest, SelfRelationDroppedUnlessTypeAllowsIt) {
  json ents = json::array({entity("e1", "Apple Inc.", "COMPANY",
                                  "Apple Inc. (\"Apple\") designs smartphones")});
  json rels = json::array({relation("e1", "e1", "AGREEMENT_WITH",
                                    "Apple Inc. (\"Apple\") designs smartphones")});
  RowVerdict v = run(ents, rels);
  EXPECT_EQ(dropped(v, FactKind::kRelation, 0)->reason, DropReason::kSelfRelation);

  Options o;
  o.self_relation_types = {"AGREEMENT_WITH"};
  auto v2 = Verifier::create(extraction_schema_v1(), o);
  ASSERT_TRUE(v2.has_value());
  json out = {{"entities", ents}, {"relations", rels}};
  RowVerdict allowed = v2->verify(doc_, out.dump());
  EXPECT_EQ(allowed.relations.size(), 1u);
}

TEST_F(VerifierTest, EvidenceMissingTooShortAndNotFound) {
  json ents = json::array({entity("e1", "Apple Inc.", "COMPANY", " \n "),
                           entity("e2", "Apple Inc.", "COMPANY", "Apple Inc."),
                           entity("e3", "Apple Inc.", "COMPANY",
                                  "Apple Inc. designs electric cars in Nevada")});
  RowVerdict v = run(ents, json::array());
  ASSERT_EQ(v.dropped.size(), 3u);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kEvidenceMissing);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 1)->reason, DropReason::kEvidenceTooShort);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 2)->reason, DropReason::kEvidenceNotFound);
}

TEST_F(VerifierTest, StitchedQuoteIsNotFound) {
  json ents = json::array({entity("e1", "Tim Cook", "PERSON",
                                  "Tim Cook serves as Chief Executive Officer of Braeburn Capital")});
  RowVerdict v = run(ents, json::array());
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kEvidenceNotFound);
}

TEST_F(VerifierTest, NameMustBeInEvidence) {
  json ents = json::array(
      {entity("e1", "Tim Cook", "PERSON", "Apple Inc. (\"Apple\") designs smartphones"),
       entity("e2", "Tim Cook", "PERSON", "Tim Cook serves as Chief Executive Officer"),
       entity("e3", "Braeburn Capital, Inc.", "COMPANY",
              "Braeburn Capital, Inc. is a wholly owned subsidiary"),
       entity("e4", "Apple Operations International Limited", "COMPANY",
              "Apple Operations International Limited Ireland")});
  // True quote naming neither end; and a quote that names only one non-subject end.
  json rels = json::array(
      {relation("e2", "e3", "OFFICER_OF", "designs smartphones. Braeburn"),
       relation("e2", "e4", "DIRECTOR_OF", "Tim Cook serves as Chief Executive Officer"),
       // The subject (Apple Inc.) need not be named: EX-21 rows never repeat it.
       relation("e4", "e5", "SUBSIDIARY_OF", "Apple Operations International Limited Ireland")});
  ents.push_back(entity("e5", "Apple Inc.", "COMPANY", "Apple Inc. (\"Apple\") designs smartphones"));
  RowVerdict v = run(ents, rels);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kNameNotInEvidence);
  EXPECT_EQ(dropped(v, FactKind::kRelation, 0)->reason, DropReason::kNameNotInEvidence);
  const DroppedFact* d = dropped(v, FactKind::kRelation, 1);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, DropReason::kNameNotInEvidence);
  EXPECT_NE(d->detail.find("Apple Operations International Limited"), std::string::npos);
  EXPECT_EQ(d->detail.find("Tim Cook"), std::string::npos);
  ASSERT_EQ(v.relations.size(), 1u);
  EXPECT_EQ(v.relations[0].index, 2);
}

TEST_F(VerifierTest, FilerReferenceNeedsAFilerInTheMetadataAndAGroundedOtherEnd) {
  const json braeburn = entity("e1", "Braeburn Capital, Inc.", "COMPANY",
                               "Braeburn Capital, Inc. is a wholly owned subsidiary");
  // The document's metadata names its filer (APPLE INC): "@filer" is a relation end.
  RowVerdict v = run(json::array({braeburn}),
                     json::array({relation("e1", "@filer", "SUBSIDIARY_OF",
                                           "Braeburn Capital, Inc. is a wholly owned subsidiary"),
                                  // The quote must still name the other end...
                                  relation("e1", "@filer", "INCORPORATED_IN",
                                           "Tim Cook serves as Chief Executive Officer")}));
  ASSERT_EQ(v.relations.size(), 1u);
  EXPECT_EQ(v.relations[0].target_local_id, "@filer");
  const DroppedFact* unnamed = dropped(v, FactKind::kRelation, 1);
  ASSERT_NE(unnamed, nullptr);
  EXPECT_EQ(unnamed->reason, DropReason::kNameNotInEvidence);
  // ... and an output entity may not take the reserved id.
  RowVerdict reserved = run(json::array({entity("@filer", "Apple Inc.", "COMPANY", "Apple Inc. designs smartphones")}),
                            json::array());
  EXPECT_TRUE(reserved.entities.empty());
  ASSERT_FALSE(reserved.dropped.empty());
  EXPECT_EQ(reserved.dropped[0].reason, DropReason::kUnknownEntityRef);
  // Without a filer in the metadata, "@filer" is an unknown reference.
  doc_ = prepare_document(make_doc(kText));
  RowVerdict none = run(json::array({braeburn}),
                        json::array({relation("e1", "@filer", "SUBSIDIARY_OF",
                                              "Braeburn Capital, Inc. is a wholly owned subsidiary")}));
  EXPECT_TRUE(none.relations.empty());
  const DroppedFact* d = dropped(none, FactKind::kRelation, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, DropReason::kUnknownEntityRef);
  EXPECT_NE(d->detail.find("names no filer"), std::string::npos) << d->detail;
}

TEST_F(VerifierTest, QuoteFromSiblingDocumentIsALeak) {
  std::string sibling = "Gamma Bank appointed Jane Roe as Chief Financial Officer in May.";
  LeakIndex index;
  index.add(doc_);
  index.add(ingest::make_doc_id(sibling), sibling);
  json ents = json::array({entity("e1", "Jane Roe", "PERSON",
                                  "Gamma Bank appointed Jane Roe as Chief Financial Officer"),
                           entity("e2", "Apple Inc.", "COMPANY", "Apple Inc. builds rockets on Mars")});
  RowVerdict v = run(ents, json::array(), &index);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 0)->reason, DropReason::kCrossDocumentLeak);
  EXPECT_EQ(dropped(v, FactKind::kEntity, 1)->reason, DropReason::kEvidenceNotFound);
  ASSERT_EQ(v.leaks.size(), 1u);
  EXPECT_EQ(v.leaks[0].own_doc_id, doc_.doc_id);
  EXPECT_EQ(v.leaks[0].other_doc_id, ingest::make_doc_id(sibling));
  EXPECT_EQ(v.dropped_by_reason().at("cross_document_leak"), 1);
}

TEST(VerifierCreateTest, RejectsBadSchemas) {
  EXPECT_EQ(Verifier::create("not json").error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(Verifier::create(R"({"type": "object"})").error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(Verifier::create(R"({"type": 12})").error().code, ErrorCode::kInvalidInput);
}

TEST(DropReasonTest, NamesRoundTripAndFormAClosedSet) {
  EXPECT_EQ(all_drop_reasons().size(), 9u);
  for (DropReason r : all_drop_reasons()) EXPECT_EQ(parse_drop_reason(to_string(r)), r);
  EXPECT_EQ(parse_drop_reason("made_up"), std::nullopt);
  EXPECT_EQ(to_string(DropReason::kCrossDocumentLeak), "cross_document_leak");
}

}  // namespace
}  // namespace fgraph::verify

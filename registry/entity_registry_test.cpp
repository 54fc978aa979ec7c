#include <gtest/gtest.h>

#include <filesystem>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

std::unique_ptr<Store> open_memory() {
  auto s = Store::open({":memory:"});
  EXPECT_TRUE(s.has_value()) << s.error().describe();
  return std::move(*s);
}

EntityInput company(std::string name, std::string doc = "doc1", std::string run = "run1") {
  EntityInput in;
  in.type = "COMPANY";
  in.name = std::move(name);
  in.doc_id = std::move(doc);
  in.run_id = std::move(run);
  return in;
}

EntityInput with_cik(EntityInput in, std::string cik, bool authoritative = true) {
  in.cik = std::move(cik);
  in.authoritative = authoritative;
  return in;
}

class EntityRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = open_memory();
    reg_ = std::make_unique<EntityRegistry>(*store_);
  }
  Resolution resolve(const EntityInput& in) {
    auto r = reg_->resolve(in);
    EXPECT_TRUE(r.has_value()) << r.error().describe();
    return r.has_value() ? *r : Resolution{};
  }
  std::string dump() {
    auto d = reg_->dump();
    EXPECT_TRUE(d.has_value()) << d.error().describe();
    return d.value_or("");
  }
  std::unique_ptr<Store> store_;
  std::unique_ptr<EntityRegistry> reg_;
};

TEST_F(EntityRegistryTest, SameCompanyUnderThreeSpellingsIsOneEntity) {
  Resolution seed = resolve(with_cik(company("Apple Inc."), "320193"));
  EXPECT_TRUE(seed.created);
  EXPECT_EQ(seed.method, "new");
  Resolution upper = resolve(company("APPLE INC"));
  EXPECT_EQ(upper.entity_id, seed.entity_id);
  EXPECT_EQ(upper.method, "exact");
  Resolution by_cik = resolve(with_cik(company("Apple Inc"), "0000320193", false));
  EXPECT_EQ(by_cik.entity_id, seed.entity_id);
  EXPECT_EQ(by_cik.method, "cik");
  auto details = reg_->show(seed.entity_id);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->cik, "0000320193");
  EXPECT_TRUE(details->authoritative);
  // The three spellings normalise to one name, the entity's own: no alias is needed.
  EXPECT_TRUE(details->aliases.empty());
  // A name the entity is not yet known by, matched by CIK, is taught once.
  Resolution renamed = resolve(with_cik(company("Apple Computer, Inc."), "320193", false));
  EXPECT_EQ(renamed.method, "cik");
  EXPECT_EQ(resolve(with_cik(company("APPLE COMPUTER INC"), "320193", false)).method, "cik");
  EXPECT_EQ(resolve(company("Apple Computer Inc")).method, "alias");
  details = reg_->show(seed.entity_id);
  ASSERT_TRUE(details.has_value());
  ASSERT_EQ(details->aliases.size(), 1u);
  EXPECT_EQ(details->aliases[0].raw, "Apple Computer, Inc.");
  EXPECT_EQ(details->aliases[0].method, "cik");
}

TEST_F(EntityRegistryTest, IdentityIsShowWithoutHistory) {
  Resolution seed = resolve(with_cik(company("Apple Inc.", "doc1"), "320193"));
  resolve(company("APPLE INC", "doc2"));
  auto full = reg_->show(seed.entity_id);
  auto id = reg_->identity(seed.entity_id);
  ASSERT_TRUE(full.has_value());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->entity_id, full->entity_id);
  EXPECT_EQ(id->type, full->type);
  EXPECT_EQ(id->name, full->name);
  EXPECT_EQ(id->cik, "0000320193");
  EXPECT_TRUE(id->authoritative);
  EXPECT_EQ(full->mentions.size(), 2u);
  EXPECT_TRUE(id->mentions.empty());
  EXPECT_TRUE(id->aliases.empty());
  EXPECT_EQ(reg_->identity("ent_missing").error().code, ErrorCode::kNotFound);
}

struct CascadeCase {
  const char* label;
  std::vector<EntityInput> seed;
  EntityInput input;
  const char* method;
  bool same_as_first_seed;
};

TEST_F(EntityRegistryTest, CascadeStepsAreRecordedWithTheirMethod) {
  auto lei = [](EntityInput in, const char* l) {
    in.lei = l;
    return in;
  };
  const std::vector<CascadeCase> cases = {
      {"lei", {lei(company("Acme Widgets Inc"), "5493001KJTIIGC8Y1R12")},
       lei(company("ACME WIDGETS"), "5493001kjtiigc8y1r12"), "lei", true},
      {"exact", {company("Globex Corporation")}, company("GLOBEX CORP."), "exact", true},
      {"alias via merge", {company("Initech LLC"), company("Initrode Systems LLC")},
       company("Initrode Systems L.L.C."), "exact", true},
      {"fuzzy typo", {company("Consolidated Edison Company of New York, Inc.")},
       company("Consolidated Edisn Company of New York Inc"), "fuzzy", true},
      {"new", {company("Umbrella Corp")}, company("Wayne Enterprises"), "new", false},
      {"legal form differs", {company("Apple Asia Limited")}, company("Apple Asia LLC"),
       "new_possible_duplicate", false},
      {"numbers differ", {company("Esso Exploration Angola (Block 15) Limited")},
       company("Esso Exploration Angola (Block 17) Limited"), "new_possible_duplicate", false},
      {"other type", {company("Jordan")}, EntityInput{"PERSON", "Jordan", {}, {}, {}, {}, "d", "r", false},
       "new", false},
  };
  for (const auto& c : cases) {
    SetUp();
    std::vector<std::string> ids;
    for (const auto& s : c.seed) ids.push_back(resolve(s).entity_id);
    if (std::string(c.label) == "alias via merge") {
      auto m = reg_->merge(ids[0], ids[1]);
      ASSERT_TRUE(m.has_value()) << m.error().describe();
    }
    Resolution r = resolve(c.input);
    EXPECT_EQ(r.method, c.method) << c.label;
    EXPECT_EQ(r.entity_id == ids[0], c.same_as_first_seed) << c.label;
    if (std::string(c.method) == "new_possible_duplicate") {
      EXPECT_EQ(r.possible_duplicate_of, ids[0]) << c.label;
    }
  }
}

TEST_F(EntityRegistryTest, KnownAliasResolvesByAlias) {
  Resolution a = resolve(with_cik(company("Alphabet Inc."), "1652044"));
  // "Google Inc" with the same CIK teaches the alias; a later bare "Google Inc." finds it.
  EXPECT_EQ(resolve(with_cik(company("Google Inc"), "1652044", false)).entity_id, a.entity_id);
  Resolution g = resolve(company("GOOGLE, INC."));
  EXPECT_EQ(g.entity_id, a.entity_id);
  EXPECT_EQ(g.method, "alias");
}

TEST_F(EntityRegistryTest, LookAlikesStayApart) {
  Resolution bank = resolve(company("JPMorgan Chase Bank, N.A."));
  Resolution parent = resolve(company("JPMorgan Chase & Co."));
  EXPECT_NE(bank.entity_id, parent.entity_id);
  EXPECT_TRUE(parent.created);
  EXPECT_EQ(resolve(company("JPMORGAN CHASE BANK NA")).entity_id, bank.entity_id);
  EXPECT_EQ(resolve(company("JPMorgan Chase and Co")).entity_id == bank.entity_id, false);
}

TEST_F(EntityRegistryTest, DifferentCiksNeverMerge) {
  Resolution a = resolve(with_cik(company("First National Corp"), "1111"));
  Resolution b = resolve(with_cik(company("First National Corp"), "2222"));
  EXPECT_NE(a.entity_id, b.entity_id);
  EXPECT_EQ(b.method, "new");
  // A bare mention is ambiguous between the two: new entity, flagged, never a merge...
  Resolution c = resolve(company("First National Corporation"));
  EXPECT_EQ(c.method, "new_possible_duplicate");
  EXPECT_EQ(c.possible_duplicate_of, a.entity_id);
  // ...and the next bare mention finds that one rather than creating another.
  Resolution d = resolve(company("FIRST NATIONAL CORP"));
  EXPECT_EQ(d.entity_id, c.entity_id);
}

// Issue 18: reporting owners of ownership forms come with the CIK the form states.
TEST_F(EntityRegistryTest, PeopleAreKeptApartAndTogetherByTheirFormCik) {
  auto person = [](std::string name, std::string cik, std::string doc) {
    EntityInput in;
    in.type = "PERSON";
    in.name = std::move(name);
    in.doc_id = std::move(doc);
    in.run_id = "run1";
    return with_cik(in, std::move(cik));
  };
  // Two John Smiths reporting under different CIKs: two people.
  Resolution a = resolve(person("John Smith", "0001000001", "form4-issuer-a"));
  Resolution b = resolve(person("John Smith", "0001000002", "form4-issuer-b"));
  EXPECT_NE(a.entity_id, b.entity_id);
  EXPECT_EQ(b.method, "new");
  // One person, one CIK, reporting to two issuers under two spellings: one person.
  Resolution c = resolve(person("Garascia Jessica A.", "0001806647", "form4-aar"));
  Resolution d = resolve(person("Jessica A. Garascia", "1806647", "form4-other"));
  EXPECT_EQ(c.entity_id, d.entity_id);
  EXPECT_EQ(d.method, "cik");
  // A bare "John Smith" (a model's mention without CIK) is merged into neither silently.
  EntityInput bare;
  bare.type = "PERSON";
  bare.name = "John Smith";
  bare.doc_id = "press-release";
  Resolution e = resolve(bare);
  EXPECT_NE(e.entity_id, a.entity_id);
  EXPECT_NE(e.entity_id, b.entity_id);
  EXPECT_EQ(e.method, "new_possible_duplicate");
}

TEST_F(EntityRegistryTest, InvalidInputsAreRejected) {
  for (const auto& in : {with_cik(company("X"), "12a"), with_cik(company("X"), "12345678901"),
                         company("   "), EntityInput{"", "Name", {}, {}, {}, {}, "", "", false}}) {
    auto r = reg_->resolve(in);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  }
  EntityInput bad_lei = company("X");
  bad_lei.lei = "TOO-SHORT";
  EXPECT_EQ(reg_->resolve(bad_lei).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg_->find("  ").error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg_->rollback_run("").error().code, ErrorCode::kInvalidInput);
}

TEST_F(EntityRegistryTest, BatchIsAllOrNothing) {
  std::string before = dump();
  auto r = reg_->resolve_all({company("Good One Inc"), with_cik(company("Bad"), "x")});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("entity 1"), std::string::npos);
  EXPECT_EQ(dump(), before);
}

TEST_F(EntityRegistryTest, RollbackRestoresTheDumpExactly) {
  ASSERT_TRUE(reg_->resolve_all({with_cik(company("Apple Inc.", "d0", "r0"), "320193"),
                                 company("Exxon Mobil Corp", "d0", "r0")})
                  .has_value());
  std::string before = dump();
  auto batch = reg_->resolve_all({
      company("APPLE INC", "d1", "r1"),                                  // exact
      with_cik(company("Apple Inc", "d1", "r1"), "320193"),              // cik
      with_cik(company("Apple Computer Inc", "d1", "r1"), "320193"),     // cik + alias
      company("Exxon Mobil Corporation", "d1", "r1"),                    // exact
      with_cik(company("Exxon Mobil Corp", "d1", "r1"), "34088", false),  // fills the CIK
      company("Imperial Oil Limited", "d1", "r1"),                       // new
      company("Imperial Oil Ltd.", "d2", "r1"),                          // exact
      company("Imperial Oill Limited", "d2", "r1"),                      // fuzzy + alias
  });
  ASSERT_TRUE(batch.has_value()) << batch.error().describe();
  auto merged = reg_->merge((*batch)[0].entity_id, (*batch)[5].entity_id, std::string("r1"));
  ASSERT_TRUE(merged.has_value()) << merged.error().describe();
  EXPECT_NE(dump(), before);
  auto count = reg_->journal_count("r1");
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(*count, 5);  // two aliases, the CIK, the insert, the merge
  ASSERT_TRUE(reg_->rollback_run("r1").has_value());
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(*reg_->journal_count("r1"), 0);
  auto again = reg_->rollback_run("r1");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  // Replaying the run gives the same ids as the first time.
  auto replay = reg_->resolve_all({company("Imperial Oil Limited", "d1", "r1")});
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ((*replay)[0].entity_id, (*batch)[5].entity_id);
}

TEST_F(EntityRegistryTest, RollbackHandsAnEntityALaterRunStillUsesToThatRun) {
  std::string empty = dump();
  Resolution e = resolve(company("Hooli Inc", "d1", "r1"));
  resolve(company("HOOLI INC.", "d2", "r2"));  // mentions the entity r1 created
  ASSERT_TRUE(reg_->rollback_run("r1").has_value());
  auto kept = reg_->show(e.entity_id);
  ASSERT_TRUE(kept.has_value()) << "r2 still mentions it";
  ASSERT_EQ(kept->mentions.size(), 1u);
  EXPECT_EQ(kept->mentions[0].run_id, "r2");
  // r2 now owns the entity: rolling it back removes the entity and restores the start.
  ASSERT_TRUE(reg_->rollback_run("r2").has_value());
  EXPECT_FALSE(reg_->show(e.entity_id).has_value());
  EXPECT_EQ(dump(), empty);
}

TEST_F(EntityRegistryTest, RollbackRefusesWhenAManualMergeDependsOnIt) {
  Resolution a = resolve(company("Hooli Inc", "d1", "r1"));
  Resolution b = resolve(company("Nucleus Corp", "d2", "r2"));
  ASSERT_TRUE(reg_->merge(b.entity_id, a.entity_id).has_value());  // manual: no run
  auto s = reg_->rollback_run("r2");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(s.error().message.find("manual merge"), std::string::npos);
}

// Issue 18: a 13F row's CUSIP identifies its issuer by the first 6 characters.
TEST_F(EntityRegistryTest, CusipIssuerNumberDecidesAndKeepsIssuersApart) {
  auto with_cusip = [](EntityInput in, std::string cusip) {
    in.cusip = std::move(cusip);
    return in;
  };
  // Two spellings and two issues (common stock, a note) of one issuer: one entity.
  Resolution a = resolve(with_cusip(company("AMAZON COM INC", "d1", "r1"), "023135106"));
  EXPECT_TRUE(a.created);
  Resolution b = resolve(with_cusip(company("Amazon.com Inc. Notes", "d2", "r1"), "023135AN6"));
  EXPECT_EQ(b.entity_id, a.entity_id);
  EXPECT_EQ(b.method, "cusip");
  auto shown = reg_->show(a.entity_id);
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ(shown->cusip, "023135");
  // The same name under another issuer number is another entity.
  Resolution c = resolve(with_cusip(company("AMAZON COM INC", "d3", "r1"), "123456782"));
  EXPECT_NE(c.entity_id, a.entity_id);
  // A CUSIP whose check digit is wrong is refused, as a malformed CIK is.
  auto bad = reg_->resolve(with_cusip(company("CSX CORP", "d4", "r1"), "126408104"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_TRUE(normalize_cusip("126408103").has_value());
  EXPECT_EQ(*normalize_cusip(" 29414b104 "), "29414B104");
  // `registry find` looks a CUSIP up by its issuer number.
  auto found = reg_->find("023135106");
  ASSERT_TRUE(found.has_value()) << found.error().describe();
  ASSERT_FALSE(found->empty());
  EXPECT_EQ(found->front().entity_id, a.entity_id);
  EXPECT_EQ(found->front().method, "cusip");
  // Rolled back, the run's entities and their CUSIPs go with it.
  ASSERT_TRUE(reg_->rollback_run("r1").has_value());
  EXPECT_FALSE(reg_->show(a.entity_id).has_value());
}

TEST_F(EntityRegistryTest, RollbackGoesAheadOnceTheManualMergeIsUnmerged) {
  Resolution a = resolve(company("Hooli Inc", "d1", "r1"));
  std::string before = dump();
  Resolution b = resolve(company("Nucleus Corp", "d2", "r2"));
  auto m = reg_->merge(a.entity_id, b.entity_id);  // manual: no run
  ASSERT_TRUE(m.has_value()) << m.error().describe();
  ASSERT_FALSE(reg_->rollback_run("r2").has_value());  // the merge depends on r2's entity
  ASSERT_TRUE(reg_->unmerge(m->merge_id).has_value());
  auto s = reg_->rollback_run("r2");
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_EQ(reg_->show(b.entity_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dump(), before);  // as if r2 had never run
  // A merge that is active again (merged anew) blocks as before.
  Resolution c = resolve(company("Nucleus Corp", "d3", "r3"));
  ASSERT_TRUE(reg_->merge(a.entity_id, c.entity_id).has_value());
  EXPECT_FALSE(reg_->rollback_run("r3").has_value());
}

TEST_F(EntityRegistryTest, MergeThenUnmergeRestoresTheDumpExactly) {
  Resolution a = resolve(company("Pied Piper Inc"));
  Resolution b = resolve(company("PiedPiper Holdings"));
  std::string before = dump();
  auto m = reg_->merge(a.entity_id, b.entity_id);
  ASSERT_TRUE(m.has_value()) << m.error().describe();
  EXPECT_EQ(m->merge_id, "mrg_1");
  // B now resolves to A.
  Resolution via_b = resolve(company("PIEDPIPER HOLDINGS", "doc9", "run9"));
  EXPECT_EQ(via_b.entity_id, a.entity_id);
  ASSERT_TRUE(reg_->rollback_run("run9").has_value());
  auto shown = reg_->show(b.entity_id);
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ(shown->merged_into, a.entity_id);
  ASSERT_EQ(shown->merges.size(), 1u);
  ASSERT_TRUE(reg_->unmerge(m->merge_id).has_value());
  EXPECT_EQ(dump(), before);
  auto history = reg_->history(b.entity_id);
  ASSERT_TRUE(history.has_value());
  std::vector<std::string> ops;
  for (const auto& h : *history) ops.push_back(h.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"insert", "merge", "unmerge"}));
  EXPECT_EQ(resolve(company("PIEDPIPER HOLDINGS")).entity_id, b.entity_id);
}

TEST_F(EntityRegistryTest, MergeAndUnmergeErrors) {
  Resolution a = resolve(company("Vandelay Industries"));
  Resolution p = resolve(EntityInput{"PERSON", "Art Vandelay", {}, {}, {}, {}, "d", "r", false});
  EXPECT_EQ(reg_->merge(a.entity_id, "ent_missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reg_->merge(a.entity_id, a.entity_id).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg_->merge(a.entity_id, p.entity_id).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg_->unmerge("mrg_404").error().code, ErrorCode::kNotFound);
  Resolution b = resolve(company("Kramerica Industries"));
  auto m = reg_->merge(a.entity_id, b.entity_id);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(reg_->merge(a.entity_id, b.entity_id).error().code, ErrorCode::kInvalidInput);
  ASSERT_TRUE(reg_->unmerge(m->merge_id).has_value());
  EXPECT_EQ(reg_->unmerge(m->merge_id).error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(reg_->show("ent_missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reg_->history("ent_missing").error().code, ErrorCode::kNotFound);
}

TEST_F(EntityRegistryTest, SameInputsInSameOrderGiveSameIdsInAFreshDatabase) {
  std::vector<EntityInput> inputs = {
      with_cik(company("Apple Inc."), "320193"), company("Apple Asia Limited"),
      company("Apple Asia LLC"), company("APPLE INC"), company("Braeburn Capital, Inc."),
      company("Braeburn Capitol Inc"), company("iTunes K.K.")};
  auto first = reg_->resolve_all(inputs);
  ASSERT_TRUE(first.has_value());
  std::string first_dump = dump();
  SetUp();
  auto second = reg_->resolve_all(inputs);
  ASSERT_TRUE(second.has_value());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ((*first)[i].entity_id, (*second)[i].entity_id);
    EXPECT_EQ((*first)[i].method, (*second)[i].method);
  }
  EXPECT_EQ(dump(), first_dump);
}

TEST_F(EntityRegistryTest, HostileNamesAreStoredVerbatimAndFound) {
  const std::vector<std::string> names = {
      "Robert'); DROP TABLE entities;--",
      "100% Pure Holdings",
      "under_score_co",
      "%",
      "_",
      std::string("Nul\0Byte Corp", 13),
      std::string(10 * 1024, 'A') + " Corp",
      "Samsung \xEC\x82\xBC\xEC\x84\xB1 \xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0 \xD8\xA7\xD9\x84\xD8\xB9 Ltd",
      "\"Quoted\" Name AND OR NOT NEAR",
      "Bad\xFF\xFEUTF8 Inc",
  };
  std::vector<std::string> ids;
  for (const auto& n : names) {
    Resolution r = resolve(company(n));
    ASSERT_TRUE(r.created) << n.substr(0, 40);
    ids.push_back(r.entity_id);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto d = reg_->show(ids[i]);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->name, names[i]);
    EXPECT_TRUE(d->aliases.empty());
    auto found = reg_->find(names[i]);
    ASSERT_TRUE(found.has_value()) << found.error().describe();
    ASSERT_FALSE(found->empty()) << names[i].substr(0, 40);
    EXPECT_EQ(found->front().entity_id, ids[i]) << names[i].substr(0, 40);
    EXPECT_EQ(resolve(company(names[i], "doc2")).entity_id, ids[i]);
  }
  auto rows = store_->query("SELECT count(*) FROM entities");
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), static_cast<std::int64_t>(names.size()));
}

TEST_F(EntityRegistryTest, InvisibleOrCompatibilityCharactersMakeNoTwinEntity) {
  const std::string zero_width = "Zero\xE2\x80\x8BWidth\xE2\x81\xA0 LLC";  // U+200B, U+2060
  Resolution plain = resolve(company("ZeroWidth LLC"));
  Resolution spoof = resolve(company(zero_width, "doc2"));
  EXPECT_EQ(spoof.entity_id, plain.entity_id);
  EXPECT_EQ(spoof.method, "exact");
  auto found = reg_->find(zero_width);
  ASSERT_TRUE(found.has_value()) << found.error().describe();
  ASSERT_FALSE(found->empty());
  EXPECT_EQ(found->front().entity_id, plain.entity_id);
  EXPECT_EQ(found->front().method, "exact");

  // The invisible spelling first: one entity too, and its canonical name shows no
  // invisible characters (soft hyphen, BOM, right-to-left mark here).
  Resolution first = resolve(company("In\xC2\xADvisible\xEF\xBB\xBF Holdings\xE2\x80\x8F Inc"));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(resolve(company("Invisible Holdings Inc", "doc2")).entity_id, first.entity_id);
  auto shown = reg_->show(first.entity_id);
  ASSERT_TRUE(shown.has_value());
  EXPECT_EQ(shown->name, "Invisible Holdings Inc");

  // Full-width letters are the plain ones (NFKC).
  Resolution acme = resolve(company("ACME Corp"));
  Resolution wide = resolve(company("\xEF\xBC\xA1\xEF\xBC\xA3\xEF\xBC\xAD\xEF\xBC\xA5 Corp", "doc3"));
  EXPECT_EQ(wide.entity_id, acme.entity_id);
  EXPECT_EQ(wide.method, "exact");

  // A name of invisible characters only is no name.
  auto nothing = reg_->resolve(company("\xE2\x80\x8B\xE2\x81\xA0"));
  ASSERT_FALSE(nothing.has_value());
  EXPECT_EQ(nothing.error().code, ErrorCode::kInvalidInput);

  auto rows = store_->query("SELECT count(*) FROM entities");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), 3);
}

// A ledger written before names lost their invisible characters: migration 0116 brings
// its stored normal forms in line, so the entity is found under the plain spelling.
TEST(EntityRegistryMigrationTest, StoredNormalFormsAreRenormalisedWithoutInvisibles) {
  const auto path = std::filesystem::temp_directory_path() / ("fgraph_names_" + random_hex(4) + ".db");
  const std::string spoof = "Zero\xE2\x80\x8BWidth\xE2\x81\xA0 LLC";
  std::string id;
  {
    auto s = Store::open({path.string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    EntityRegistry reg(**s);
    auto r = reg.resolve(company(spoof));
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    id = r->entity_id;
    EntityInput alias = with_cik(company("Zero\xE2\x80\x8BWidth Holdings\xC2\xAD LLC"), "777", false);
    ASSERT_TRUE(reg.resolve(with_cik(company("Other Name LLC"), "777")).has_value());
    ASSERT_TRUE(reg.resolve(alias).has_value());  // taught as an alias, by CIK
    // As such a ledger held it: the old normal forms (the invisible characters split the
    // words), the verbatim name, and no record of 0116.
    ASSERT_TRUE((*s)->execute("UPDATE entities SET name = ?, norm_name = 'zero width llc',"
                              " core_name = 'zero width' WHERE entity_id = ?",
                              {spoof, id})
                    .has_value());
    ASSERT_TRUE((*s)->exec("UPDATE entity_fts SET core_name = 'zero width'"
                           " WHERE core_name = 'zerowidth';"
                           " UPDATE entity_aliases SET norm = 'zero width holdings llc';"
                           " DELETE FROM schema_migrations WHERE version = 116;")
                    .has_value());
  }
  {
    auto s = Store::open({path.string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    EntityRegistry reg(**s);
    auto r = reg.resolve(company("ZeroWidth LLC", "doc2"));
    ASSERT_TRUE(r.has_value()) << r.error().describe();
    EXPECT_EQ(r->entity_id, id);
    EXPECT_EQ(r->method, "exact");
    auto a = reg.resolve(company("ZeroWidth Holdings LLC", "doc2"));
    ASSERT_TRUE(a.has_value()) << a.error().describe();
    EXPECT_EQ(a->method, "alias");
    auto rows = (*s)->query("SELECT e.name, e.norm_name, e.core_name, f.core_name FROM entities e"
                            " JOIN entity_fts f ON f.rowid = e.rid WHERE e.entity_id = ?",
                            {id});
    ASSERT_TRUE(rows.has_value()) << rows.error().describe();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(std::get<std::string>((*rows)[0][0]), spoof);  // canonical names stay as they were
    EXPECT_EQ(std::get<std::string>((*rows)[0][1]), "zerowidth llc");
    EXPECT_EQ(std::get<std::string>((*rows)[0][2]), "zerowidth");
    EXPECT_EQ(std::get<std::string>((*rows)[0][3]), "zerowidth");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

TEST_F(EntityRegistryTest, FindRanksCandidatesWithMethods) {
  Resolution apple = resolve(with_cik(company("Apple Inc."), "320193"));
  resolve(company("Apple Asia Limited"));
  resolve(company("Apple Operations International Limited"));
  Resolution pear = resolve(company("Pear Computers Inc"));
  auto by_name = reg_->find("apple inc");
  ASSERT_TRUE(by_name.has_value());
  ASSERT_GE(by_name->size(), 3u);
  EXPECT_EQ(by_name->front().entity_id, apple.entity_id);
  EXPECT_EQ(by_name->front().method, "exact");
  for (size_t i = 1; i < by_name->size(); ++i) {
    EXPECT_LE((*by_name)[i].score, (*by_name)[i - 1].score);
    EXPECT_NE((*by_name)[i].entity_id, pear.entity_id);
  }
  auto by_cik = reg_->find("320193");
  ASSERT_TRUE(by_cik.has_value());
  ASSERT_EQ(by_cik->size(), 1u);
  EXPECT_EQ(by_cik->front().method, "cik");
  auto typed = reg_->find("apple inc", std::string("PERSON"));
  ASSERT_TRUE(typed.has_value());
  EXPECT_TRUE(typed->empty());
}

}  // namespace
// A caller's records of the resolutions commit with them, or neither does: the run
// coordinator writes run_entities this way.
TEST_F(EntityRegistryTest, ResolveAllRunsTheCallersWritesInItsTransaction) {
  resolve(company("Existing Corp", "doc0"));
  const std::string before = dump();
  ASSERT_TRUE(store_->exec("CREATE TABLE caller_log(entity_id TEXT, method TEXT)").has_value());
  std::vector<EntityInput> inputs{company("Existing Corporation", "doc2"),
                                  company("Brand New Ltd", "doc3")};
  auto failed = reg_->resolve_all(inputs, [&](const std::vector<Resolution>& out) -> Status {
    EXPECT_EQ(out.size(), 2u);
    if (auto s = store_->execute("INSERT INTO caller_log VALUES(?, ?)",
                                 {out[1].entity_id, out[1].method});
        !s) {
      return s;
    }
    return make_error(ErrorCode::kInvalidInput, "the caller refuses");
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(dump(), before);  // the new entity and the alias are gone with the caller's row
  auto logged = store_->query("SELECT count(*) FROM caller_log");
  EXPECT_EQ(std::get<std::int64_t>((*logged)[0][0]), 0);

  auto done = reg_->resolve_all(inputs, [&](const std::vector<Resolution>& out) -> Status {
    for (const auto& r : out) {
      if (auto s = store_->execute("INSERT INTO caller_log VALUES(?, ?)", {r.entity_id, r.method});
          !s) {
        return s;
      }
    }
    return ok();
  });
  ASSERT_TRUE(done.has_value()) << done.error().describe();
  auto rows = store_->query("SELECT method FROM caller_log ORDER BY rowid");
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(std::get<std::string>((*rows)[0][0]), "exact");
  EXPECT_EQ(std::get<std::string>((*rows)[1][0]), "new");
  // The fuzzy index dropped what the failed attempt taught it: the new entity is found.
  auto found = reg_->find("Brand New");
  ASSERT_TRUE(found.has_value());
  ASSERT_FALSE(found->empty());
  EXPECT_EQ(found->front().entity_id, (*done)[1].entity_id);
}

}  // namespace fgraph::registry

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "registry/registry.h"

namespace fgraph::registry {
namespace {

std::unique_ptr<Store> open_memory() {
  auto s = Store::open({":memory:"});
  EXPECT_TRUE(s.has_value()) << s.error().describe();
  return std::move(*s);
}

TEST(StoreTest, AppliesEveryMigrationOnce) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_store_" + random_hex(4) + ".db");
  {
    auto s = Store::open({path.string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    EXPECT_EQ((*s)->schema_version(), migrations().back().version);
  }
  auto again = Store::open({path.string()});
  ASSERT_TRUE(again.has_value());
  auto rows = (*again)->query("SELECT count(*) FROM schema_migrations");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]),
            static_cast<std::int64_t>(migrations().size()));
  auto mode = (*again)->query("PRAGMA journal_mode");
  EXPECT_EQ(std::get<std::string>((*mode)[0][0]), "wal");
  auto fk = (*again)->query("PRAGMA foreign_keys");
  EXPECT_EQ(std::get<std::int64_t>((*fk)[0][0]), 1);
  std::filesystem::remove(path);
}

// page_size applies to a new file only: an existing database keeps the size it was
// created with, whatever the options say.
TEST(StoreTest, PageSizeIsSetOnCreationAndKeptAfter) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_page_" + random_hex(4) + ".db");
  auto page_size = [](Store& store) {
    auto r = store.query("PRAGMA page_size");
    return r ? std::get<std::int64_t>((*r)[0][0]) : -1;
  };
  {
    StoreOptions old{path.string()};
    old.page_size = 4096;
    auto s = Store::open(old);
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    EXPECT_EQ(page_size(**s), 4096);
  }
  {
    auto s = Store::open({path.string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    EXPECT_EQ(page_size(**s), 4096);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  auto s = Store::open({path.string()});
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  EXPECT_EQ(page_size(**s), StoreOptions{}.page_size);
  s->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

// Commits do not checkpoint: a thread of the Store does, with its own connection. The
// WAL stays bounded whether or not that thread keeps up (the committing connection
// checkpoints itself from 4x the threshold), and nothing written is lost.
TEST(StoreTest, CheckpointsInTheBackgroundAndBoundsTheWal) {
  for (bool background : {true, false}) {
    auto path =
        std::filesystem::temp_directory_path() / ("fgraph_store_" + random_hex(4) + ".db");
    StoreOptions options{path.string()};
    options.page_size = 4096;  // one row per page, as the sizes below assume
    options.wal_autocheckpoint_pages = 64;
    options.background_checkpoint = background;
    {
      auto s = Store::open(options);
      ASSERT_TRUE(s.has_value()) << s.error().describe();
      Store& store = **s;
      ASSERT_TRUE(store.exec("CREATE TABLE t(x BLOB)").has_value());
      const std::string page(4000, 'x');
      for (int i = 0; i < 2000; ++i) {
        auto inserted = store.execute("INSERT INTO t VALUES(?)", {page + std::to_string(i)});
        ASSERT_TRUE(inserted.has_value());
        if (background && i % 100 == 99) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // lets the thread run
        }
      }
      if (background) {
        EXPECT_GT(store.background_checkpoints(), 0);
      } else {
        EXPECT_EQ(store.background_checkpoints(), 0);
      }
      // Some 5,000 frames were committed; the WAL never held much more than the
      // backstop (256 frames).
      EXPECT_LT(std::filesystem::file_size(path.string() + "-wal"), 300u * (4096 + 24))
          << (background ? "background" : "foreground");
    }
    auto again = Store::open(options);
    ASSERT_TRUE(again.has_value());
    auto rows = (*again)->query("SELECT count(*), count(DISTINCT x) FROM t");
    EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), 2000);
    EXPECT_EQ(std::get<std::int64_t>((*rows)[0][1]), 2000);
    again->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  }
}

// Stages number migrations in their own ranges, so a new migration can be numbered
// below one a database already has (0101 after 0500): it is applied all the same.
TEST(StoreTest, AppliesAMigrationNumberedBelowTheNewestApplied) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_store_" + random_hex(4) + ".db");
  {
    auto s = Store::open({path.string()});
    ASSERT_TRUE(s.has_value()) << s.error().describe();
    // As a database written before 0101 existed: no epoch table, no record of it.
    ASSERT_TRUE((*s)->exec("DROP TRIGGER entities_delete_bumps_index_epoch;"
                           " DROP TRIGGER entities_update_bumps_index_epoch;"
                           " DROP TABLE entity_index_epoch;"
                           " DELETE FROM schema_migrations WHERE version = 101;")
                    .has_value());
  }
  auto again = Store::open({path.string()});
  ASSERT_TRUE(again.has_value()) << again.error().describe();
  auto rows = (*again)->query("SELECT n FROM entity_index_epoch");
  ASSERT_TRUE(rows.has_value()) << rows.error().describe();
  EXPECT_EQ(rows->size(), 1u);
  auto recorded = (*again)->query("SELECT count(*) FROM schema_migrations WHERE version = 101");
  EXPECT_EQ(std::get<std::int64_t>((*recorded)[0][0]), 1);
  again->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

TEST(StoreTest, RefusesAFileThatIsNotADatabase) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_notdb_" + random_hex(4));
  ASSERT_TRUE(write_file_atomic(path.string(), std::string(4096, 'x')).has_value());
  auto s = Store::open({path.string()});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  std::filesystem::remove(path);
}

TEST(StoreTest, AWriteBlockedPastTheBusyTimeoutIsLocked) {
  auto path = std::filesystem::temp_directory_path() / ("fgraph_locked_" + random_hex(4) + ".db");
  auto holder = Store::open({path.string()});
  ASSERT_TRUE(holder.has_value()) << holder.error().describe();
  StoreOptions o{path.string()};
  o.busy_timeout = std::chrono::milliseconds(50);
  auto other = Store::open(o);
  ASSERT_TRUE(other.has_value()) << other.error().describe();
  ASSERT_TRUE((*holder)->begin().has_value());
  ASSERT_TRUE((*holder)->exec("CREATE TABLE held(x)").has_value());
  Status blocked = (*other)->exec("CREATE TABLE mine(x)");
  ASSERT_FALSE(blocked.has_value());
  EXPECT_TRUE(is_locked(blocked.error())) << blocked.error().describe();
  (*holder)->rollback();
  EXPECT_TRUE((*other)->exec("CREATE TABLE mine(x)").has_value());
  EXPECT_FALSE(is_locked(make_error(ErrorCode::kTransient, "x", "sqlite:19")));
  EXPECT_FALSE(is_locked(make_error(ErrorCode::kInternal, "x", "Neo.Whatever")));
  holder->reset();
  other->reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST(StoreTest, TransactionRollsBackOnError) {
  auto store = open_memory();
  ASSERT_TRUE(store->exec("CREATE TABLE t(x INTEGER UNIQUE)").has_value());
  Status s = store->transaction([&]() -> Status {
    if (auto e = store->execute("INSERT INTO t VALUES(1)"); !e) return e;
    return store->execute("INSERT INTO t VALUES(1)");  // violates UNIQUE
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
  auto rows = store->query("SELECT count(*) FROM t");
  EXPECT_EQ(std::get<std::int64_t>((*rows)[0][0]), 0);
  EXPECT_FALSE(store->in_transaction());
}

TEST(DocumentsTest, PutIsIdempotentAndKeepsBytesVerbatim) {
  auto store = open_memory();
  DocumentRecord d;
  d.text = std::string("Apple Inc.\0 'quoted' \xF0\x9F\x98\x80", 23);
  d.doc_id = "sha256:" + sha256_hex(d.text);
  d.source = "corpus/sec/x.html";
  d.format = "html";
  d.cik = "0000320193";
  auto first = put_document(*store, d);
  ASSERT_TRUE(first.has_value()) << first.error().describe();
  EXPECT_TRUE(*first);
  auto second = put_document(*store, d);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(*second);
  auto back = get_document(*store, d.doc_id);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->text, d.text);
  EXPECT_EQ(back->cik, d.cik);
  EXPECT_FALSE(back->company.has_value());
  auto missing = get_document(*store, "sha256:nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace fgraph::registry

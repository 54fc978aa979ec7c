#include <gtest/gtest.h>

#include "core/core.h"

namespace fgraph {
namespace {

using std::chrono::milliseconds;

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 7);
  Result<int> bad = make_error(ErrorCode::kNotFound, "nope");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(bad.value_or(3), 3);
  Status s = make_error(ErrorCode::kTransient, "later", "Neo.TransientError.X");
  EXPECT_FALSE(s.has_value());
  EXPECT_EQ(s.error().describe(), "transient: later [Neo.TransientError.X]");
}

TEST(Sha256Test, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), sha256_hex("abc"));
}

TEST(Sha256Test, FieldBoundariesCannotBeForged) {
  EXPECT_NE(sha256_fields({"ab", "c"}), sha256_fields({"a", "bc"}));
  EXPECT_EQ(sha256_fields({"a", "bc"}), sha256_fields({"a", "bc"}));
}

TEST(RandomHexTest, HasRequestedLength) {
  EXPECT_EQ(random_hex(8).size(), 16u);
  EXPECT_NE(random_hex(8), random_hex(8));
}

TEST(RetryPolicyTest, DoesNotRetryPermanentErrors) {
  RetryPolicy p;
  EXPECT_FALSE(p.next_delay(1, make_error(ErrorCode::kInvalidInput, "x")).has_value());
  EXPECT_FALSE(p.next_delay(1, make_error(ErrorCode::kPermanent, "x")).has_value());
}

TEST(RetryPolicyTest, HonoursRetryAfterUpToCap) {
  RetryPolicy p;
  Error e = make_error(ErrorCode::kRateLimited, "slow down");
  e.retry_after = milliseconds(3000);
  EXPECT_EQ(p.next_delay(1, e), milliseconds(3000));
  e.retry_after = p.max_retry_after + milliseconds(1);
  EXPECT_FALSE(p.next_delay(1, e).has_value());
}

TEST(RetryPolicyTest, BacksOffExponentiallyWithinCap) {
  RetryPolicy p;
  p.jitter = 0.0;
  p.max_attempts = 10;
  Error e = make_error(ErrorCode::kTransient, "x");
  EXPECT_EQ(p.next_delay(1, e), milliseconds(500));
  EXPECT_EQ(p.next_delay(2, e), milliseconds(1000));
  EXPECT_EQ(p.next_delay(8, e), p.max_backoff);
  EXPECT_FALSE(p.next_delay(10, e).has_value());
}

TEST(WithRetryTest, RetriesTransientThenSucceedsWithoutWallTime) {
  ManualClock clock;
  RetryPolicy p;
  int calls = 0;
  Result<int> r = with_retry(p, clock, [&]() -> Result<int> {
    if (++calls < 3) return make_error(ErrorCode::kTransient, "busy");
    return 42;
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(clock.sleeps().size(), 2u);
}

TEST(WithRetryTest, StopsAtFirstNonRetryableError) {
  ManualClock clock;
  int calls = 0;
  Status s = with_retry(RetryPolicy{}, clock, [&]() -> Status {
    ++calls;
    return make_error(ErrorCode::kInvalidInput, "bad");
  });
  EXPECT_FALSE(s.has_value());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(ClassifyHttpStatusTest, MapsStatusesToActions) {
  EXPECT_EQ(classify_http_status(429), ErrorCode::kRateLimited);
  EXPECT_EQ(classify_http_status(503), ErrorCode::kTransient);
  EXPECT_EQ(classify_http_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(classify_http_status(401), ErrorCode::kUnauthorized);
  EXPECT_EQ(classify_http_status(403), ErrorCode::kUnauthorized);
  EXPECT_FALSE(is_retryable(ErrorCode::kUnauthorized));
  EXPECT_EQ(classify_http_status(402), ErrorCode::kPermanent);
  EXPECT_EQ(classify_http_status(400), ErrorCode::kInvalidInput);
}

TEST(RedactUrlsTest, RemovesCredentialsOfEveryUrl) {
  EXPECT_EQ(redact_urls("https://user:hunter2@db.example.com:7473/db?x=1"),
            "https://****@db.example.com:7473/db?x=1");
  EXPECT_EQ(redact_urls("http://token@host"), "http://****@host");
  // A password holding '@' is hidden whole (the last '@' of the authority ends it).
  EXPECT_EQ(redact_urls("http://u:p@ss@host/"), "http://****@host/");
  EXPECT_EQ(redact_urls("POST http://neo4j:s3cret@127.0.0.1:9/db/neo4j/tx: Couldn't connect; "
                        "then 'https://a:b@c.example/v1'"),
            "POST http://****@127.0.0.1:9/db/neo4j/tx: Couldn't connect; "
            "then 'https://****@c.example/v1'");
}

TEST(RedactUrlsTest, LeavesOtherTextAlone) {
  EXPECT_EQ(redact_urls("https://api.openai.com/v1"), "https://api.openai.com/v1");
  EXPECT_EQ(redact_urls("http://host/path/user@example.com"), "http://host/path/user@example.com");
  EXPECT_EQ(redact_urls("mail bob@example.com, see ://x@y"), "mail bob@example.com, see ://x@y");
  EXPECT_EQ(redact_urls(""), "");
}

TEST(RedactUrlsTest, DescribeNeverShowsUrlCredentials) {
  Error e = make_error(ErrorCode::kUnavailable, "GET http://u:topsecret@h:1/: refused");
  EXPECT_EQ(e.describe().find("topsecret"), std::string::npos);
}

TEST(FormatUtcTest, FormatsRfc3339) {
  EXPECT_EQ(format_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
}

TEST(FormatUtcTest, ParseIsItsInverse) {
  const auto t = std::chrono::system_clock::from_time_t(1795000000);  // 2026-11-18
  EXPECT_EQ(parse_utc(format_utc(t)), t);
  EXPECT_EQ(parse_utc("2026-12-06T13:10:16.250Z"), parse_utc("2026-12-06T13:10:16Z"));
  EXPECT_FALSE(parse_utc("2026-12-06 13:10:16").has_value());
  EXPECT_FALSE(parse_utc("2026-12-06T13:10:16").has_value());
  EXPECT_FALSE(parse_utc("yesterday").has_value());
}

TEST(TextTest, DefaultIgnorablesAreTheUnicodePropertyReservedOnesIncluded) {
  for (char32_t cp : {0x00ADu, 0x034Fu, 0x061Cu, 0x115Fu, 0x180Eu, 0x200Bu, 0x200Fu, 0x202Eu,
                      0x2060u, 0x2065u, 0x3164u, 0xFE0Fu, 0xFEFFu, 0xFFA0u, 0xFFF0u, 0x1D173u,
                      0xE0000u, 0xE0041u, 0xE0FFFu}) {
    EXPECT_TRUE(is_default_ignorable(cp)) << std::hex << static_cast<std::uint32_t>(cp);
  }
  for (char32_t cp : {0x0020u, 0x0041u, 0x00A0u, 0x00ACu, 0x00AEu, 0x2000u, 0x2010u, 0x3000u,
                      0xFF21u, 0xFFF9u, 0xE1000u}) {
    EXPECT_FALSE(is_default_ignorable(cp)) << std::hex << static_cast<std::uint32_t>(cp);
  }
}

TEST(TextTest, NfkcVisibleFoldsCompatibilityFormsAndDropsInvisibles) {
  // Full-width ＡＣＭＥ, a zero-width space and a word joiner.
  EXPECT_EQ(nfkc_visible("\xEF\xBC\xA1\xEF\xBC\xA3\xEF\xBC\xAD\xEF\xBC\xA5 Co\xE2\x80\x8Brp\xE2\x81\xA0", false),
            "ACME Corp");
  EXPECT_EQ(nfkc_visible("ACME Corp", true), "acme corp");
  // An invisible code point between a letter and its accent does not block composition.
  EXPECT_EQ(nfkc_visible("e\xE2\x80\x8B\xCC\x81", false), "\xC3\xA9");
  EXPECT_EQ(nfkc_visible(std::string("a\0b\xFF", 4), false), "a b\xEF\xBF\xBD");
  EXPECT_EQ(without_default_ignorables("Zero\xE2\x80\x8BWidth\xE2\x81\xA0 LLC"), "ZeroWidth LLC");
  // Only invisibles go: compatibility forms and invalid bytes stay as they are.
  EXPECT_EQ(without_default_ignorables("\xEF\xBC\xA1\xC2\xAD\xFF"), "\xEF\xBC\xA1\xFF");
}

TEST(EscapeForTerminalTest, RendersControlCharactersAsEscapes) {
  EXPECT_EQ(escape_for_terminal("plain/path_é.txt"), "plain/path_é.txt");
  EXPECT_EQ(escape_for_terminal("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(escape_for_terminal("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(escape_for_terminal(std::string("nul\0bel\a\x7f", 9)), "nul\\x00bel\\x07\\x7f");
  EXPECT_EQ(escape_for_terminal("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_for_terminal("c1\xC2\x9B" "2J"), "c1\\u009b2J");            // CSI as C1
  EXPECT_EQ(escape_for_terminal("bidi\xE2\x80\xAEtxt"), "bidi\\u202etxt");  // RLO
  EXPECT_EQ(escape_for_terminal("bad\xFF\xC3"), "bad\\xff\\xc3");
  EXPECT_EQ(escape_for_terminal("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");  // emoji kept
}

}  // namespace
}  // namespace fgraph

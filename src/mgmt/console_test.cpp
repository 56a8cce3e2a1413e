// The web console's files as warrend serves them (console.hpp), and the
// JSON of GET /api/locks, without a running broker.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "mgmt/console.hpp"
#include "mgmt/lock_snapshot.hpp"

namespace warren::mgmt {
namespace {

std::string header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(Console, ServesIndexWithAnETagAndAnswers304WhenItMatches) {
  std::optional<Response> r = serve_console("GET", "/", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  EXPECT_NE(r->body.find("<!doctype html>"), std::string::npos);
  const std::string etag = header(*r, "ETag");
  EXPECT_TRUE(std::regex_match(etag, std::regex("\"[0-9a-f]{20}\""))) << etag;
  EXPECT_EQ(header(*r, "Cache-Control"), "no-cache");
  EXPECT_EQ(serve_console("GET", "/index.html?x=1", "")->body, r->body);

  std::optional<Response> again = serve_console("GET", "/", etag);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(header(*again, "ETag"), etag);
  EXPECT_EQ(serve_console("GET", "/", "\"other\", W/" + etag)->status, 304);
  EXPECT_EQ(serve_console("GET", "/", "*")->status, 304);
  EXPECT_EQ(serve_console("GET", "/", "\"other\"")->status, 200);
}

TEST(Console, EveryFileTheIndexNamesIsServedWithItsType) {
  const std::string index = serve_console("GET", "/", "")->body;
  std::set<std::string> named;
  static const std::regex ref(R"re((?:src|href)="(/console/[^"]+)")re");
  for (std::sregex_iterator it(index.begin(), index.end(), ref), end; it != end; ++it) named.insert((*it)[1]);
  EXPECT_TRUE(named.contains("/console/app.js"));
  EXPECT_TRUE(named.contains("/console/style.css"));
  for (const std::string& path : named) {
    std::optional<Response> r = serve_console("GET", path, "");
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_FALSE(r->body.empty()) << path;
  }
  EXPECT_EQ(serve_console("GET", "/console/app.js", "")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(serve_console("GET", "/console/style.css", "")->content_type, "text/css; charset=utf-8");
  // Each asset's bytes are the file's: no terminating NUL, nothing cut.
  for (const ConsoleAsset& a : console_assets()) {
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_NE(a.body.back(), '\0') << a.path;
  }
}

TEST(Console, LeavesTheApiAloneAndRefusesTheRest) {
  EXPECT_FALSE(serve_console("GET", "/api/overview", ""));
  EXPECT_FALSE(serve_console("GET", "/api", ""));
  EXPECT_FALSE(serve_console("GET", "/metrics", ""));
  EXPECT_EQ(serve_console("GET", "/console/nothing.js", "")->status, 404);
  EXPECT_EQ(serve_console("GET", "/console/../api/overview", "")->status, 404);
  std::optional<Response> post = serve_console("POST", "/index.html", "");
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(header(*post, "Allow"), "GET, HEAD");
  EXPECT_EQ(serve_console("HEAD", "/", "")->status, 200);
}

TEST(Console, LockJsonNamesHoldersAndWaiters) {
  LockInfo l;
  l.vhost = "/";
  l.name = "orders-lock";
  l.kind = "rwlock";
  l.policy = "fifo";
  l.last_token = (uint64_t(3) << 32) + 7;
  l.holders.push_back({.connection = "a -> b", .user = "guest", .channel = 2, .consumer_tag = "ctag", .shared = true,
                       .token = (uint64_t(3) << 32) + 7, .delivery = 9});
  l.holders.push_back({.token = (uint64_t(3) << 32) + 6, .delivery = 4});  // basic.get's
  l.waiters.push_back({.connection = "c -> b", .user = "u", .channel = 1, .consumer_tag = "w", .token = 0});
  const json j = lock_json(l);
  EXPECT_EQ(j["name"], "orders-lock");
  EXPECT_EQ(j["kind"], "rwlock");
  EXPECT_TRUE(j["ttl"].is_null());
  EXPECT_EQ(j["last_token"], (uint64_t(3) << 32) + 7);
  ASSERT_EQ(j["holders"].size(), 2u);
  EXPECT_EQ(j["holders"][0]["connection"], "a -> b");
  EXPECT_EQ(j["holders"][0]["channel"], 2);
  EXPECT_EQ(j["holders"][0]["consumer_tag"], "ctag");
  EXPECT_EQ(j["holders"][0]["mode"], "shared");
  EXPECT_EQ(j["holders"][0]["delivery"], 9);
  EXPECT_TRUE(j["holders"][1]["connection"].is_null());
  EXPECT_TRUE(j["holders"][1]["consumer_tag"].is_null());
  EXPECT_EQ(j["holders"][1]["mode"], "exclusive");
  ASSERT_EQ(j["waiters"].size(), 1u);
  EXPECT_EQ(j["waiters"][0]["consumer_tag"], "w");
  EXPECT_FALSE(j["waiters"][0]["offered"]);
  EXPECT_TRUE(j["waiters"][0]["token"].is_null());
}

// A semaphore's holders, and a waiter it was offered to, show their permit
// slots; anyone else's permit is null.
TEST(Console, LockJsonShowsEachSemaphoreHoldersPermit) {
  LockInfo l;
  l.name = "pool";
  l.kind = "semaphore";
  l.permits = 3;
  l.holders.push_back({.consumer_tag = "a", .shared = true, .token = 11, .permit = 2, .delivery = 1});
  l.holders.push_back({.consumer_tag = "b", .shared = true, .token = 12, .permit = 1, .delivery = 2});
  l.waiters.push_back({.consumer_tag = "c", .shared = true, .token = 13, .permit = 3, .offered = true});
  l.waiters.push_back({.consumer_tag = "d", .shared = true});
  const json j = lock_json(l);
  EXPECT_EQ(j["permits"], 3);
  EXPECT_EQ(j["holders"][0]["permit"], 2);
  EXPECT_EQ(j["holders"][1]["permit"], 1);
  EXPECT_EQ(j["waiters"][0]["permit"], 3);
  EXPECT_TRUE(j["waiters"][1]["permit"].is_null());
  LockInfo m;
  m.holders.push_back({.token = 5, .delivery = 1});
  EXPECT_TRUE(lock_json(m)["holders"][0]["permit"].is_null());
}

}  // namespace
}  // namespace warren::mgmt

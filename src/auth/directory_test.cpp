#include "auth/directory.hpp"

#include <gtest/gtest.h>

namespace warren::auth {
namespace {

using namespace std::chrono_literals;

const Peer kLocal{"127.0.0.1", true};
const Peer kRemote{"192.0.2.7", false};

TEST(Directory, DefaultsAreRabbitMqsFirstBoot) {
  auto d = Directory::with_defaults();
  EXPECT_EQ(d->authenticate("guest", "guest", kLocal, {}), LoginResult::Ok);
  EXPECT_EQ(d->authenticate("guest", "guest", kRemote, {}), LoginResult::LoopbackOnly);
  EXPECT_EQ(d->authenticate("guest", "wrong", kLocal, {}), LoginResult::WrongPassword);
  EXPECT_EQ(d->authenticate("nobody", "guest", kLocal, {}), LoginResult::NoSuchUser);
  ASSERT_TRUE(d->user("guest"));
  EXPECT_TRUE(d->user("guest")->has_tag("administrator"));
  EXPECT_TRUE(d->grant("guest", "/"));
  EXPECT_FALSE(d->grant("guest", "other"));
}

TEST(Directory, PasswordlessUsersOnlyComeInWithoutAPassword) {
  Directory d;
  d.put_user({.name = "cert-only"});
  EXPECT_EQ(d.authenticate("cert-only", "", kLocal, {}), LoginResult::NoPassword);
  EXPECT_EQ(d.admit("cert-only", kRemote), LoginResult::Ok);
  EXPECT_EQ(d.admit("ghost", kLocal), LoginResult::NoSuchUser);
}

TEST(Directory, WrongPasswordsAreThrottledPerAddress) {
  auto d = Directory::with_defaults();
  d->put_user({.name = "app", .password_hash = hash_password("pw")});
  TimePoint now{};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d->authenticate("app", "guess", kRemote, now), LoginResult::WrongPassword);
  // Out of tries: refused without a look, even with the right password.
  EXPECT_EQ(d->authenticate("app", "pw", kRemote, now), LoginResult::Throttled);
  EXPECT_EQ(d->authenticate("app", "pw", kLocal, now), LoginResult::Ok);
  EXPECT_EQ(d->authenticate("app", "pw", kRemote, now + 1s), LoginResult::Ok);
}

TEST(Directory, PermissionsNeedAUserAndAVhostAndValidPatterns) {
  auto d = Directory::with_defaults();
  EXPECT_THROW(d->set_permission("nobody", "/", {}), std::invalid_argument);
  EXPECT_THROW(d->set_permission("guest", "nowhere", {}), std::invalid_argument);
  EXPECT_THROW(d->set_permission("guest", "/", {.configure = "("}), std::invalid_argument);
  EXPECT_EQ(d->permissions().at({"guest", "/"}).configure, ".*");  // unchanged by the failure
}

TEST(Directory, DeletingAUserOrVhostTakesItsPermissions) {
  auto d = Directory::with_defaults();
  d->put_vhost({.name = "v"});
  d->set_permission("guest", "v", {});
  EXPECT_TRUE(d->delete_vhost("v"));
  EXPECT_FALSE(d->grant("guest", "v"));
  EXPECT_EQ(d->permissions().size(), 1u);
  EXPECT_TRUE(d->delete_user("guest"));
  EXPECT_TRUE(d->permissions().empty());
  EXPECT_FALSE(d->delete_user("guest"));
}

TEST(Access, ChecksWithRabbitMqsTexts) {
  auto d = Directory::with_defaults();
  d->put_user({.name = "u", .password_hash = hash_password("p")});
  d->set_permission("u", "/", {.configure = "^u\\.", .write = "^(amq\\.default|u\\.x)$", .read = ""});
  Access a(*d, "u", "/");
  EXPECT_FALSE(a.check(Perm::Configure, Resource::Queue, "u.q"));
  EXPECT_EQ(a.check(Perm::Configure, Resource::Queue, "orders"),
            "configure access to queue 'orders' in vhost '/' refused for user 'u'");
  EXPECT_FALSE(a.check(Perm::Write, Resource::Exchange, ""));  // the default exchange is amq.default
  EXPECT_EQ(a.check(Perm::Write, Resource::Exchange, "amq.topic"),
            "write access to exchange 'amq.topic' in vhost '/' refused for user 'u'");
  EXPECT_EQ(a.check(Perm::Read, Resource::Queue, "u.q"),
            "read access to queue 'u.q' in vhost '/' refused for user 'u'");
}

TEST(Access, SeesChangesMadeAfterItCached) {
  auto d = Directory::with_defaults();
  Access a(*d, "guest", "/");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(a.check(Perm::Write, Resource::Exchange, "x"));  // cached
  d->set_permission("guest", "/", {.write = "^y$"});
  EXPECT_TRUE(a.check(Perm::Write, Resource::Exchange, "x"));
  EXPECT_TRUE(a.still_granted());
  d->clear_permission("guest", "/");
  EXPECT_FALSE(a.still_granted());
  EXPECT_TRUE(a.check(Perm::Read, Resource::Queue, "q"));
}

TEST(Access, CacheKeepsDecisionsApartAndBounded) {
  auto d = Directory::with_defaults();
  d->set_permission("guest", "/", {.configure = "^c", .write = "^w", .read = "^r"});
  Access a(*d, "guest", "/");
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 40; ++i) {  // more names than the cache holds
      const std::string n = std::to_string(i);
      EXPECT_FALSE(a.check(Perm::Configure, Resource::Queue, "c" + n));
      EXPECT_TRUE(a.check(Perm::Write, Resource::Queue, "c" + n));
      EXPECT_FALSE(a.check(Perm::Write, Resource::Exchange, "w" + n));
      EXPECT_TRUE(a.check(Perm::Read, Resource::Exchange, "w" + n));
    }
}

TEST(Access, WithoutADirectoryAllowsNothing) {
  Access a;
  EXPECT_TRUE(a.check(Perm::Read, Resource::Queue, "q"));
  EXPECT_FALSE(a.still_granted());
}

}  // namespace
}  // namespace warren::auth

#include "auth/definitions.hpp"

#include <gtest/gtest.h>

namespace warren::auth {
namespace {

using nlohmann::json;

// The shape of `rabbitmqctl export_definitions` from RabbitMQ 3.10.
const char* kRabbitExport = R"({
  "rabbit_version": "3.10.8", "rabbitmq_version": "3.10.8", "product_name": "RabbitMQ", "product_version": "3.10.8",
  "users": [
    {"name": "guest", "password_hash": "ytUIm1ruBv8dbuXf8jo3yKhGfE9Xu5vXpi7ti/E17ovdt2wK",
     "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"], "limits": {}},
    {"name": "old", "password_hash": "ytUIm8s3AnKsXQjptplKFytfVxI=",
     "hashing_algorithm": "rabbit_password_hashing_md5", "tags": "monitoring, policymaker", "limits": {}}
  ],
  "vhosts": [
    {"name": "/", "limits": [], "metadata": {"description": "Default virtual host", "tags": []}},
    {"name": "orders", "limits": [], "metadata": {"description": "the orders team", "tags": ["eu"]}}
  ],
  "permissions": [
    {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "old", "vhost": "orders", "configure": "^$", "write": "^orders\\.", "read": ".*"}
  ],
  "topic_permissions": [],
  "parameters": [
    {"value": {"max-connections": 10, "max-queues": 5}, "vhost": "orders", "component": "vhost-limits", "name": "limits"},
    {"value": {"uri": "amqp://x"}, "vhost": "/", "component": "shovel", "name": "s"}
  ],
  "global_parameters": [], "policies": [], "queues": [], "exchanges": [], "bindings": []
})";

TEST(Definitions, ImportsARabbitMqExport) {
  Directory d;
  import_directory(d, json::parse(kRabbitExport));
  EXPECT_EQ(d.authenticate("guest", "simon", {"", true}, {}), LoginResult::Ok);
  EXPECT_EQ(d.authenticate("old", "simon", {"", true}, {}), LoginResult::Ok);
  EXPECT_EQ(d.user("old")->tags, (std::vector<std::string>{"monitoring", "policymaker"}));
  ASSERT_TRUE(d.vhost("orders"));
  EXPECT_EQ(d.vhost("orders")->description, "the orders team");
  EXPECT_EQ(d.vhost("orders")->limits, (VHostLimits{10, 5}));
  EXPECT_EQ(d.vhost("/")->limits, VHostLimits{});
  Access a(d, "old", "orders");
  EXPECT_FALSE(a.check(Perm::Write, Resource::Exchange, "orders.in"));
  EXPECT_TRUE(a.check(Perm::Configure, Resource::Queue, "q"));
}

TEST(Definitions, ExportImportsBackTheSame) {
  Directory d;
  import_directory(d, json::parse(kRabbitExport));
  json out = {{"queues", json::array()}};
  export_directory(d, out);
  EXPECT_TRUE(out.contains("queues"));  // other sections are left alone
  Directory back;
  import_directory(back, out);
  json again;
  export_directory(back, again);
  out.erase("queues");
  EXPECT_EQ(out, again);
  EXPECT_EQ(again["users"][0]["hashing_algorithm"], "rabbit_password_hashing_sha256");
  EXPECT_EQ(again["parameters"][0]["component"], "vhost-limits");
}

TEST(Definitions, PlainPasswordsAreHashedOnImport) {
  Directory d;
  import_directory(d, json::parse(R"({"users": [{"name": "app", "password": "pw", "tags": []}]})"));
  ASSERT_TRUE(d.user("app"));
  EXPECT_NE(d.user("app")->password_hash, "pw");
  EXPECT_EQ(d.authenticate("app", "pw", {"", true}, {}), LoginResult::Ok);
}

TEST(Definitions, ABadEntryChangesNothing) {
  auto d = Directory::with_defaults();
  const uint64_t before = d->generation();
  for (const char* bad : {
           R"({"users": [{"name": "a", "password": "x"}], "permissions": [{"user": "a", "vhost": "nowhere", "configure": "", "write": "", "read": ""}]})",
           R"({"users": [{"name": "a", "password": "x"}], "permissions": [{"user": "a", "vhost": "/", "configure": "(", "write": "", "read": ""}]})",
           R"({"users": [{"name": "a", "password_hash": "not base64!", "hashing_algorithm": "rabbit_password_hashing_sha256"}]})",
           R"({"users": [{"name": "a", "hashing_algorithm": "bcrypt"}]})",
           R"({"vhosts": [{"description": "no name"}]})",
           R"({"parameters": [{"vhost": "ghost", "component": "vhost-limits", "name": "limits", "value": {}}]})",
           R"({"users": {"name": "not a list"}})",
           R"([1, 2])"}) {
    EXPECT_THROW(import_directory(*d, json::parse(bad)), std::invalid_argument) << bad;
  }
  EXPECT_EQ(d->generation(), before);
  EXPECT_FALSE(d->user("a"));
}

}  // namespace
}  // namespace warren::auth

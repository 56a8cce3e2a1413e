// Node: the durable directory across boots, definitions loaded at boot,
// vhosts created and deleted at run time. Stores are not opened here (the
// OpenStore callback only records the directory); store behaviour has its
// own tests.
#include "server/node.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "broker/seeded_env.hpp"
#include "store/io.hpp"

namespace warren::server {
namespace {

namespace fs = std::filesystem;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fs::path("warren-node-" + std::to_string(::getpid()) + "-" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "store");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Node> boot(NodeOptions o = {}) {
    o.data_dir = dir_.string();
    auto node = std::make_unique<Node>(
        loop_, env_, *io_, std::move(o),
        [this](broker::VHost& v, const std::string& dir, StoreWriter&, std::unique_ptr<store::VHostStore>&) {
          opened_.push_back(v.name() + " at " + dir);
          return !fail_open_;
        },
        nullptr);
    std::string error;
    started_ = node->start(error);
    error_ = error;
    return node;
  }

  fs::path dir_;
  net::EventLoop loop_;
  broker::SeededEnv env_;
  std::unique_ptr<store::Io> io_ = store::posix_io();
  std::vector<std::string> opened_;
  bool fail_open_ = false;
  bool started_ = false;
  std::string error_;
};

TEST_F(NodeTest, FirstBootIsRabbitMqsDefaultAndIsSaved) {
  auto node = boot();
  ASSERT_TRUE(started_) << error_;
  EXPECT_TRUE(node->directory()->user("guest"));
  ASSERT_TRUE(node->broker().vhost("/"));
  EXPECT_EQ(opened_, std::vector<std::string>{"/ at " + dir_.string() + "/store/%2F"});
  EXPECT_TRUE(fs::exists(dir_ / "definitions.json"));
  EXPECT_TRUE(fs::exists(dir_ / "lock-epoch"));
}

TEST_F(NodeTest, ChangesSurviveTheNextBoot) {
  {
    auto node = boot({.default_user = "admin", .default_pass = "pw"});
    ASSERT_TRUE(started_) << error_;
    EXPECT_FALSE(node->directory()->user("guest"));
    EXPECT_EQ(node->add_vhost({.name = "orders", .limits = {.max_queues = 3}}), "");
    node->directory()->put_user({.name = "app", .password_hash = auth::hash_password("app-pw")});
    node->directory()->set_permission("app", "orders", {});
    auto [text, version] = node->definitions();
    ASSERT_EQ(node->definitions_file().write(text, version), 0);
  }
  opened_.clear();
  auto node = boot({.default_user = "ignored-now"});
  ASSERT_TRUE(started_) << error_;
  EXPECT_FALSE(node->directory()->user("ignored-now"));
  EXPECT_EQ(node->directory()->authenticate("app", "app-pw", {"", true}, {}), auth::LoginResult::Ok);
  EXPECT_EQ(node->directory()->authenticate("admin", "pw", {"", true}, {}), auth::LoginResult::Ok);
  ASSERT_TRUE(node->broker().vhost("orders"));
  EXPECT_EQ(node->broker().vhost("orders")->max_queues(), 3);
  EXPECT_EQ(opened_.size(), 2u);
}

TEST_F(NodeTest, ConfigUsersAndTheImportFileApplyAtEveryBoot) {
  const fs::path defs = dir_ / "import.json";
  std::ofstream(defs) << R"({"users": [{"name": "ops", "password": "ops-pw", "tags": ["monitoring"]}],
                             "vhosts": [{"name": "v"}],
                             "permissions": [{"user": "ops", "vhost": "v", "configure": "", "write": "", "read": ".*"}]})";
  auto node = boot({.config_users = {{"dev", "dev-pw"}}, .import_file = defs.string()});
  ASSERT_TRUE(started_) << error_;
  EXPECT_EQ(node->directory()->authenticate("dev", "dev-pw", {"", true}, {}), auth::LoginResult::Ok);
  EXPECT_FALSE(node->directory()->user("guest"));  // config users replace the first boot's default
  EXPECT_TRUE(node->directory()->grant("ops", "v"));
  EXPECT_TRUE(node->broker().vhost("v"));
}

TEST_F(NodeTest, ABadImportFileStopsTheBoot) {
  const fs::path defs = dir_ / "import.json";
  std::ofstream(defs) << R"({"permissions": [{"user": "nobody", "vhost": "/", "configure": "", "write": "", "read": ""}]})";
  boot({.import_file = defs.string()});
  EXPECT_FALSE(started_);
  EXPECT_NE(error_.find("nobody"), std::string::npos) << error_;
  boot({.import_file = (dir_ / "missing.json").string()});
  EXPECT_FALSE(started_);
}

TEST_F(NodeTest, AStoreThatCannotOpenStopsTheBoot) {
  fail_open_ = true;
  boot();
  EXPECT_FALSE(started_);
  EXPECT_NE(error_.find("vhost '/'"), std::string::npos) << error_;
}

TEST_F(NodeTest, DeletingAVhostClosesItsConnectionsAndKeepsItUntilTheyAreGone) {
  auto node = boot();
  ASSERT_TRUE(started_) << error_;
  ASSERT_EQ(node->add_vhost({.name = "tmp"}), "");
  broker::VHost* v = node->broker().vhost("tmp");
  ASSERT_TRUE(v);
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(v->declare_queue({.name = "q", .durable = true}, loop_.now(), ok));
  v->admit_connection(7);  // a connection that opened it
  std::vector<std::string> closed;
  node->on_vhost_deleting = [&](std::string_view name) { closed.emplace_back(name); };
  fs::create_directories(node->store_dir("tmp"));
  EXPECT_EQ(node->delete_vhost("tmp"), "");
  EXPECT_EQ(closed, std::vector<std::string>{"tmp"});
  EXPECT_FALSE(node->broker().vhost("tmp"));
  EXPECT_FALSE(node->directory()->vhost("tmp"));
  EXPECT_TRUE(v->queues().empty());
  EXPECT_FALSE(fs::exists(node->store_dir("tmp")));  // moved aside, removed in the background
  // Still there for connection 7 until it closes and the broker advances.
  EXPECT_EQ(v->connection_count(), 1u);
  node->broker().advance(loop_.now());
  EXPECT_EQ(v->name(), "tmp");
  node->broker().connection_closed(7, loop_.now());
  EXPECT_EQ(node->broker().next_deadline(), TimePoint{});
  node->broker().advance(loop_.now());  // freed here
  EXPECT_EQ(node->delete_vhost("tmp"), "no vhost 'tmp'");
}

TEST_F(NodeTest, PoliciesAreDurableAndComeFromTheImportFileToo) {
  {
    auto node = boot();
    ASSERT_TRUE(started_) << error_;
    EXPECT_EQ(node->set_policy("/", {"cap", "^q", "queues", 1, {{"max-length", 2}}}), "");
    EXPECT_EQ(node->set_policy("/", {"bad", ".*", "all", 0, {{"max-priority", 2}}}),
              "Validation failed\n\n[<<\"max-priority\">>] are not recognised policy settings\n");
    EXPECT_EQ(node->set_policy("nope", {"p", ".*", "all", 0, {{"max-length", 2}}}), "no vhost 'nope'");
    auto [text, version] = node->definitions();
    EXPECT_NE(text.find("\"max-length\": 2"), std::string::npos) << text;
    ASSERT_EQ(node->definitions_file().write(text, version), 0);
  }
  const fs::path defs = dir_ / "import.json";
  std::ofstream(defs) << R"({"policies": [{"vhost": "/", "name": "ttl", "pattern": "^t", "apply-to": "queues",
                                           "definition": {"message-ttl": 1000}, "priority": 0}]})";
  auto node = boot({.import_file = defs.string()});
  ASSERT_TRUE(started_) << error_;
  broker::VHost& v = *node->broker().vhost("/");
  EXPECT_EQ(v.policies().all().size(), 2u);
  broker::QueueDeclareOk ok;
  ASSERT_FALSE(v.declare_queue({.name = "q1"}, loop_.now(), ok));
  EXPECT_EQ(v.find_queue("q1")->policy_name(), "cap");
  EXPECT_EQ(node->clear_policy("/", "cap"), "");
  EXPECT_EQ(v.find_queue("q1")->policy_name(), "");
  EXPECT_EQ(node->clear_policy("/", "cap"), "no policy 'cap' in vhost '/'");
}

TEST_F(NodeTest, LimitsApplyToTheRunningVhost) {
  auto node = boot();
  ASSERT_TRUE(started_) << error_;
  EXPECT_EQ(node->set_vhost_limits("/", {.max_connections = 5, .max_queues = 1}), "");
  EXPECT_EQ(node->broker().vhost("/")->max_connections(), 5);
  EXPECT_EQ(node->directory()->vhost("/")->limits.max_queues, 1);
  EXPECT_EQ(node->set_vhost_limits("nope", {}), "no vhost 'nope'");
}

}  // namespace
}  // namespace warren::server

// warrenctl's commands against a fake management API: the requests they
// make (methods, paths, bodies) and what they print.
#include "ctl/warrenctl.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <sstream>

namespace warren::ctl {
namespace {

using nlohmann::json;

struct Call {
  std::string method, path, body, reason;
};

class FakeApi : public Http {
 public:
  HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& reason) override {
    calls.push_back({method, path, body, reason});
    auto it = answers.find(method + " " + path);
    if (it == answers.end()) return {method == "GET" ? 404 : 204, method == "GET" ? R"({"error":"Object Not Found","reason":"Not Found"})" : ""};
    return it->second;
  }
  std::map<std::string, HttpResponse> answers;
  std::vector<Call> calls;
};

struct Outcome {
  int status;
  std::string out, err;
};

Outcome run_ctl(FakeApi& api, std::vector<std::string> args, Options o = {}) {
  std::ostringstream out, err;
  int status = run(args, o, api, out, err);
  return {status, out.str(), err.str()};
}

TEST(Warrenctl, ListQueuesPrintsRabbitmqctlsTable) {
  FakeApi api;
  api.answers["GET /api/queues/%2F"] = {200, R"([{"name":"a","messages":3,"consumers":1,"durable":true},
                                                 {"name":"b","messages":0,"consumers":0,"durable":false}])"};
  Outcome r = run_ctl(api, {"list_queues"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "Listing queues for vhost / ...\nname\tmessages\na\t3\nb\t0\n");
  r = run_ctl(api, {"list_queues", "name", "consumers", "durable"}, {.quiet = true});
  EXPECT_EQ(r.out, "name\tconsumers\tdurable\na\t1\ttrue\nb\t0\tfalse\n");
}

TEST(Warrenctl, JsonFormatterKeepsTypes) {
  FakeApi api;
  api.answers["GET /api/queues/orders"] = {200, R"([{"name":"a","messages":3,"arguments":{"x-max-length":10}}])"};
  Outcome r = run_ctl(api, {"list_queues", "name", "messages", "arguments"}, {.vhost = "orders", .formatter = "json"});
  EXPECT_EQ(json::parse(r.out), json::parse(R"([{"name":"a","messages":3,"arguments":{"x-max-length":10}}])"));
}

TEST(Warrenctl, ColumnsMapOntoTheApisFields) {
  FakeApi api;
  api.answers["GET /api/consumers/%2F"] = {
      200, R"([{"queue":{"name":"q","vhost":"/"},"channel_details":{"name":"c 1"},"consumer_tag":"t","ack_required":true,
               "prefetch_count":1,"active":true,"arguments":{}}])"};
  Outcome r = run_ctl(api, {"list_consumers"}, {.quiet = true});
  EXPECT_EQ(r.out,
            "queue_name\tchannel_pid\tconsumer_tag\tack_required\tprefetch_count\tactive\targuments\n"
            "q\tc 1\tt\ttrue\t1\ttrue\t[]\n");  // no arguments: rabbitmqctl's []
  api.answers["GET /api/users"] = {200, R"([{"name":"guest","tags":["administrator"]}])"};
  EXPECT_EQ(run_ctl(api, {"list_users"}, {.quiet = true}).out, "user\ttags\nguest\t[administrator]\n");
}

TEST(Warrenctl, UserCommands) {
  FakeApi api;
  Outcome r = run_ctl(api, {"add_user", "app", "s3cret"});
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(api.calls.size(), 2u);  // exists? then create
  EXPECT_EQ(api.calls[1].method, "PUT");
  EXPECT_EQ(api.calls[1].path, "/api/users/app");
  EXPECT_EQ(json::parse(api.calls[1].body)["password"], "s3cret");

  api.answers["GET /api/users/app"] = {200, R"({"name":"app","password_hash":"h","hashing_algorithm":"rabbit_password_hashing_sha256","tags":["monitoring"]})"};
  EXPECT_EQ(run_ctl(api, {"add_user", "app", "x"}).status, 65);  // already there
  api.calls.clear();
  EXPECT_EQ(run_ctl(api, {"set_user_tags", "app", "management", "policymaker"}).status, 0);
  json put = json::parse(api.calls.back().body);
  EXPECT_EQ(put["tags"], "management,policymaker");
  EXPECT_EQ(put["password_hash"], "h");  // the password stays
  EXPECT_EQ(run_ctl(api, {"change_password", "app", "new"}).status, 0);
  put = json::parse(api.calls.back().body);
  EXPECT_EQ(put["password"], "new");
  EXPECT_FALSE(put.contains("password_hash"));
  EXPECT_EQ(put["tags"], json::array({"monitoring"}));
}

TEST(Warrenctl, PermissionsPoliciesLimitsAndVhostsGoToTheirPaths) {
  FakeApi api;
  Options o{.vhost = "a/b"};
  EXPECT_EQ(run_ctl(api, {"set_permissions", "app", "^app\\.", ".*", ""}, o).status, 0);
  EXPECT_EQ(api.calls.back().path, "/api/permissions/a%2Fb/app");
  EXPECT_EQ(json::parse(api.calls.back().body), json::parse(R"({"configure":"^app\\.","write":".*","read":""})"));
  o.priority = "5";
  o.apply_to = "queues";
  EXPECT_EQ(run_ctl(api, {"set_policy", "ttl", "^q\\.", R"({"message-ttl": 60000})"}, o).status, 0);
  EXPECT_EQ(api.calls.back().path, "/api/policies/a%2Fb/ttl");
  EXPECT_EQ(json::parse(api.calls.back().body)["priority"], 5);
  EXPECT_EQ(json::parse(api.calls.back().body)["definition"]["message-ttl"], 60000);
  EXPECT_EQ(run_ctl(api, {"set_policy", "bad", ".*", "not json"}, o).status, 64);
  EXPECT_EQ(run_ctl(api, {"set_vhost_limits", R"({"max-connections": 10, "max-queues": -1})"}, o).status, 0);
  EXPECT_EQ(api.calls[api.calls.size() - 2].method, "PUT");
  EXPECT_EQ(api.calls[api.calls.size() - 2].path, "/api/vhost-limits/a%2Fb/max-connections");
  EXPECT_EQ(api.calls.back().method, "DELETE");  // a negative limit clears it
  EXPECT_EQ(run_ctl(api, {"delete_vhost", "a/b"}).status, 0);
  EXPECT_EQ(api.calls.back().path, "/api/vhosts/a%2Fb");
}

TEST(Warrenctl, CloseConnectionSendsTheReason) {
  FakeApi api;
  EXPECT_EQ(run_ctl(api, {"close_connection", "127.0.0.1:5000 -> 127.0.0.1:5672", "maintenance"}).status, 0);
  EXPECT_EQ(api.calls.back().method, "DELETE");
  EXPECT_EQ(api.calls.back().path, "/api/connections/127.0.0.1%3A5000%20-%3E%20127.0.0.1%3A5672");
  EXPECT_EQ(api.calls.back().reason, "maintenance");
}

TEST(Warrenctl, RefusalsAndOutagesHaveTheirExitCodes) {
  FakeApi api;
  api.answers["DELETE /api/users/guest"] = {401, R"({"error":"not_authorised","reason":"Not administrator user"})"};
  Outcome r = run_ctl(api, {"delete_user", "guest"});
  EXPECT_EQ(r.status, 65);
  EXPECT_NE(r.err.find("401 Not administrator user"), std::string::npos) << r.err;
  EXPECT_EQ(run_ctl(api, {"no_such_verb"}).status, 64);
  EXPECT_EQ(run_ctl(api, {"add_user", "only-a-name"}).status, 64);
  EXPECT_EQ(run_ctl(api, {}).status, 64);

  class Down : public Http {
    HttpResponse request(const std::string&, const std::string&, const std::string&, const std::string&) override {
      return {0, "", "Connection"};
    }
  } down;
  std::ostringstream out, err;
  EXPECT_EQ(run({"list_vhosts"}, {}, down, out, err), 69);
  EXPECT_NE(err.str().find("unreachable"), std::string::npos);
}

}  // namespace
}  // namespace warren::ctl

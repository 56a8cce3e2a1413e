// The management API: /api/policies (the core's policies, broker/policy.hpp,
// durable with the definitions), and the runtime parameters Warren does not
// have: operator policies, parameters, global parameters.
#include "mgmt/api_route.hpp"

#include <stdexcept>

#include "server/node.hpp"
#include "server/policy_json.hpp"

namespace warren::mgmt {

// GET /api/policies[/{vhost}[/{name}]], PUT and DELETE /api/policies/{vhost}/{name}.
// As RabbitMQ: policymakers and administrators only, within the vhosts they
// may use; a PUT answers 201 when it creates and 204 when it replaces; a
// policy RabbitMQ refuses is a 400 with its validation text.
Response Api::Route::policies() {
  if (s(0) != "policies") {
    if (is("GET")) {
      if (n() >= 3) not_found();
      return json_response(200, json::array());
    }
    fail(405, "method_not_allowed",
         fmt::format("/api/{} is not supported by Warren: it has no runtime parameters or operator policies "
                     "(policies are at /api/policies)",
                     s(0)));
  }
  if (!caller_.policymaker) not_authorised("User not authorised to access object");
  if (n() > 3) not_found();
  if (n() >= 2) need_vhost(s(1));
  if (n() == 3 && (is("PUT") || is("DELETE"))) {
    const std::string& vhost = s(1);
    const std::string& name = s(2);
    if (is("DELETE"))
      return change([&] {
        if (!api_.node_.clear_policy(vhost, name).empty()) not_found();
        return 204;
      });
    broker::Policy p;
    try {
      p = server::policy_from_json(name, body_json(req_.body));
    } catch (const std::invalid_argument& e) {
      bad_request(e.what());
    }
    return change([&] {
      bool existed = false;
      if (const broker::VHost* v = api_.node_.broker().vhost(vhost))
        for (const broker::Policy* q : v->policies().all()) existed |= q->name == name;
      if (std::string why = api_.node_.set_policy(vhost, std::move(p)); !why.empty()) bad_request(why);
      return existed ? 204 : 201;
    });
  }
  if (!is("GET")) method_not_allowed();
  json all = api_.on_loop([&] { return api_.node_.policies_json(n() >= 2 ? s(1) : ""); });
  json out = json::array();
  for (json& p : all)
    if (caller_.sees(p["vhost"].get<std::string>()) && (n() < 3 || p["name"] == s(2))) out.push_back(std::move(p));
  if (n() == 3) {
    if (out.empty()) not_found();
    return json_response(200, out[0]);
  }
  return list(std::move(out));
}

}  // namespace warren::mgmt

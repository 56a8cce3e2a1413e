// The management API: /api/exchanges (publish included) and /api/bindings.
#include "mgmt/api_route.hpp"

#include "server/node.hpp"

namespace warren::mgmt {

Response Api::Route::exchanges() {
  // /api/exchanges[/{vhost}[/{name}[/publish | /bindings/{source|destination}]]]
  if (n() >= 2) need_vhost(s(1));
  // The default exchange is "amq.default" in URLs.
  const std::string name = n() >= 3 ? (s(2) == "amq.default" ? "" : s(2)) : "";
  if (n() == 4 && s(3) == "publish") {
    if (!is("POST")) method_not_allowed();
    const json b = body_json(req_.body);
    const std::string key = text_of(b, "routing_key");
    std::string payload = text_of(b, "payload");
    const std::string enc = text_of(b, "payload_encoding", "string");
    if (enc == "base64") payload = base64_decode(payload);
    else if (enc != "string") bad_request("payload_encoding must be string or base64");
    broker::Properties props = properties_from_json(b.value("properties", json::object()));
    const bool routed = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      if (broker::Error e = broker::VHost::may_publish(&access, name)) core_error(e);
      auto msg = broker::Message::built(name, key, std::move(props),
                                        std::make_shared<const std::string>(std::move(payload)));
      broker::PublishResult r;
      if (broker::Error e = v->publish(name, msg, api_.loop_.now(), r)) core_error(e);
      return r.queues > 0 || r.replies > 0;
    });
    return json_response(200, {{"routed", routed}});
  }
  if (n() == 5 && s(3) == "bindings" && (s(4) == "source" || s(4) == "destination")) {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    w.exchanges = true;
    w.only = {s(1)};
    Snapshot snap = snapshot(w);
    if (std::none_of(snap.exchanges.begin(), snap.exchanges.end(), [&](const ExchangeInfo& x) { return x.name == name; }))
      not_found();
    json out = json::array();
    for (const BindingInfo& b : snap.bindings)
      if (s(4) == "source" ? b.source == name : (b.to_exchange && b.destination == name)) out.push_back(binding_json(b));
    return list(std::move(out));
  }
  if (n() > 3) not_found();
  if (n() == 3 && is("PUT")) {
    const json b = body_json(req_.body);
    broker::ExchangeDeclare d;
    d.name = name;
    d.type = text_of(b, "type");
    if (d.type.empty()) bad_request("type is required");
    d.durable = flag(b, "durable", true);
    d.auto_delete = flag(b, "auto_delete", false);
    d.internal = flag(b, "internal", false);
    d.arguments = table_from_json(b.value("arguments", json::object()));
    const bool created = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      d.access = &access;
      const bool existed = v->find_exchange(d.name) != nullptr;
      if (broker::Error e = v->declare_exchange(d)) core_error(e);
      return !existed;
    });
    return empty(created ? 201 : 204);
  }
  if (n() == 3 && is("DELETE")) {
    const bool if_unused = param("if-unused") == "true";
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_exchange(name)) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      if (broker::Error e = v->delete_exchange(name, if_unused, &access)) core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Want w;
  w.exchanges = true;
  scope(w);
  Snapshot snap = snapshot(w);
  json out = json::array();
  for (const ExchangeInfo& x : snap.exchanges) {
    if (!caller_.sees(x.vhost)) continue;
    if (n() == 3) {
      if (x.name == name) return json_response(200, exchange_json(x));
      continue;
    }
    out.push_back(exchange_json(x));
  }
  if (n() == 3) not_found();
  return list(std::move(out));
}


// ------------------------------------------------------------- bindings

Response Api::Route::bindings() {
  // /api/bindings[/{vhost}[/e/{source}/{q|e}/{dest}[/{props}]]]
  if (n() >= 2) need_vhost(s(1));
  if (n() == 2 || n() == 1) {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    scope(w);
    Snapshot snap = snapshot(w);
    json out = json::array();
    for (const BindingInfo& b : snap.bindings)
      if (caller_.sees(b.vhost)) out.push_back(binding_json(b));
    return list(std::move(out));
  }
  if ((n() != 6 && n() != 7) || s(2) != "e" || (s(4) != "q" && s(4) != "e")) not_found();
  const std::string& vhost = s(1);
  const std::string source = s(3) == "amq.default" ? "" : s(3);
  const std::string& dest = s(5);
  const bool to_exchange = s(4) == "e";
  if (n() == 6 && is("POST")) {
    const json b = body_json(req_.body);
    const std::string key = text_of(b, "routing_key");
    const broker::Table args = table_from_json(b.value("arguments", json::object()));
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(vhost);
      if (!v) not_found();
      if (!v->find_exchange(source) || (to_exchange ? !v->find_exchange(dest) : !v->find_queue(dest))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, vhost);
      broker::Error e = to_exchange ? v->bind_exchange(dest, source, key, args, &access)
                                    : v->bind_queue(dest, source, key, args, 0, &access);
      if (e) core_error(e);
    });
    Response r = empty(201);
    r.headers.emplace_back("Location", properties_key(key, args));
    return r;
  }
  // A listing between the two, or one binding by its properties key.
  Want w;
  w.bindings = true;
  w.only = {vhost};
  if (n() == 7 && is("DELETE")) {
    const std::string& props = s(6);
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(vhost);
      broker::ExchangePtr x = v ? v->find_exchange(source) : nullptr;
      if (!x) not_found();
      std::optional<broker::Binding> found;
      for (const broker::Binding& b : x->bindings())
        if (b.destination.name == dest && b.destination.is_exchange == to_exchange &&
            properties_key(b.key, b.arguments) == props)
          found = b;
      if (!found) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, vhost);
      broker::Error e = to_exchange ? v->unbind_exchange(dest, source, found->key, found->arguments, &access)
                                    : v->unbind_queue(dest, source, found->key, found->arguments, 0, &access);
      if (e) core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Snapshot snap = snapshot(w);
  json out = json::array();
  for (const BindingInfo& b : snap.bindings) {
    if (b.source != source || b.destination != dest || b.to_exchange != to_exchange) continue;
    if (n() == 7) {
      if (properties_key(b.routing_key, b.arguments) == s(6)) return json_response(200, binding_json(b));
      continue;
    }
    out.push_back(binding_json(b));
  }
  if (n() == 7) not_found();
  return list(std::move(out));
}

}  // namespace warren::mgmt

// The management API: /api/queues (get and purge included).
#include "mgmt/api_route.hpp"

#include "server/node.hpp"

namespace warren::mgmt {

Response Api::Route::queues() {
  // /api/queues[/{vhost}[/{name}[/get | /contents | /bindings]]]
  if (n() >= 2) need_vhost(s(1));
  if (n() == 4 && s(3) == "get") {
    if (!is("POST")) method_not_allowed();
    return queue_get(s(1), s(2));
  }
  if (n() == 4 && s(3) == "contents") {
    if (!is("DELETE")) method_not_allowed();
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_queue(s(2))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      uint64_t purged = 0;
      if (broker::Error e = v->purge_queue(s(2), 0, api_.loop_.now(), purged, &access)) core_error(e);
    });
    return empty(204);
  }
  if (n() == 4 && s(3) == "bindings") {
    if (!is("GET")) method_not_allowed();
    Want w;
    w.bindings = true;
    w.only = {s(1)};
    Snapshot snap = snapshot(w);
    json out = json::array();
    bool found = false;
    for (const BindingInfo& b : snap.bindings)
      if (!b.to_exchange && b.destination == s(2)) {
        found = true;
        out.push_back(binding_json(b));
      }
    if (!found) not_found();  // every queue has its default binding
    return list(std::move(out));
  }
  if (n() > 3) not_found();
  if (n() == 3 && is("PUT")) {
    const json b = body_json(req_.body);
    broker::QueueDeclare d;
    d.name = s(2);
    d.durable = flag(b, "durable", true);
    d.auto_delete = flag(b, "auto_delete", false);
    d.arguments = table_from_json(b.value("arguments", json::object()));
    // RabbitMQ 3.10 takes the type as a field too.
    if (std::string type = text_of(b, "type"); !type.empty() && !broker::find(d.arguments, "x-queue-type"))
      d.arguments.emplace_back("x-queue-type", broker::Value(type));
    const bool created = api_.on_loop([&]() -> bool {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      d.access = &access;
      const bool existed = v->find_queue(d.name) != nullptr;
      broker::QueueDeclareOk ok;
      if (broker::Error e = v->declare_queue(d, api_.loop_.now(), ok)) core_error(e);
      return !existed;
    });
    return empty(created ? 201 : 204);
  }
  if (n() == 3 && is("DELETE")) {
    const bool if_unused = param("if-unused") == "true", if_empty = param("if-empty") == "true";
    api_.on_loop([&] {
      broker::VHost* v = api_.node_.broker().vhost(s(1));
      if (!v || !v->find_queue(s(2))) not_found();
      auth::Access access(*api_.node_.directory(), caller_.name, s(1));
      uint64_t dropped = 0;
      if (broker::Error e = v->delete_queue(s(2), if_unused, if_empty, 0, api_.loop_.now(), dropped, &access))
        core_error(e);
    });
    return empty(204);
  }
  if (!is("GET")) method_not_allowed();
  Want w;
  w.queues = true;
  scope(w);
  Snapshot snap = snapshot(w);
  api_.rates_.prune(snap.taken_at);
  json out = json::array();
  std::string key;
  auto rates = [&](const QueueInfo& q) {
    key.assign(q.vhost).push_back('\0');
    key += q.name;
    return rates_of(key, snap.taken_at, counters_of(q.counts, nullptr, q.messages_ready, q.messages_unacknowledged));
  };
  // A page in the snapshot's order (the console's queues page): filtered by
  // name and cut to the page first, so that only its queues become JSON
  // (10,000 queues: 100 objects built, not 10,000).
  if (auto page = page_asked(); page && n() < 3 && param("sort").empty() && param("sort_reverse") != "true") {
    const auto [p, size] = *page;
    const std::string name = param("name");
    std::vector<const QueueInfo*> kept;
    for (const QueueInfo& q : snap.queues)
      if (name.empty() || q.name.find(name) != std::string::npos) kept.push_back(&q);
    const int64_t total = int64_t(kept.size());
    if (p > std::max<int64_t>(1, (total + size - 1) / size) && total > 0) bad_request("page out of range");
    for (int64_t i = (p - 1) * size; i < std::min(total, p * size); ++i)
      out.push_back(queue_json(*kept[size_t(i)], rates(*kept[size_t(i)])));
    apply_columns(out);
    return list_page(std::move(out), p, size, total, int64_t(snap.queues.size()));
  }
  // A plain listing is written straight out (write_queue_json): building
  // nlohmann objects for 10,000 queues costs more than the rest together.
  const bool plain = n() < 3 && query_.empty();
  Response fast;
  if (plain) fast.body.reserve(snap.queues.size() * 1400 + 2);
  if (plain) fast.body.push_back('[');
  for (const QueueInfo& q : snap.queues) {
    if (n() == 3 && q.name != s(2)) continue;
    const Rates r = rates(q);
    if (n() == 3) return json_response(200, queue_json(q, r));
    if (plain) {
      if (fast.body.size() > 1) fast.body.push_back(',');
      write_queue_json(fast.body, q, r);
      continue;
    }
    out.push_back(queue_json(q, r));
  }
  if (n() == 3) not_found();
  if (plain) {
    fast.body.push_back(']');
    return fast;
  }
  return list(std::move(out));
}

// POST /api/queues/{vhost}/{name}/get: {"count", "ackmode", "encoding", "truncate"}
Response Api::Route::queue_get(const std::string& vhost, const std::string& name) {
  const json b = body_json(req_.body);
  const int64_t count = b.value("count", int64_t(1));
  const std::string ackmode = text_of(b, "ackmode", "ack_requeue_true");
  const std::string encoding = text_of(b, "encoding", "auto");
  const int64_t truncate = b.contains("truncate") && b["truncate"].is_number_integer() ? b["truncate"].get<int64_t>() : -1;
  broker::Outcome outcome;
  if (ackmode == "ack_requeue_true" || ackmode == "reject_requeue_true") outcome = broker::Outcome::Released;
  else if (ackmode == "ack_requeue_false") outcome = broker::Outcome::Accepted;
  else if (ackmode == "reject_requeue_false") outcome = broker::Outcome::Rejected;
  else bad_request("ackmode must be ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false");
  if (encoding != "auto" && encoding != "base64") bad_request("encoding must be auto or base64");
  struct Got {
    broker::MessagePtr msg;
    bool redelivered;
    uint64_t remaining;
  };
  std::vector<Got> got = api_.on_loop([&] {
    broker::VHost* v = api_.node_.broker().vhost(vhost);
    broker::QueuePtr q = v ? v->find_queue(name) : nullptr;
    if (!q) not_found();
    auth::Access access(*api_.node_.directory(), caller_.name, vhost);
    if (broker::Error e = broker::VHost::may_consume(&access, name)) core_error(e);
    if (broker::Error e = q->check_get(false)) core_error(e);
    const TimePoint now = api_.loop_.now();
    std::vector<Got> out;
    std::vector<uint64_t> seqs;
    for (int64_t i = 0; i < count; ++i) {
      std::optional<broker::Delivery> d = q->get(false, now);
      if (!d) break;
      seqs.push_back(d->seq);
      out.push_back({d->message, d->redelivered, 0});
    }
    // Settled after taking them all, as RabbitMQ does: a requeued one is
    // not taken again by the same request.
    for (uint64_t seq : seqs) q->settle(seq, outcome, now);
    const uint64_t left = q->ready_count();
    for (size_t i = 0; i < out.size(); ++i) out[i].remaining = left + (outcome == broker::Outcome::Released ? out.size() - i - 1 : 0);
    return out;
  });
  json out = json::array();
  for (const Got& g : got) {
    const broker::Message& m = *g.msg;
    std::string payload(m.body_view());
    if (m.codec()) payload = *m.codec()->plain_body(m.body());
    const size_t bytes = payload.size();
    if (truncate >= 0 && payload.size() > size_t(truncate)) payload.resize(size_t(truncate));
    const bool as_text = encoding == "auto" && utf8(payload);
    out.push_back({{"payload_bytes", bytes},
                   {"redelivered", g.redelivered},
                   {"exchange", m.exchange()},
                   {"routing_key", m.routing_key()},
                   {"message_count", g.remaining},
                   {"properties", properties_json(m.properties())},
                   {"payload", as_text ? payload : base64_encode(payload)},
                   {"payload_encoding", as_text ? "string" : "base64"}});
  }
  return json_response(200, out);
}

}  // namespace warren::mgmt

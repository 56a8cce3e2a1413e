// Helpers of the management API's routes (api_route.hpp).
#include "mgmt/api_route.hpp"

namespace warren::mgmt {

Response json_response(int status, const json& j) {
  Response r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}
Response empty(int status) {
  Response r;
  r.status = status;
  return r;
}
Response error_response(const HttpError& e) {
  return json_response(e.status, json{{"error", e.error}, {"reason", e.reason}});
}

bool loopback_address(std::string_view a) {
  return a.starts_with("127.") || a == "::1" || a.starts_with("::ffff:127.");
}

bool utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((uint8_t(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}

json body_json(const std::string& body) {
  if (body.empty()) return json::object();
  try {
    json j = json::parse(body);
    if (!j.is_object()) bad_request("the body must be a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    bad_request(fmt::format("not JSON: {}", e.what()));
  }
}

bool flag(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return it->get<std::string>() == "true";
  bad_request(fmt::format("{} must be a boolean", key));
}

std::string text_of(const json& j, const char* key, std::string dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_string()) bad_request(fmt::format("{} must be a string", key));
  return it->get<std::string>();
}

[[noreturn]] void core_error(const broker::Error& e) {
  switch (e.code) {
    case broker::ErrorCode::AccessRefused: not_authorised(e.text());
    case broker::ErrorCode::NotFound: fail(404, "not_found", e.text());
    default: bad_request(e.text());
  }
}

const json& exchange_types() {
  static const json types = json::array({
    {{"name", "direct"}, {"description", "AMQP direct exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "fanout"}, {"description", "AMQP fanout exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "headers"}, {"description", "AMQP headers exchange, as per the AMQP specification"}, {"enabled", true}},
    {{"name", "topic"}, {"description", "AMQP topic exchange, as per the AMQP specification"}, {"enabled", true}},
  });
  return types;
}

static std::optional<uint8_t> small_int(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 255)
    bad_request(fmt::format("properties.{} must be an integer in 0..255", key));
  return uint8_t(it->get<int64_t>());
}

broker::Properties properties_from_json(const json& p) {
  if (p.is_null()) return {};
  if (!p.is_object()) bad_request("properties must be an object");
  broker::Properties out;
  auto str = [&](const char* key, std::optional<std::string>& into) {
    if (auto it = p.find(key); it != p.end() && !it->is_null()) {
      if (it->is_string()) into = it->get<std::string>();
      else if (it->is_number()) into = it->dump();
      else bad_request(fmt::format("properties.{} must be a string", key));
    }
  };
  str("content_type", out.content_type);
  str("content_encoding", out.content_encoding);
  str("correlation_id", out.correlation_id);
  str("reply_to", out.reply_to);
  str("expiration", out.expiration);
  str("message_id", out.message_id);
  str("type", out.type);
  str("user_id", out.user_id);
  str("app_id", out.app_id);
  str("cluster_id", out.cluster_id);
  out.delivery_mode = small_int(p, "delivery_mode");
  out.priority = small_int(p, "priority");
  if (auto it = p.find("timestamp"); it != p.end() && it->is_number_integer()) out.timestamp = it->get<uint64_t>();
  if (auto it = p.find("headers"); it != p.end() && !it->is_null()) out.headers = table_from_json(*it);
  return out;
}

json properties_json(const broker::Properties& p) {
  json o = json::object();
  auto put = [&](const char* key, const auto& v) {
    if (v) o[key] = *v;
  };
  put("content_type", p.content_type);
  put("content_encoding", p.content_encoding);
  put("delivery_mode", p.delivery_mode);
  put("priority", p.priority);
  put("correlation_id", p.correlation_id);
  put("reply_to", p.reply_to);
  put("expiration", p.expiration);
  put("message_id", p.message_id);
  put("timestamp", p.timestamp);
  put("type", p.type);
  put("user_id", p.user_id);
  put("app_id", p.app_id);
  put("cluster_id", p.cluster_id);
  if (p.headers) o["headers"] = to_json(*p.headers);
  return o;
}

const json* at_path(const json& j, std::string_view path) {
  const json* cur = &j;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

}  // namespace warren::mgmt

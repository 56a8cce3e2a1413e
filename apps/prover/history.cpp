#include "history.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <ostream>

namespace warren::prover {

namespace {
constexpr std::array<std::string_view, 4> kTypes = {"invoke", "ok", "fail", "info"};
constexpr std::array<std::string_view, 7> kFns = {"acquire", "release", "write", "fault", "heal", "enqueue", "dequeue"};
}  // namespace

std::string_view to_string(Type t) { return kTypes[size_t(t)]; }
std::string_view to_string(Fn f) { return kFns[size_t(f)]; }

std::optional<Type> parse_type(std::string_view s) {
  for (size_t i = 0; i < kTypes.size(); ++i)
    if (kTypes[i] == s) return Type(i);
  return std::nullopt;
}

std::optional<Fn> parse_fn(std::string_view s) {
  for (size_t i = 0; i < kFns.size(); ++i)
    if (kFns[i] == s) return Fn(i);
  return std::nullopt;
}

std::string to_json_line(const Op& op) {
  nlohmann::json j = {{"t", op.t_us}, {"p", op.process}, {"type", to_string(op.type)}, {"f", to_string(op.f)},
                      {"value", op.value}};
  if (!op.detail.empty()) j["detail"] = op.detail;
  if (op.permit) j["permit"] = op.permit;
  return j.dump();
}

std::optional<Op> from_json_line(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("t") || !j.contains("type") || !j.contains("f")) return std::nullopt;
  try {
    Op op;
    op.t_us = j.at("t").get<int64_t>();
    op.process = j.value("p", 0);
    auto type = parse_type(j.at("type").get<std::string>());
    auto f = parse_fn(j.at("f").get<std::string>());
    if (!type || !f) return std::nullopt;
    op.type = *type;
    op.f = *f;
    op.value = j.value("value", uint64_t(0));
    op.detail = j.value("detail", std::string());
    op.permit = j.value("permit", uint32_t(0));
    return op;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void write_history(std::ostream& out, const History& h) {
  for (const Op& op : h) out << to_json_line(op) << '\n';
}

}  // namespace warren::prover

#include "broker/value.hpp"

#include <fmt/format.h>

#include <cmath>

namespace warren::broker {

std::optional<int64_t> Value::as_int() const {
  if (const Int* i = std::get_if<Int>(&v)) return i->value;
  if (const Float* f = std::get_if<Float>(&v)) {
    double d = f->value;
    // Integral and inside int64's range (2^63 itself is not).
    if (std::isfinite(d) && d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

const Value* find(const Table& t, std::string_view key) {
  for (const auto& [k, v] : t)
    if (k == key) return &v;
  return nullptr;
}

void set(Table& t, std::string_view key, Value v) {
  for (auto& [k, old] : t)
    if (k == key) {
      old = std::move(v);
      return;
    }
  t.emplace_back(std::string(key), std::move(v));
}

bool erase(Table& t, std::string_view key) {
  for (auto it = t.begin(); it != t.end(); ++it)
    if (it->first == key) {
      t.erase(it);
      return true;
    }
  return false;
}

std::string_view type_name(const Value& v) {
  struct Visitor {
    std::string_view operator()(std::monostate) const { return "void"; }
    std::string_view operator()(bool) const { return "bool"; }
    std::string_view operator()(const Int& i) const {
      switch (i.kind) {
        case IntKind::I8: return "byte";
        case IntKind::U8: return "unsignedbyte";
        case IntKind::I16: return "short";
        case IntKind::U16: return "unsignedshort";
        case IntKind::I32: return "signedint";
        case IntKind::U32: return "unsignedint";
        case IntKind::I64:
        case IntKind::U64: return "long";
      }
      return "long";
    }
    std::string_view operator()(const Float& f) const { return f.single ? "float" : "double"; }
    std::string_view operator()(const Decimal&) const { return "decimal"; }
    std::string_view operator()(const std::string&) const { return "longstr"; }
    std::string_view operator()(const Binary&) const { return "binary"; }
    std::string_view operator()(const Timestamp&) const { return "timestamp"; }
    std::string_view operator()(const Array&) const { return "array"; }
    std::string_view operator()(const Table&) const { return "table"; }
  };
  return std::visit(Visitor{}, v.v);
}

std::string to_text(const Value& v) {
  if (const std::string* s = v.as_string()) return *s;
  if (const bool* b = v.as_bool()) return *b ? "true" : "false";
  if (const Int* i = std::get_if<Int>(&v.v)) {
    if (i->kind == IntKind::U64) return fmt::format("{}", static_cast<uint64_t>(i->value));
    return fmt::format("{}", i->value);
  }
  if (const Float* f = std::get_if<Float>(&v.v)) return fmt::format("{}", f->value);
  if (const Timestamp* t = std::get_if<Timestamp>(&v.v)) return fmt::format("{}", t->seconds);
  if (const Binary* b = std::get_if<Binary>(&v.v)) return b->bytes;
  if (const Decimal* d = std::get_if<Decimal>(&v.v)) return fmt::format("{}e-{}", d->value, d->scale);
  if (v.is_void()) return "undefined";
  return std::string(type_name(v));
}

}  // namespace warren::broker

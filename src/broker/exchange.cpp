#include "broker/exchange.hpp"

#include <algorithm>

namespace warren::broker {

std::optional<ExchangeType> parse_exchange_type(std::string_view s) {
  if (s == "direct") return ExchangeType::Direct;
  if (s == "fanout") return ExchangeType::Fanout;
  if (s == "topic") return ExchangeType::Topic;
  if (s == "headers") return ExchangeType::Headers;
  return std::nullopt;
}

std::string_view to_string(ExchangeType t) {
  switch (t) {
    case ExchangeType::Direct: return "direct";
    case ExchangeType::Fanout: return "fanout";
    case ExchangeType::Topic: return "topic";
    case ExchangeType::Headers: return "headers";
  }
  return "direct";
}

namespace {

// RabbitMQ's split: "" has no words; otherwise every '.' separates two
// words, which may be empty ("a..b" is a, "", b).
void split_words(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  if (s.empty()) return;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(s.substr(start));
      return;
    }
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

// Equality of a binding value and a header value as Erlang's == sees the
// untyped values: numbers by value whatever their width, text and bytes by
// content. Containers keep their element types, so they compare exactly.
bool loosely_equal(const Value& a, const Value& b) {
  auto number = [](const Value& v) -> std::optional<long double> {
    if (const Int* i = std::get_if<Int>(&v.v))
      return i->kind == IntKind::U64 ? (long double)(uint64_t)i->value : (long double)i->value;
    if (const Float* f = std::get_if<Float>(&v.v)) return (long double)f->value;
    if (const Timestamp* t = std::get_if<Timestamp>(&v.v)) return (long double)t->seconds;
    return std::nullopt;
  };
  auto bytes = [](const Value& v) -> const std::string* {
    if (const std::string* s = v.as_string()) return s;
    if (const Binary* bin = std::get_if<Binary>(&v.v)) return &bin->bytes;
    return nullptr;
  };
  if (auto x = number(a)) {
    auto y = number(b);
    return y && *x == *y;
  }
  if (const std::string* x = bytes(a)) {
    const std::string* y = bytes(b);
    return y && *x == *y;
  }
  return a == b;
}

}  // namespace

bool topic_matches(std::string_view pattern, std::string_view key) {
  thread_local std::vector<std::string_view> pw, kw;
  split_words(pattern, pw);
  split_words(key, kw);
  // Wildcard matching with one backtrack point: '#' is "any run of words",
  // '*' is "one word". The latest '#' absorbs one more word on a mismatch.
  size_t p = 0, k = 0;
  size_t hash_p = std::string_view::npos, hash_k = 0;
  while (k < kw.size()) {
    if (p < pw.size() && pw[p] == "#") {
      hash_p = p++;
      hash_k = k;
    } else if (p < pw.size() && (pw[p] == "*" || pw[p] == kw[k])) {
      ++p;
      ++k;
    } else if (hash_p != std::string_view::npos) {
      p = hash_p + 1;
      k = ++hash_k;
    } else {
      return false;
    }
  }
  while (p < pw.size() && pw[p] == "#") ++p;
  return p == pw.size();
}

// RabbitMQ's rules: "x-match" (all, any, all-with-x, any-with-x; all when
// absent or unknown) is never matched itself; other "x-" keys are ignored
// unless the mode ends in -with-x; a void binding value only asks for the
// header to be present.
bool headers_match(const Table& binding_args, const Table* headers) {
  bool any = false, with_x = false;
  if (const Value* m = find(binding_args, "x-match"); m && m->as_string()) {
    const std::string& s = *m->as_string();
    any = s == "any" || s == "any-with-x";
    with_x = s == "all-with-x" || s == "any-with-x";
  }
  bool all_matched = true, any_matched = false;
  for (const auto& [key, want] : binding_args) {
    if (key == "x-match") continue;
    if (!with_x && key.starts_with("x-")) continue;
    const Value* have = headers ? find(*headers, key) : nullptr;
    if (have && (want.is_void() || loosely_equal(want, *have))) {
      any_matched = true;
      if (any) return true;
    } else {
      all_matched = false;
      if (!any) return false;
    }
  }
  return any ? any_matched : all_matched;
}

Exchange::Exchange(Options opts) : opts_(std::move(opts)) {}

const std::string* Exchange::alternate_exchange() const {
  if (const Value* v = find(opts_.arguments, "alternate-exchange")) return v->as_string();
  return policy_alternate_ ? &*policy_alternate_ : nullptr;
}

bool Exchange::bind(Binding b) {
  if (std::find(bindings_.begin(), bindings_.end(), b) != bindings_.end()) return false;
  bindings_.push_back(std::move(b));
  if (opts_.type == ExchangeType::Direct) direct_.emplace(bindings_.back().key, bindings_.size() - 1);
  return true;
}

bool Exchange::unbind(const Binding& b) {
  auto it = std::find(bindings_.begin(), bindings_.end(), b);
  if (it == bindings_.end()) return false;
  bindings_.erase(it);
  reindex();
  return true;
}

bool Exchange::unbind_all(const Destination& d) {
  auto it = std::remove_if(bindings_.begin(), bindings_.end(), [&](const Binding& b) { return b.destination == d; });
  if (it == bindings_.end()) return false;
  bindings_.erase(it, bindings_.end());
  reindex();
  return true;
}

void Exchange::reindex() {
  direct_.clear();
  if (opts_.type != ExchangeType::Direct) return;
  for (size_t i = 0; i < bindings_.size(); ++i) direct_.emplace(bindings_[i].key, i);
}

void Exchange::route(const Message& msg, std::string_view key, std::vector<Destination>& out) const {
  switch (opts_.type) {
    case ExchangeType::Direct: {
      auto [first, last] = direct_.equal_range(key);
      for (auto it = first; it != last; ++it) out.push_back(bindings_[it->second].destination);
      return;
    }
    case ExchangeType::Fanout:
      for (const Binding& b : bindings_) out.push_back(b.destination);
      return;
    case ExchangeType::Topic:
      for (const Binding& b : bindings_)
        if (topic_matches(b.key, key)) out.push_back(b.destination);
      return;
    case ExchangeType::Headers: {
      if (bindings_.empty()) return;
      const auto& headers = msg.properties().headers;
      const Table* h = headers ? &*headers : nullptr;
      for (const Binding& b : bindings_)
        if (headers_match(b.arguments, h)) out.push_back(b.destination);
      return;
    }
  }
}

}  // namespace warren::broker

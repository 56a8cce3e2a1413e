#include "recipes/fence.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "recipes/recipe.hpp"

namespace warren::recipes {

uint64_t parse_counter(const std::string& body) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  return ec == std::errc() && end == body.data() + body.size() ? v : 0;
}

std::optional<uint64_t> Fence::next(amqp::Connection& c, const std::string& counter, Clock::time_point deadline) {
  for (int attempt = 0;; ++attempt) {
    if (!c.is_open(ch_)) {
      ch_ = c.open_channel();
      declared_.clear();
      if (amqp::Status s = c.confirm_select(ch_); !s.ok()) unexpected("confirm.select", s);
    }
    if (declared_.insert(counter).second) {
      amqp::DeclareOk ok = c.declare(ch_, counter, {.durable = true});
      if (!ok.status.ok()) unexpected("declare " + counter, ok.status);
    }
    std::vector<uint64_t> tags;
    uint64_t top = 0;
    for (;;) {
      amqp::Status s;
      std::optional<amqp::Delivery> d = c.get(ch_, counter, &s);
      if (!s.ok()) unexpected("get " + counter, s);
      if (!d) break;
      tags.push_back(d->tag);
      top = std::max(top, parse_counter(d->body));
      if (d->remaining == 0) break;  // saves the get-empty
    }
    if (!tags.empty()) {
      const uint64_t token = top + 1;
      const uint64_t seq = c.publish(ch_, counter, std::to_string(token), {.persistent = true});
      if (c.wait_confirm(ch_, seq) != amqp::Verdict::Acked) throw Error("fence: the counter " + counter + " was not confirmed");
      for (uint64_t tag : tags) c.ack(ch_, tag);
      return token;
    }
    if (!queue_exists(c, counter + ".seeded")) {
      seed(c, counter);
      continue;
    }
    if (!pause_before_retry(deadline, attempt)) return std::nullopt;
  }
}

void Fence::seed(amqp::Connection& c, const std::string& counter) {
  const uint64_t seq = c.publish(ch_, counter, "0", {.persistent = true});
  if (c.wait_confirm(ch_, seq) != amqp::Verdict::Acked) throw Error("fence: the seed of " + counter + " was not confirmed");
  amqp::DeclareOk ok = c.declare(ch_, counter + ".seeded", {.durable = true});
  if (!ok.status.ok()) unexpected("declare " + counter + ".seeded", ok.status);
}

}  // namespace warren::recipes

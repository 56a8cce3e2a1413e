#include "recipes/recipe.hpp"

#include <algorithm>
#include <random>
#include <thread>

namespace warren::recipes {

namespace {
constexpr std::chrono::seconds kConnectTimeout{10};
}

std::optional<Held> Recipe::acquire(std::chrono::milliseconds timeout) {
  if (held_) return held_;
  if (!conn_) {
    conn_ = std::make_unique<amqp::Connection>(ep_, kConnectTimeout);
    fence_.forget();
    forget();
  }
  try {
    const Clock::time_point deadline = Clock::now() + timeout;
    std::optional<Held> h = take(deadline);
    if (h && opts_.fence && !tokens_from_broker()) h = fenced(*h, deadline);
    held_ = h;
  } catch (const Error&) {
    lost();
    throw;
  }
  return held_;
}

bool Recipe::verify() {
  if (!held_ || !conn_) return false;
  bool held = false;
  try {
    held = still_held();
    if (!held) abandon();
  } catch (const Error&) {
    lost();
    throw;
  }
  if (!held) held_.reset();
  return held;
}

void Recipe::release() {
  if (!held_ || !conn_) return;
  try {
    let_go();
  } catch (const Error&) {
    lost();
    throw;
  }
  held_.reset();
}

void Recipe::disconnect() {
  if (conn_) conn_->drop();
  lost();
}

void Recipe::lost() {
  conn_.reset();
  held_.reset();
  fence_.forget();
  forget();
}

std::optional<Held> Recipe::fenced(Held h, Clock::time_point deadline) {
  const std::string counter = lock_ + ".fence" + (h.permit ? "." + std::to_string(h.permit) : std::string());
  std::optional<uint64_t> token = fence_.next(*conn_, counter, deadline);
  if (!token) {
    let_go();  // held, but no token in time: give it back
    return std::nullopt;
  }
  h.token = *token;
  return h;
}

bool pause_before_retry(Clock::time_point deadline, int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto now = Clock::now();
  if (now >= deadline) return false;
  const int base = std::min(100, 10 << std::min(attempt, 4));
  const auto step = std::chrono::milliseconds(base / 2 + int(rng() % unsigned(base / 2 + 1)));
  std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
  return true;
}

void close_quietly(amqp::Connection& c, uint16_t& ch) {
  if (ch) c.close_channel(ch);
  ch = 0;
}

bool queue_exists(amqp::Connection& c, const std::string& queue) {
  uint16_t ch = c.open_channel();
  amqp::DeclareOk ok = c.declare(ch, queue, {.passive = true});
  if (ok.status.ok()) {
    close_quietly(c, ch);
    return true;
  }
  if (ok.status.code != amqp::kNotFound) unexpected("declare " + queue, ok.status);
  return false;  // the 404 closed the channel
}

void unexpected(const std::string& what, const amqp::Status& s) {
  throw Error(what + ": " + std::to_string(s.code) + " " + s.text);
}

}  // namespace warren::recipes

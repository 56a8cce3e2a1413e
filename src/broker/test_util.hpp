#pragma once
// Shared helpers for the broker's unit tests: an injected clock, a consumer
// and a queue host that record what they are given, message builders.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/error.hpp"
#include "broker/message.hpp"
#include "broker/queue.hpp"
#include "broker/queue_op.hpp"
#include "broker/seeded_env.hpp"
#include "broker/vhost.hpp"

namespace warren::broker {

inline void PrintTo(const Error& e, std::ostream* os) { *os << "Error{" << int(e.code) << ", \"" << e.text() << "\"}"; }

namespace test {

using namespace std::chrono_literals;

inline const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

inline Body body(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

inline MessagePtr msg(std::string text, std::string routing_key = "k", Properties props = {},
                      std::string exchange = "") {
  return Message::built(std::move(exchange), std::move(routing_key), std::move(props), body(std::move(text)));
}

inline MessagePtr with_priority(std::string text, uint8_t priority) {
  Properties p;
  p.priority = priority;
  return msg(std::move(text), "k", p);
}

inline MessagePtr with_expiration(std::string text, std::string expiration) {
  Properties p;
  p.expiration = std::move(expiration);
  return msg(std::move(text), "k", p);
}

inline MessagePtr with_headers(std::string text, Table headers, std::string routing_key = "k") {
  Properties p;
  p.headers = std::move(headers);
  return msg(std::move(text), std::move(routing_key), p);
}

inline std::string text_of(const MessagePtr& m) { return m && m->body() ? *m->body() : std::string("<null>"); }

// A consumer with settable credit that records what it is handed. Each
// delivery uses one credit (like a 0-9-1 prefetch window) unless credit is
// unlimited (UINT32_MAX).
class FakeConsumer : public Consumer {
 public:
  explicit FakeConsumer(uint32_t credit = UINT32_MAX, bool no_ack = false) : credit_(credit), no_ack_(no_ack) {}

  uint32_t credit() const override { return credit_; }
  bool deliver(Delivery d) override {
    if (credit_ != UINT32_MAX && credit_ > 0) --credit_;
    got.push_back(d);
    if (on_deliver) on_deliver(got.back());
    return no_ack_;
  }
  void cancelled_by_queue() override { ++cancelled; }
  void active_changed(bool active) override { activity.push_back(active); }

  void set_credit(uint32_t c) { credit_ = c; }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const Delivery& d : got) out.push_back(text_of(d.message));
    return out;
  }

  std::vector<Delivery> got;
  int cancelled = 0;
  std::vector<bool> activity;
  std::function<void(const Delivery&)> on_deliver;

 private:
  uint32_t credit_;
  bool no_ack_;
};

// A consumer that settles what it is handed (no-ack, a pre-settled link),
// or, while `park` is set, keeps it unsent for later (a refusing 1.0 link).
class SettlingConsumer : public FakeConsumer {
 public:
  using FakeConsumer::FakeConsumer;
  bool settles_on_delivery() const override { return true; }
  bool deliver(Delivery d) override {
    FakeConsumer::deliver(std::move(d));
    return !park;
  }
  bool park = false;
};

// A queue host that records dead letters and unused reports.
class FakeHost : public QueueHost {
 public:
  Outbox& outbox() override { return outbox_; }
  struct Dead {
    MessagePtr msg;
    DeadReason why;
  };
  void dead_letter(Queue& from, MessagePtr m, DeadReason why, TimePoint now) override {
    dead.push_back({std::move(m), why});
    if (on_dead) on_dead();
  }
  void queue_unused(Queue& q) override { ++unused; }

  std::vector<std::string> dead_texts() const {
    std::vector<std::string> out;
    for (const Dead& d : dead) out.push_back(text_of(d.msg));
    return out;
  }

  std::vector<Dead> dead;
  int unused = 0;
  std::function<void()> on_dead;

 private:
  Outbox outbox_{*this};
};

// Keeps every op a queue applies, and applies each to `mirror` too when
// one is given: the mirror then follows the queue by its ops alone.
class OpRecorder : public QueueLog {
 public:
  explicit OpRecorder(Queue* mirror = nullptr) : mirror_(mirror) {}
  void record(const Queue& q, const QueueOp& op, const Message*) override {
    ops.push_back(op);
    if (mirror_) {
      EXPECT_TRUE(mirror_->replay(op)) << describe(op);
    }
  }
  // One line per op, e.g. "enqueue 1", "remove 3 acked", "requeue 2 count 1".
  static std::string describe(const QueueOp& op) {
    static constexpr const char* kWhy[] = {"consumed", "acked", "rejected", "expired", "maxlen"};
    return std::visit(
        [](const auto& o) -> std::string {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, ops::Enqueue>) return "enqueue " + std::to_string(o.seq);
          if constexpr (std::is_same_v<T, ops::Acquire>) return "acquire " + std::to_string(o.seq);
          if constexpr (std::is_same_v<T, ops::Remove>)
            return "remove " + std::to_string(o.seq) + " " + kWhy[size_t(o.why)];
          if constexpr (std::is_same_v<T, ops::Requeue>)
            return "requeue " + std::to_string(o.seq) + " count " + std::to_string(o.delivery_count);
          if constexpr (std::is_same_v<T, ops::Park>) return "park " + std::to_string(o.entry.seq);
          if constexpr (std::is_same_v<T, ops::Purge>) return "purge";
          if constexpr (std::is_same_v<T, ops::Close>) return "close";
        },
        op);
  }
  // The ops recorded since the last call, described.
  std::vector<std::string> take() {
    std::vector<std::string> out;
    for (size_t i = taken_; i < ops.size(); ++i) out.push_back(describe(ops[i]));
    taken_ = ops.size();
    return out;
  }

  std::vector<QueueOp> ops;

 private:
  Queue* mirror_;
  size_t taken_ = 0;
};

// A queue named "q" in vhost "/" with `args` (which must parse).
inline QueuePtr make_queue(QueueHost& host, Table args = {}, bool auto_delete = false, TimePoint now = t0) {
  Error err;
  QueueArgs parsed = QueueArgs::parse(args, err, "q");
  EXPECT_FALSE(err) << err.text();
  return std::make_shared<Queue>(Queue::Options{"q", "/", false, auto_delete, 0, std::move(args), parsed}, host, now);
}

// Takes every ready message with basic.get (no-ack) and returns their texts.
inline std::vector<std::string> drain(Queue& q, TimePoint now = t0) {
  std::vector<std::string> out;
  while (auto d = q.get(true, now)) out.push_back(text_of(d->message));
  return out;
}

using Texts = std::vector<std::string>;

// A vhost "/" at t0 on a seeded Env (fixed wall clock), and short ways to
// drive it.
class VHostTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kWallClock = 1700000000;
  static constexpr ConnectionId kConn = 1, kOther = 2;

  Error declare_exchange(std::string name, std::string type = "direct", Table args = {}, bool auto_delete = false,
                         bool internal = false, bool durable = false) {
    ExchangeDeclare d{std::move(name), std::move(type), false, durable, auto_delete, internal, std::move(args)};
    return v.declare_exchange(d);
  }
  Error declare_queue(std::string name, Table args = {}, bool exclusive = false, bool auto_delete = false,
                      ConnectionId owner = kConn, bool durable = false, QueueDeclareOk* ok = nullptr) {
    QueueDeclare d{std::move(name), false, durable, exclusive, auto_delete, std::move(args), owner};
    QueueDeclareOk local;
    return v.declare_queue(d, now, ok ? *ok : local);
  }
  Error bind(std::string queue, std::string exchange, std::string key = "", Table args = {}) {
    return v.bind_queue(queue, exchange, key, args, kConn);
  }
  PublishResult publish(std::string exchange, std::string key, std::string text = "m", Properties props = {}) {
    PublishResult r;
    Error e = v.publish(exchange, msg(std::move(text), std::move(key), std::move(props), exchange), now, r);
    EXPECT_FALSE(e) << e.text();
    return r;
  }
  Texts take(std::string_view queue) {
    QueuePtr q = v.find_queue(queue);
    if (!q) return {"<no queue>"};
    return drain(*q, now);
  }

  TimePoint now = t0;
  SeededEnv env{/*seed=*/1, kWallClock};
  VHost v{"/", env, t0};
};

}  // namespace test

inline void PrintTo(const QueueEntry& e, std::ostream* os) {
  *os << "{" << e.seq << " " << test::text_of(e.msg) << (e.redelivered ? " redelivered" : "") << " count "
      << e.delivery_count;
  if (e.expires != QueueEntry::kNever) *os << " expires t0+" << (e.expires - test::t0).count() << "ns";
  *os << "}";
}

}  // namespace warren::broker

#pragma once
// What the AMQP 1.0 link tests share (link_publish_test.cpp,
// link_consume_test.cpp, link_address_test.cpp): a broker with its default
// vhost, queues declared and filled on it, peers that publish to or consume
// from an address, and the outcomes' descriptor codes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "amqp10/engine_test_util.hpp"

namespace warren::amqp10::test {

class LinkTest : public ::testing::Test {
 protected:
  broker::SeededEnv env;
  broker::Broker broker{env, start_time()};
  ServerOptions opts;
  broker::VHost& vh() { return *broker.vhost("/"); }
  broker::QueuePtr declare(const std::string& q, broker::Table args = {}) {
    broker::QueueDeclare d;
    d.name = q;
    d.arguments = std::move(args);
    broker::QueueDeclareOk ok;
    EXPECT_FALSE(vh().declare_queue(d, start_time(), ok));
    return vh().find_queue(q);
  }
  void put(const std::string& q, std::string body) {
    broker::PublishResult r;
    auto m = broker::Message::built("", q, {}, std::make_shared<const std::string>(std::move(body)));
    ASSERT_FALSE(vh().publish("", m, start_time(), r));
  }
  // Opened, begun, receiving from `address` on handle 1.
  std::unique_ptr<Peer> consumer(const std::string& address, uint8_t snd = sender_settle_mode::kUnsettled,
                                 uint8_t rcv = receiver_settle_mode::kFirst, uint64_t id = 1) {
    auto p = std::make_unique<Peer>(broker, opts, id);
    p->open();
    p->begin();
    p->attach_receiver(1, address, snd, rcv);
    auto got = p->take();
    EXPECT_EQ(got.size(), 1u) << names(got);
    return p;
  }
  std::unique_ptr<Peer> publisher(const std::string& address, uint64_t id = 2) {
    auto p = std::make_unique<Peer>(broker, opts, id);
    p->open();
    p->begin();
    p->attach_sender(1, address);
    p->take();
    return p;
  }
  static Value state_value(uint64_t code) {
    if (code == Accepted::kCode) return Accepted{}.to_value();
    if (code == Released::kCode) return Released{}.to_value();
    return Rejected{}.to_value();
  }
  static uint64_t code_of(const std::optional<Value>& v) { return v && v->is_described() ? v->descriptor_code() : 0; }
};

}  // namespace warren::amqp10::test

// Messages: lazy property decoding, derived copies, expiration parsing.
#include "broker/message.hpp"

#include <gtest/gtest.h>

#include "broker/error.hpp"
#include "broker/memory.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

// A codec for the test format "content-type|expiration".
class CountingCodec : public PropertyCodec {
 public:
  Properties decode(std::string_view raw) const override {
    ++calls;
    Properties p;
    auto bar = raw.find('|');
    p.content_type = std::string(raw.substr(0, bar));
    if (bar != std::string_view::npos) p.expiration = std::string(raw.substr(bar + 1));
    return p;
  }
  mutable int calls = 0;
};

TEST(Message, ReceivedDecodesItsPropertiesOnceAndOnlyWhenAsked) {
  CountingCodec codec;
  Message::Essentials e{true, 3, Duration(500)};
  MessagePtr m = Message::received("x", "rk", &codec, "text/plain|500", e, body("hello"));
  EXPECT_EQ(codec.calls, 0);
  EXPECT_EQ(m->exchange(), "x");
  EXPECT_EQ(m->routing_key(), "rk");
  EXPECT_EQ(m->raw_properties(), "text/plain|500");
  EXPECT_EQ(m->codec(), &codec);
  EXPECT_TRUE(m->persistent());
  EXPECT_EQ(m->priority(), 3);
  EXPECT_EQ(m->ttl(), Duration(500));
  EXPECT_EQ(m->size(), 5u);
  EXPECT_EQ(codec.calls, 0);
  EXPECT_EQ(m->properties().content_type, "text/plain");
  EXPECT_EQ(m->properties().expiration, "500");
  EXPECT_EQ(codec.calls, 1);
}

TEST(Message, WithoutCodecOrPropertiesTheyAreEmpty) {
  MessagePtr m = Message::received("", "q", nullptr, "", {}, nullptr);
  EXPECT_EQ(m->properties(), Properties{});
  EXPECT_EQ(m->body_size(), 0u);
  EXPECT_EQ(m->size(), 0u);
}

TEST(Message, BuiltTakesItsEssentialsFromTheProperties) {
  Properties p;
  p.delivery_mode = 2;
  p.priority = 7;
  p.expiration = "1500";
  MessagePtr m = Message::built("x", "k", p, body("abc"));
  EXPECT_TRUE(m->persistent());
  EXPECT_EQ(m->priority(), 7);
  EXPECT_EQ(m->ttl(), Duration(1500));
  EXPECT_EQ(m->codec(), nullptr);
  EXPECT_EQ(m->properties(), p);
  MessagePtr plain = Message::built("x", "k", {}, body("abc"));
  EXPECT_FALSE(plain->persistent());
  EXPECT_EQ(plain->priority(), 0);
  EXPECT_EQ(plain->ttl(), std::nullopt);
}

TEST(Message, WithSharesTheBodyAndReplacesPropertiesAndRouting) {
  CountingCodec codec;
  MessagePtr m = Message::received("x", "rk", &codec, "a|100", Message::Essentials{true, 1, Duration(100)}, body("B"));
  Properties p = m->properties();
  p.expiration.reset();
  p.delivery_mode.reset();  // properties() filled it in from the essentials
  p.priority = 4;
  MessagePtr copy = m->with(p, "dlx", "other");
  EXPECT_EQ(copy->body_view(), "B");
  EXPECT_EQ(copy->exchange(), "dlx");
  EXPECT_EQ(copy->routing_key(), "other");
  EXPECT_EQ(copy->codec(), nullptr);
  EXPECT_EQ(copy->properties(), p);
  EXPECT_EQ(copy->ttl(), std::nullopt);
  EXPECT_EQ(copy->priority(), 4);
  EXPECT_FALSE(copy->persistent());  // from the properties, which have no delivery mode
  EXPECT_EQ(m->exchange(), "x");     // the original is untouched
  EXPECT_EQ(m->ttl(), Duration(100));
}

TEST(Message, KeepsSmallBodiesInlineAndSharesLargeOnes) {
  const std::string small(Message::kInlineBody, 's'), large(Message::kInlineBody + 1, 'L');
  Body small_body = body(small), large_body = body(large);
  MessagePtr a = Message::received("ex", "key", nullptr, "raw", {}, small_body);
  MessagePtr b = Message::received("ex", "key", nullptr, "raw", {}, large_body);
  for (const MessagePtr& m : {a, b}) {  // the names sit beside either kind of body
    EXPECT_EQ(m->exchange(), "ex");
    EXPECT_EQ(m->routing_key(), "key");
    EXPECT_EQ(m->raw_properties(), "raw");
  }
  EXPECT_EQ(a->body_view(), small);
  EXPECT_EQ(a->body_size(), small.size());
  EXPECT_NE(a->body().get(), small_body.get());  // a copy of the inline bytes
  EXPECT_EQ(*a->body(), small);
  EXPECT_EQ(b->body().get(), large_body.get());  // by reference
  EXPECT_EQ(b->body_view().data(), large_body->data());
  EXPECT_EQ(b->body_size(), large.size());
  // Derived copies share a large body too.
  EXPECT_EQ(b->with({}, "dlx", "k")->body().get(), large_body.get());
  EXPECT_EQ(b->with({}, "dlx", "k", {"bcc"})->body().get(), large_body.get());
}

TEST(Message, NoBodyStaysNoBodyAndAnEmptyOneStaysEmpty) {
  MessagePtr none = Message::received("", "q", nullptr, "", {}, nullptr);
  MessagePtr empty = Message::received("", "q", nullptr, "", {}, body(""));
  EXPECT_EQ(none->body(), nullptr);
  ASSERT_NE(empty->body(), nullptr);
  EXPECT_EQ(*empty->body(), "");
  EXPECT_EQ(empty->body_view(), "");
}

TEST(Message, ReceivedBytesAreCopiedInlineOrIntoOneSharedString) {
  std::string buffer = "small body";
  MessagePtr small = Message::received_bytes("x", "k", nullptr, "", {}, buffer);
  buffer.assign("reused");  // the caller's buffer is free again at once
  EXPECT_EQ(small->body_view(), "small body");
  EXPECT_EQ(small->body_size(), 10u);
  const std::string large(Message::kInlineBody + 1, 'L');
  MessagePtr big = Message::received_bytes("x", "k", nullptr, "", {}, large);
  EXPECT_NE(big->body_view().data(), large.data());
  EXPECT_EQ(big->body_view(), large);
  EXPECT_EQ(big->body().get(), big->body().get());  // kept shared, not copied per call
  MessagePtr empty = Message::received_bytes("x", "k", nullptr, "", {}, "");
  ASSERT_NE(empty->body(), nullptr);
  EXPECT_EQ(empty->body_view(), "");
}

TEST(Message, LongNamesAndPropertiesRoundTrip) {
  const std::string ex(300, 'e'), key(1000, 'k'), raw(70000, 'r');
  MessagePtr m = Message::received(ex, key, nullptr, raw, {false, 0, Duration(4294967295), true}, body("x"));
  EXPECT_EQ(m->exchange(), ex);
  EXPECT_EQ(m->routing_key(), key);
  EXPECT_EQ(m->raw_properties(), raw);
  EXPECT_EQ(m->body_view(), "x");
  EXPECT_EQ(m->ttl(), Duration(4294967295));
  EXPECT_TRUE(m->sender_selected());
  EXPECT_TRUE(m->bcc_keys().empty());
}

TEST(Message, WithKeepsBccKeysAndMarksItSenderSelected) {
  MessagePtr m = Message::built("x", "k", {}, body("b"));
  EXPECT_FALSE(m->sender_selected());
  MessagePtr c = m->with({}, "x", "k", {"one", "two"});
  EXPECT_TRUE(c->sender_selected());
  EXPECT_EQ(c->bcc_keys(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(c->body_view(), "b");
}

TEST(Message, EssentialsOf) {
  Properties p;
  EXPECT_FALSE(essentials_of(p).persistent);
  p.delivery_mode = 1;
  EXPECT_FALSE(essentials_of(p).persistent);
  p.delivery_mode = 2;
  p.priority = 9;
  p.expiration = "junk";
  auto e = essentials_of(p);
  EXPECT_TRUE(e.persistent);
  EXPECT_EQ(e.priority, 9);
  EXPECT_EQ(e.ttl, std::nullopt);
}

TEST(Message, ParseExpirationAcceptsWhatRabbitMQAccepts) {
  EXPECT_EQ(parse_expiration("0"), Duration(0));
  EXPECT_EQ(parse_expiration("60000"), Duration(60000));
  EXPECT_EQ(parse_expiration("007"), Duration(7));
  EXPECT_EQ(parse_expiration("+5"), Duration(5));
  EXPECT_EQ(parse_expiration("-0"), Duration(0));
  EXPECT_EQ(parse_expiration("4294967295"), Duration(4294967295));
  EXPECT_EQ(parse_expiration("4294967296"), std::nullopt);
  EXPECT_EQ(parse_expiration("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_expiration("-1"), std::nullopt);
  EXPECT_EQ(parse_expiration(""), std::nullopt);
  EXPECT_EQ(parse_expiration("+"), std::nullopt);
  EXPECT_EQ(parse_expiration("abc"), std::nullopt);
  EXPECT_EQ(parse_expiration("12a"), std::nullopt);
  EXPECT_EQ(parse_expiration(" 5"), std::nullopt);
  EXPECT_EQ(parse_expiration("1.5"), std::nullopt);
}

TEST(Error, MakeAndResourceUseRabbitMQsWording) {
  Error e = Error::make(ErrorCode::NotFound, "no " + resource("queue", "q", "/"));
  EXPECT_TRUE(e);
  EXPECT_EQ(e.code, ErrorCode::NotFound);
  EXPECT_EQ(e.text(), "NOT_FOUND - no queue 'q' in vhost '/'");
  EXPECT_FALSE(Error::none());
  EXPECT_EQ(reply_name(ErrorCode::CommandInvalid), "COMMAND_INVALID");
  EXPECT_EQ(uint16_t(ErrorCode::CommandInvalid), 503);
  EXPECT_EQ(reply_name(ErrorCode::ResourceLocked), "RESOURCE_LOCKED");
  EXPECT_EQ(reply_name(ErrorCode::PreconditionFailed), "PRECONDITION_FAILED");
  EXPECT_EQ(reply_name(ErrorCode::AccessRefused), "ACCESS_REFUSED");
}

}  // namespace
}  // namespace warren::broker

TEST(MemoryAccount, CountsLiveMessageBodies) {
  int64_t before = warren::broker::MemoryAccount::used();
  {
    auto body = std::make_shared<const std::string>(1000, 'x');
    auto m = warren::broker::Message::built("", "k", {}, body);
    EXPECT_EQ(warren::broker::MemoryAccount::used(), before + 1000);
  }
  EXPECT_EQ(warren::broker::MemoryAccount::used(), before);
}

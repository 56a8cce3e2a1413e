#pragma once
// A published message: immutable once routed, shared by reference by every
// queue it lands in (no copy per queue). Its properties stay in the bytes
// the publishing front end received until someone needs them decoded, so a
// consumer on the same protocol gets them back verbatim.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/value.hpp"

namespace warren::broker {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

// The protocol-neutral message properties (AMQP 0-9-1 basic properties;
// the AMQP 1.0 front end maps its header and properties sections onto them).
struct Properties {
  std::optional<std::string> content_type, content_encoding;
  std::optional<Table> headers;
  std::optional<uint8_t> delivery_mode;  // 2: persistent
  std::optional<uint8_t> priority;
  std::optional<std::string> correlation_id, reply_to;
  std::optional<std::string> expiration;  // per-message TTL in ms, as text (0-9-1)
  std::optional<std::string> message_id;
  std::optional<uint64_t> timestamp;
  std::optional<std::string> type, user_id, app_id, cluster_id;
  bool operator==(const Properties&) const = default;
};

// Decodes the raw property bytes of one front end's wire format. The core
// never looks inside raw bytes itself.
class PropertyCodec {
 public:
  virtual ~PropertyCodec() = default;
  virtual Properties decode(std::string_view raw) const = 0;
  // The body as plain bytes for a consumer on another protocol (AMQP 1.0
  // stores its body sections as received).
  virtual std::shared_ptr<const std::string> plain_body(const std::shared_ptr<const std::string>& stored) const {
    return stored;
  }
};

using Body = std::shared_ptr<const std::string>;

class Message;
using MessagePtr = std::shared_ptr<const Message>;

class Message {
 public:
  // What a front end knows at publish time, cheaply.
  struct Essentials {
    bool persistent = false;
    uint8_t priority = 0;
    std::optional<Duration> ttl;  // from the per-message expiration
    // Its headers have a "CC" or "BCC" entry (sender-selected distribution):
    // the core then decodes them to route with those keys too. Publishes
    // without it never have their properties decoded for routing.
    bool sender_selected = false;
  };

  // A message as a front end received it: raw properties in its own format.
  static MessagePtr received(std::string exchange, std::string routing_key, const PropertyCodec* codec,
                             std::string raw_properties, Essentials essentials, Body body);
  // A message built or changed by the core (dead-lettering): decoded properties.
  static MessagePtr built(std::string exchange, std::string routing_key, Properties props, Body body);

  const std::string& exchange() const { return exchange_; }
  const std::string& routing_key() const { return routing_key_; }
  const Body& body() const { return body_; }
  size_t body_size() const { return body_ ? body_->size() : 0; }
  // Bytes counted against x-max-length-bytes (the body, as RabbitMQ does).
  size_t size() const { return body_size(); }

  bool persistent() const { return essentials_.persistent; }
  uint8_t priority() const { return essentials_.priority; }
  std::optional<Duration> ttl() const { return essentials_.ttl; }
  bool sender_selected() const { return essentials_.sender_selected; }

  // The raw bytes and their codec, when the message still has them.
  const PropertyCodec* codec() const { return codec_; }
  const std::string& raw_properties() const { return raw_; }
  // Decoded on first use. The core is single-threaded per message owner.
  const Properties& properties() const;

  // A copy sharing the body, with other properties and routing (for
  // dead-lettering, which adds x-death and may change the routing key).
  MessagePtr with(Properties props, std::string exchange, std::string routing_key) const;
  // The same, keeping `bcc_keys` as routing keys that are not in the headers.
  MessagePtr with(Properties props, std::string exchange, std::string routing_key,
                  std::vector<std::string> bcc_keys) const;

  // The keys of a "BCC" header the core removed before routing. They stay
  // the message's routing keys, as in RabbitMQ: dead-lettering lists them
  // in x-death and routes with them again.
  const std::vector<std::string>& bcc_keys() const { return bcc_keys_; }

 private:
  Message() = default;
  static std::shared_ptr<Message> build(std::string exchange, std::string routing_key, Properties props, Body body);

 public:
  ~Message();

 private:
  std::string exchange_, routing_key_;
  const PropertyCodec* codec_ = nullptr;
  std::string raw_;
  Essentials essentials_;
  Body body_;
  std::vector<std::string> bcc_keys_;
  // Rarely filled (the 0-9-1 path never decodes): a pointer, not 456 B inline.
  mutable std::unique_ptr<Properties> decoded_;
};

// Essentials from decoded properties (for messages the core builds).
Message::Essentials essentials_of(const Properties& p);
// "60000" -> 60 s; anything else (negative, not a number, above RabbitMQ's
// limit of 2^32-1 ms) -> nothing.
std::optional<Duration> parse_expiration(std::string_view text);

}  // namespace warren::broker

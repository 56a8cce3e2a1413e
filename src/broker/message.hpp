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
#include "common/time.hpp"

namespace warren::broker {

// RabbitMQ's ?MAX_EXPIRY_TIMER: per-message and queue TTLs above it are refused.
inline constexpr uint64_t kMaxExpiry = 4294967295;

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
  // Its number in stored messages (docs/storage.md): the store keeps raw
  // properties as they are, tagged with it. Never reuse one. 0: the store
  // decodes the properties and writes them in its own encoding.
  virtual uint8_t store_id() const { return 0; }
  // The body as plain bytes for a consumer on another protocol (AMQP 1.0
  // stores its body sections as received).
  virtual std::shared_ptr<const std::string> plain_body(const std::shared_ptr<const std::string>& stored) const {
    return stored;
  }
};

using Body = std::shared_ptr<const std::string>;

class Message;
using MessagePtr = std::shared_ptr<const Message>;

// Millions of these wait in queues, so a message is one allocation: the
// shared_ptr control block, the fields below, then its exchange, routing
// key, raw properties and (up to kInlineBody bytes) body side by side. A
// larger body stays a shared string, kept there instead, so front ends can
// write it by reference.
class Message {
 public:
  static constexpr size_t kInlineBody = 256;

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
  static MessagePtr received(std::string_view exchange, std::string_view routing_key, const PropertyCodec* codec,
                             std::string_view raw_properties, Essentials essentials, Body body);
  // The same with the body's bytes in the caller's buffer: copied once, into
  // the message when small (a large one becomes a shared string). Its own
  // name: received(..., nullptr) would be ambiguous with an overload.
  static MessagePtr received_bytes(std::string_view exchange, std::string_view routing_key,
                                   const PropertyCodec* codec, std::string_view raw_properties,
                                   Essentials essentials, std::string_view body);
  // A message built or changed by the core (dead-lettering): decoded properties.
  static MessagePtr built(std::string_view exchange, std::string_view routing_key, Properties props, Body body);

  std::string_view exchange() const { return {trailer() + body_offset(), exchange_size_}; }
  std::string_view routing_key() const { return {trailer() + body_offset() + exchange_size_, routing_key_size_}; }
  // The body's bytes, wherever they are kept.
  std::string_view body_view() const;
  // The body as a shared string: the stored one when large; a copy of an
  // inline one (front ends copy small bodies from body_view() instead).
  Body body() const;
  size_t body_size() const { return flags_ & kSharedBody ? (*shared_body())->size() : body_size_; }
  // Bytes counted against x-max-length-bytes (the body, as RabbitMQ does).
  size_t size() const { return body_size(); }

  bool persistent() const { return flags_ & kPersistent; }
  uint8_t priority() const { return priority_; }
  std::optional<Duration> ttl() const { return flags_ & kHasTtl ? std::optional(Duration(ttl_ms_)) : std::nullopt; }
  bool sender_selected() const { return flags_ & kSenderSelected; }

  // The raw bytes and their codec, when the message still has them.
  const PropertyCodec* codec() const { return codec_; }
  std::string_view raw_properties() const {
    return {trailer() + body_offset() + exchange_size_ + routing_key_size_, raw_size_};
  }
  // Decoded on first use. The core is single-threaded per message owner.
  const Properties& properties() const;

  // A copy sharing the body, with other properties and routing (for
  // dead-lettering, which adds x-death and may change the routing key).
  MessagePtr with(Properties props, std::string_view exchange, std::string_view routing_key) const;
  // The same, keeping `bcc_keys` as routing keys that are not in the headers.
  MessagePtr with(Properties props, std::string_view exchange, std::string_view routing_key,
                  std::vector<std::string> bcc_keys) const;

  // The keys of a "BCC" header the core removed before routing. They stay
  // the message's routing keys, as in RabbitMQ: dead-lettering lists them
  // in x-death and routes with them again.
  const std::vector<std::string>& bcc_keys() const;

  // Where a store logged it: its log segment and offset there (0, 0: not
  // logged). Set once, by the store, on the core's thread; a message
  // routed to several durable queues is logged once.
  struct Stored {
    uint32_t segment = 0;
    uint32_t offset = 0;
    explicit operator bool() const { return segment != 0; }
    bool operator==(const Stored&) const = default;
  };
  Stored stored() const { return stored_; }
  void set_stored(Stored s) const { stored_ = s; }

  // Only make() creates messages (the key keeps others out; allocate_shared
  // needs a public constructor).
  struct Key {
   private:
    friend class Message;
    Key() = default;
  };
  explicit Message(Key) {}
  ~Message();
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

 private:
  // What few messages need: decoded properties, BCC keys.
  struct Cold {
    std::optional<Properties> decoded;
    std::vector<std::string> bcc_keys;
  };
  enum Flag : uint8_t { kPersistent = 1, kHasTtl = 2, kSenderSelected = 4, kHasBody = 8, kSharedBody = 16 };

  // `bytes` is the body (*shared's when shared is set); `has_body` false: none.
  static std::shared_ptr<Message> make(std::string_view exchange, std::string_view routing_key,
                                       const PropertyCodec* codec, std::string_view raw, Essentials e, Body shared,
                                       std::string_view bytes, bool has_body);
  // The bytes after the object, in the same allocation.
  const char* trailer() const { return reinterpret_cast<const char*>(this) + sizeof(Message); }
  char* trailer() { return reinterpret_cast<char*>(this) + sizeof(Message); }
  // A shared body's pointer sits first in the trailer (aligned), then the names.
  size_t body_offset() const { return flags_ & kSharedBody ? sizeof(Body) : 0; }
  const Body* shared_body() const { return reinterpret_cast<const Body*>(trailer()); }
  Cold& cold() const;

  const PropertyCodec* codec_ = nullptr;
  mutable std::unique_ptr<Cold> cold_;
  uint32_t ttl_ms_ = 0;
  uint32_t exchange_size_ = 0, routing_key_size_ = 0, raw_size_ = 0, body_size_ = 0;
  mutable Stored stored_;
  uint8_t priority_ = 0;
  uint8_t flags_ = 0;
};

// Essentials from decoded properties (for messages the core builds).
Message::Essentials essentials_of(const Properties& p);
// "60000" -> 60 s; anything else (negative, not a number, above RabbitMQ's
// limit of 2^32-1 ms) -> nothing.
std::optional<Duration> parse_expiration(std::string_view text);

}  // namespace warren::broker

#pragma once
// Between AMQP 1.0 messages and the broker core's neutral ones.
//
// A message published over 1.0 is stored as received: its raw properties
// are the message-annotations, properties and application-properties
// sections, its body the body sections. The PropertyCodec decodes the raw
// sections to broker::Properties for consumers on 0-9-1 (and the core's
// headers exchange, dead-lettering), and plain_body() turns the body
// sections into the plain bytes a 0-9-1 consumer expects.
//
// A message going out on a 1.0 link gets a fresh header section; one that
// came from 0-9-1 gets its properties, headers and routing mapped as
// RabbitMQ maps them, and one data section wrapping its body.
#include <span>
#include <string>

#include "amqp10/generated/types.hpp"
#include "amqp10/message.hpp"
#include "broker/message.hpp"
#include "broker/value.hpp"

namespace warren::amqp10 {

class PropertyCodec final : public broker::PropertyCodec {
 public:
  broker::Properties decode(std::string_view raw) const override;
  uint8_t store_id() const override { return 2; }
  // The body as plain bytes for a consumer on another protocol: one data
  // section -> its bytes; an amqp-value holding a string or binary -> its
  // bytes; anything else -> the sections as they are.
  broker::Body plain_body(const broker::Body& stored) const override;
  static const PropertyCodec& instance();
};

// An application-properties / annotation value and the core's, both ways.
// Only simple values survive 1.0 -> core -> 1.0 exactly; containers map to
// arrays and tables.
broker::Value to_broker(const Value& v);
// nullopt for what a 1.0 application property cannot hold (containers).
std::optional<Value> to_amqp10(const broker::Value& v);

// Fills `props` from 1.0 properties and application-properties.
void to_broker(const Properties& p, const std::optional<Value>& application_properties, broker::Properties& out);

// The stored form of a received message: `raw` gets message-annotations +
// properties + application-properties as received, the body sections go
// to `body`; `essentials` come from the header (1.0's default priority is 4).
struct Stored {
  std::string raw;
  std::string body;
  broker::Message::Essentials essentials;
};
void store_message(const MessageSections& m, std::span<const uint8_t> bytes, Stored& out);

// Appends what precedes the body bytes of an outgoing delivery of `msg`: a
// header section, then its raw sections (from 1.0) or mapped sections (from
// 0-9-1, ending with a data section's constructor and length, the body
// bytes to follow). The body (`*msg.body()`) comes right after, as it is.
void append_delivery_prefix(std::string& out, const broker::Message& msg, uint32_t delivery_count,
                            bool first_acquirer);

// Message-id and correlation-id as text (ulong in decimal, uuid in its
// 8-4-4-4-12 form, binary as its bytes), as RabbitMQ maps them to 0-9-1.
std::string id_text(const Value& id);

}  // namespace warren::amqp10

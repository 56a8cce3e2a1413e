#pragma once
// Between AMQP 0-9-1's wire types and the broker core's neutral ones:
// field tables <-> broker::Table, basic properties <-> broker::Properties,
// and the PropertyCodec that lets the core decode a 0-9-1 message's raw
// properties only when it has to.
#include "amqp091/field_table.hpp"
#include "amqp091/properties.hpp"
#include "broker/message.hpp"
#include "broker/value.hpp"

namespace warren::amqp091 {

broker::Table to_broker(const FieldTable& t);
broker::Value to_broker(const FieldValue& v);
FieldTable to_field_table(const broker::Table& t);
FieldValue to_field_value(const broker::Value& v);

broker::Properties to_broker(const BasicProperties& p);
BasicProperties to_basic(const broker::Properties& p);

// Decodes a table argument of a method (queue.declare's arguments, ...).
// False on malformed input, with the reason in `status`.
bool decode_arguments(TableView view, broker::Table& out, DecodeStatus& status);

// The raw properties of a message published over 0-9-1 are the property
// flags and values of its content header, as received.
class PropertyCodec final : public broker::PropertyCodec {
 public:
  broker::Properties decode(std::string_view raw) const override;
  uint8_t store_id() const override { return 1; }
  static const PropertyCodec& instance();
};

// What the core needs at publish time, read straight from the raw bytes.
broker::Message::Essentials essentials(const PropertiesView& v);

}  // namespace warren::amqp091

#pragma once
// An AMQP 1.0 message as the sections of a transfer's payload (OASIS AMQP
// 1.0 part 3.2): header, delivery-annotations, message-annotations,
// properties, application-properties, the body (data sections, amqp-sequence
// sections or one amqp-value) and footer, in that order, each optional.
// split_message decodes only what a broker routes on and keeps the rest as
// raw bytes, so a message can be stored and forwarded as received.
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "amqp10/codec.hpp"
#include "amqp10/generated/types.hpp"

namespace warren::amqp10 {

struct MessageSections {
  std::optional<Header> header;
  // Raw encoded sections (descriptor included), empty if absent.
  std::span<const uint8_t> delivery_annotations, message_annotations;
  std::optional<Properties> properties;
  std::optional<Value> application_properties;  // a map
  // The bare message as received: from the first of properties /
  // application-properties / body sections to the end of the last body
  // section (footer excluded).
  std::span<const uint8_t> bare;
  std::span<const uint8_t> body;  // the application-data sections only, raw
  std::span<const uint8_t> footer;
};

// False, with `error` set, if the bytes are not a sequence of sections in
// the order of part 3.2.
bool split_message(std::span<const uint8_t> bytes, MessageSections& out, std::string& error);

void encode_header(Encoder& e, const Header& h);
void encode_properties(Encoder& e, const Properties& p);
void encode_application_properties(Encoder& e, const Value& map);
void encode_data_section(Encoder& e, std::span<const uint8_t> data);
void encode_amqp_value_section(Encoder& e, const Value& v);

}  // namespace warren::amqp10

#include "amqp10/message.hpp"

#include <fmt/format.h>

namespace warren::amqp10 {

namespace {
// Position of each section in the order of part 3.2; the body sections share one.
constexpr int kBodyRank = 5;
int section_rank(uint64_t code) {
  switch (code) {
    case Header::kCode: return 0;
    case kDeliveryAnnotationsCode: return 1;
    case kMessageAnnotationsCode: return 2;
    case Properties::kCode: return 3;
    case kApplicationPropertiesCode: return 4;
    case kDataCode:
    case kAmqpSequenceCode:
    case kAmqpValueCode: return kBodyRank;
    case kFooterCode: return 6;
    default: return -1;
  }
}

bool next_is_map(Decoder& d) {
  uint8_t c;
  return d.peek(c) && (c == code::kMap8 || c == code::kMap32);
}
}  // namespace

bool split_message(std::span<const uint8_t> bytes, MessageSections& out, std::string& error) {
  out = MessageSections{};
  Decoder d(bytes);
  int rank = -1;
  uint64_t body_code = 0;
  size_t bare_begin = 0, bare_end = 0, body_begin = 0, body_end = 0;
  bool bare = false, body = false;
  while (!d.at_end()) {
    const size_t start = d.position();
    uint64_t code;
    std::string_view symbol;
    if (!d.read_descriptor(code, symbol)) {
      error = fmt::format("message section at byte {}: {}", start, d.error());
      return false;
    }
    if (!symbol.empty()) code = descriptor_code_of(symbol).value_or(~uint64_t{0});
    const int r = section_rank(code);
    if (r < 0) {
      error = fmt::format("unknown message section at byte {}", start);
      return false;
    }
    if (r < rank || (r == rank && r != kBodyRank)) {
      error = fmt::format("{} section out of order", descriptor_name(code));
      return false;
    }
    if (r == kBodyRank && body && (code != body_code || code == kAmqpValueCode)) {
      error = "a body is data sections, amqp-sequence sections or one amqp-value";
      return false;
    }
    rank = r;
    bool ok = true;
    uint8_t c = 0;
    switch (code) {
      case Header::kCode: ok = Header::decode_fields(d, out.header.emplace()); break;
      case Properties::kCode: ok = Properties::decode_fields(d, out.properties.emplace()); break;
      case kApplicationPropertiesCode: ok = d.read_map(out.application_properties.emplace()); break;
      case kDeliveryAnnotationsCode:
      case kMessageAnnotationsCode:
      case kFooterCode: ok = (next_is_map(d) || d.fail("annotations are not a map")) && d.skip_value(); break;
      case kDataCode: {
        std::string_view data;
        ok = d.read_binary(data);
        break;
      }
      case kAmqpSequenceCode:
        ok = d.peek(c) && (c == code::kList0 || c == code::kList8 || c == code::kList32);
        ok = (ok || d.fail("amqp-sequence is not a list")) && d.skip_value();
        break;
      default: ok = d.skip_value(); break;  // amqp-value
    }
    if (!ok) {
      error = fmt::format("{} section: {}", descriptor_name(code), d.error());
      return false;
    }
    const size_t end = d.position();
    const std::span<const uint8_t> section = bytes.subspan(start, end - start);
    if (code == kDeliveryAnnotationsCode) out.delivery_annotations = section;
    if (code == kMessageAnnotationsCode) out.message_annotations = section;
    if (code == kFooterCode) out.footer = section;
    if (r >= 3 && r <= kBodyRank) {
      if (!bare) bare_begin = start;
      bare = true;
      bare_end = end;
    }
    if (r == kBodyRank) {
      if (!body) body_begin = start;
      body = true;
      body_code = code;
      body_end = end;
    }
  }
  if (bare) out.bare = bytes.subspan(bare_begin, bare_end - bare_begin);
  if (body) out.body = bytes.subspan(body_begin, body_end - body_begin);
  return true;
}

void encode_header(Encoder& e, const Header& h) { h.encode(e); }

void encode_properties(Encoder& e, const Properties& p) { p.encode(e); }

void encode_application_properties(Encoder& e, const Value& map) {
  e.write_descriptor(kApplicationPropertiesCode);
  if (map.kind() == Kind::Map) {
    e.write_value(map);
  } else {
    e.end_map(e.begin_map(), 0);  // an empty map rather than an invalid section
  }
}

void encode_data_section(Encoder& e, std::span<const uint8_t> data) {
  e.write_descriptor(kDataCode);
  e.write_binary(as_chars(data));
}

void encode_amqp_value_section(Encoder& e, const Value& v) {
  e.write_descriptor(kAmqpValueCode);
  e.write_value(v);
}

}  // namespace warren::amqp10

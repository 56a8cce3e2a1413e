#include "amqp10/frame.hpp"

#include <fmt/format.h>

namespace warren::amqp10 {

namespace {
ParseResult error(std::string_view condition, std::string description) {
  return {ParseStatus::Error, 0, condition, std::move(description)};
}

template <class T>
bool decode_into(Decoder& d, Performative& body) {
  return T::decode_fields(d, body.emplace<T>());
}

// The performative after its descriptor; false if the code names none (for
// this frame type).
bool decode_performative(Decoder& d, uint64_t code, FrameType type, Performative& body) {
  if (type == FrameType::Amqp) {
    switch (code) {
      case Open::kCode: return decode_into<Open>(d, body);
      case Begin::kCode: return decode_into<Begin>(d, body);
      case Attach::kCode: return decode_into<Attach>(d, body);
      case Flow::kCode: return decode_into<Flow>(d, body);
      case Transfer::kCode: return decode_into<Transfer>(d, body);
      case Disposition::kCode: return decode_into<Disposition>(d, body);
      case Detach::kCode: return decode_into<Detach>(d, body);
      case End::kCode: return decode_into<End>(d, body);
      case Close::kCode: return decode_into<Close>(d, body);
      default: return d.fail("not a performative of an AMQP frame");
    }
  }
  switch (code) {
    case SaslMechanisms::kCode: return decode_into<SaslMechanisms>(d, body);
    case SaslInit::kCode: return decode_into<SaslInit>(d, body);
    case SaslChallenge::kCode: return decode_into<SaslChallenge>(d, body);
    case SaslResponse::kCode: return decode_into<SaslResponse>(d, body);
    case SaslOutcome::kCode: return decode_into<SaslOutcome>(d, body);
    default: return d.fail("not a performative of a SASL frame");
  }
}

bool is_performative(uint64_t code, FrameType type) {
  return type == FrameType::Amqp ? code >= Open::kCode && code <= Close::kCode
                                 : code >= SaslMechanisms::kCode && code <= SaslOutcome::kCode;
}

void put_u32_at(std::string& out, size_t at, uint32_t v) {
  out[at] = char(v >> 24);
  out[at + 1] = char(v >> 16);
  out[at + 2] = char(v >> 8);
  out[at + 3] = char(v);
}

size_t begin_frame(std::string& out, FrameType type, uint16_t channel) {
  const size_t at = out.size();
  const char header[8] = {0, 0, 0, 0, 2, char(type), char(channel >> 8), char(channel)};
  out.append(header, 8);
  return at;
}
}  // namespace

ParseResult parse_frame(std::span<const uint8_t> in, uint32_t max_frame_size, Frame& out) {
  if (in.size() < kFrameHeaderSize) return {};
  const uint32_t size = be32(in.data());
  const uint8_t doff = in[4];
  const uint8_t type = in[5];
  if (size < kFrameHeaderSize)
    return error(connection_error::kFramingError, fmt::format("frame size {} is smaller than a frame header", size));
  if (size > max_frame_size)
    return error(connection_error::kFramingError,
                 fmt::format("frame size {} is larger than the maximum frame size {}", size, max_frame_size));
  if (doff < 2 || size_t(doff) * 4 > size)
    return error(connection_error::kFramingError,
                 fmt::format("data offset {} does not fit a frame of {} bytes", doff, size));
  if (type > uint8_t(FrameType::Sasl))
    return error(connection_error::kFramingError, fmt::format("unknown frame type {}", type));
  if (in.size() < size) return {};

  out.type = FrameType(type);
  out.channel = uint16_t(in[6] << 8 | in[7]);
  out.payload = {};
  const std::span<const uint8_t> body = in.subspan(size_t(doff) * 4, size - size_t(doff) * 4);
  if (body.empty()) {
    if (out.type == FrameType::Sasl) return error(connection_error::kFramingError, "empty SASL frame");
    out.body.emplace<std::monostate>();
    return {ParseStatus::Ok, size, {}, {}};
  }
  Decoder d(body);
  uint64_t code;
  std::string_view symbol;
  if (!d.read_descriptor(code, symbol))
    return error(amqp_error::kDecodeError, fmt::format("frame body: {}", d.error()));
  if (!symbol.empty()) {
    auto known = descriptor_code_of(symbol);
    if (!known) return error(amqp_error::kDecodeError, fmt::format("unknown performative {}", symbol));
    code = *known;
  }
  if (!is_performative(code, out.type)) {
    if (is_performative(code, out.type == FrameType::Amqp ? FrameType::Sasl : FrameType::Amqp))
      return error(connection_error::kFramingError,
                   fmt::format("{} performative in an {} frame", descriptor_name(code),
                               out.type == FrameType::Amqp ? "AMQP" : "SASL"));
    return error(amqp_error::kDecodeError, fmt::format("unknown performative descriptor 0x{:x}", code));
  }
  if (!decode_performative(d, code, out.type, out.body)) {
    out.body.emplace<std::monostate>();
    return error(amqp_error::kDecodeError, fmt::format("{}: {}", descriptor_name(code), d.error()));
  }
  out.payload = d.rest();
  return {ParseStatus::Ok, size, {}, {}};
}

void append_frame(std::string& out, FrameType type, uint16_t channel, const Performative& body,
                  std::span<const uint8_t> payload) {
  const size_t at = begin_frame(out, type, channel);
  Encoder e(out);
  std::visit(
      [&e](const auto& p) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(p)>, std::monostate>) p.encode(e);
      },
      body);
  out.append(as_chars(payload));
  put_u32_at(out, at, uint32_t(out.size() - at));
}

void append_transfer(std::string& out, uint16_t channel, const Transfer& transfer,
                     std::span<const uint8_t> payload) {
  const size_t at = begin_frame(out, FrameType::Amqp, channel);
  Encoder e(out);
  transfer.encode(e);
  out.append(as_chars(payload));
  put_u32_at(out, at, uint32_t(out.size() - at));
}

std::string_view performative_name(const Performative& p) {
  return std::visit(
      [](const auto& v) -> std::string_view {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "heartbeat";
        } else {
          return descriptor_name(T::kCode);
        }
      },
      p);
}

}  // namespace warren::amqp10

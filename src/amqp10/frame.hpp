#pragma once
// AMQP 1.0 frames (OASIS AMQP 1.0 part 2.3): an 8-byte header (size, data
// offset in 4-byte words, type, channel), an extended header we skip, then
// a performative and, for a transfer, the payload after it. A frame with no
// body is a heartbeat. SASL frames (type 1) carry the SASL performatives
// (part 5.3) and nothing else.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "amqp10/codec.hpp"
#include "amqp10/generated/types.hpp"

namespace warren::amqp10 {

// The protocol headers that open a connection (part 2.2) and its SASL layer (5.3.1).
inline constexpr std::string_view kAmqpHeader{"AMQP\0\1\0\0", 8};
inline constexpr std::string_view kSaslHeader{"AMQP\3\1\0\0", 8};

inline constexpr size_t kFrameHeaderSize = 8;

enum class FrameType : uint8_t { Amqp = 0, Sasl = 1 };

using Performative = std::variant<std::monostate /* empty frame: heartbeat */, Open, Begin, Attach, Flow, Transfer,
                                  Disposition, Detach, End, Close, SaslMechanisms, SaslInit, SaslChallenge,
                                  SaslResponse, SaslOutcome>;

// The performative in p if it is a T, else null.
template <class T>
const T* as(const Performative& p) {
  return std::get_if<T>(&p);
}

// An error with a condition and, if not empty, a description.
inline Error make_error(std::string_view condition, std::string description) {
  Error e;
  e.condition = condition;
  if (!description.empty()) e.description = std::move(description);
  return e;
}

struct Frame {
  FrameType type = FrameType::Amqp;
  uint16_t channel = 0;
  Performative body;
  std::span<const uint8_t> payload;  // bytes after the performative (transfer payload)
};

enum class ParseStatus { Ok, NeedMore, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  size_t consumed = 0;              // the whole frame, when Ok
  std::string_view condition;       // an error condition symbol, when Error
  std::string description;          // for the close frame's error, when Error
};

// Parses the frame at the start of `in`. `out.payload` points into `in`.
ParseResult parse_frame(std::span<const uint8_t> in, uint32_t max_frame_size, Frame& out);

// Appends a whole frame: header, performative (nothing for monostate: a
// heartbeat), payload.
void append_frame(std::string& out, FrameType type, uint16_t channel, const Performative& body,
                  std::span<const uint8_t> payload = {});
// The same for a transfer, without the variant.
void append_transfer(std::string& out, uint16_t channel, const Transfer& transfer,
                     std::span<const uint8_t> payload);

// "open", "transfer"...: for logs.
std::string_view performative_name(const Performative& p);

}  // namespace warren::amqp10

#pragma once
// The records of a vhost's log and their payloads (docs/storage.md has the
// byte layout). Definitions are logged as they change and again, whole, at
// the start of every segment (so that old segments can go); messages are
// logged once, however many queues hold them, and each queue's hold on one
// is an Enqueue naming the message's position.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "broker/exchange.hpp"
#include "broker/message.hpp"
#include "broker/value.hpp"
#include "store/bytes.hpp"
#include "store/log.hpp"

namespace warren::store {

enum class RecordType : uint8_t {
  Exchange = 1,        // ExchangeRecord: declared (or re-stated by a snapshot)
  ExchangeDeleted = 2, // name
  Queue = 3,           // QueueRecord
  QueueDeleted = 4,    // queue id
  Binding = 5,         // BindingRecord
  Unbinding = 6,       // BindingRecord
  Message = 7,         // a persistent message, body included
  Enqueue = 8,         // EnqueueRecord
  Remove = 9,          // RemoveRecord
  Purge = 10,          // PurgeRecord
};

struct ExchangeRecord {
  std::string name, type;
  bool auto_delete = false, internal = false;
  broker::Table arguments;
  bool operator==(const ExchangeRecord&) const = default;
};

struct QueueRecord {
  uint32_t id = 0;  // the store's number for it: queue names come back after a delete
  std::string name;
  bool auto_delete = false;
  broker::Table arguments;
  bool operator==(const QueueRecord&) const = default;
};

struct BindingRecord {
  std::string source;
  broker::Destination destination;
  std::string key;
  broker::Table arguments;
  bool operator==(const BindingRecord&) const = default;
};

// A queue holds the message logged at `message`, as entry `seq`.
struct EnqueueRecord {
  uint32_t queue = 0;
  uint64_t seq = 0;
  Position message;
  int64_t expires_ms = 0;  // wall clock, ms since the epoch; 0: never
  bool operator==(const EnqueueRecord&) const = default;
};

// The entry left the queue (acked, rejected, expired, dropped, consumed).
struct RemoveRecord {
  uint32_t queue = 0;
  uint64_t seq = 0;
  bool operator==(const RemoveRecord&) const = default;
};

// Every entry below `before_seq` left, except `kept` (the unacked ones a
// purge leaves: the log does not know which entries were acquired).
struct PurgeRecord {
  uint32_t queue = 0;
  uint64_t before_seq = 0;
  std::vector<uint64_t> kept;
  bool operator==(const PurgeRecord&) const = default;
};

void encode(Out& o, const ExchangeRecord& r);
void encode(Out& o, const QueueRecord& r);
void encode(Out& o, const BindingRecord& r);
void encode(Out& o, const EnqueueRecord& r);
void encode(Out& o, const RemoveRecord& r);
void encode(Out& o, const PurgeRecord& r);
// False: the payload is not one (damage the CRC missed, or a newer writer).
bool decode(std::span<const uint8_t> p, ExchangeRecord& r);
bool decode(std::span<const uint8_t> p, QueueRecord& r);
bool decode(std::span<const uint8_t> p, BindingRecord& r);
bool decode(std::span<const uint8_t> p, EnqueueRecord& r);
bool decode(std::span<const uint8_t> p, RemoveRecord& r);
bool decode(std::span<const uint8_t> p, PurgeRecord& r);

// Values and properties in the store's own encoding (not a wire format's).
void encode(Out& o, const broker::Table& t);
bool decode(In& in, broker::Table& t);
void encode(Out& o, const broker::Properties& p);
bool decode(In& in, broker::Properties& p);

// A message record: what the message needs to come back, its body last.
// Properties stay in the bytes their front end received, tagged with the
// codec's store_id(); a message the core built (dead-lettering) has
// decoded properties and is written in the store's encoding (codec 0).
// The body's bytes are not copied here: the caller appends them (they are
// the last `body_size` bytes of the payload).
void encode_message_head(Out& o, const broker::Message& m);

// A message record's fields, viewing the payload.
struct MessageRecord {
  broker::Message::Essentials essentials;
  std::string_view exchange, routing_key;
  uint8_t codec = 0;              // PropertyCodec::store_id(); 0: `properties`
  std::string_view raw_properties;
  broker::Properties properties;
  std::vector<std::string> bcc_keys;
  std::string_view body;
};
// False when the payload is not a message record.
bool parse_message(std::span<const uint8_t> payload, MessageRecord& r);

// Segment indexes (segment_index.hpp): a Summarize for the vhost's log.
// A message record is summarized (its priority and body size, all that
// recovery needs of it before it is read back); others are kept whole.
bool summarize_record(uint8_t type, std::span<const uint8_t> head, uint64_t size, std::vector<uint8_t>& out);
struct MessageSummary {
  uint8_t priority = 0;
  uint64_t body_size = 0;
};
// False: not a summary summarize_record() made.
bool decode_summary(std::span<const uint8_t> summary, MessageSummary& out);

// Decodes a message record. `codecs` are the front ends' property codecs,
// by store_id(). Null when the payload is not one, or names a codec
// that is not there.
broker::MessagePtr decode_message(std::span<const uint8_t> payload,
                                  std::span<const broker::PropertyCodec* const> codecs);

}  // namespace warren::store

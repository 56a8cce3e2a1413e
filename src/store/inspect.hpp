#pragma once
// Reading a vhost's log without opening it: what warren-store shows. Takes
// no lock and writes nothing, so it may run beside a live warrend (it then
// sees the log as of some moment, maybe with a torn tail being written).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/io.hpp"
#include "store/log.hpp"

namespace warren::store {

struct SegmentSummary {
  std::string file;
  uint64_t bytes = 0;
  uint64_t records = 0;
  uint64_t tail_bytes = 0;  // after the last record (a torn write, or a prepared segment's zeros)
  bool zero_tail = false;
  std::vector<std::pair<uint64_t, uint64_t>> damaged;  // (offset, length): CRCs that do not check
  bool unreadable = false;  // no valid header
  // Its index (segment_index.hpp), checked against an index built from
  // the segment's records: none (the newest segment, or one from before
  // indexes), good (the same, byte for byte), bad (`index_problem` says
  // why), or unchecked: it parses, but the segment is damaged, so there
  // is nothing whole to check it against.
  enum class Index : uint8_t { None, Good, Bad, Unchecked };
  Index index = Index::None;
  uint64_t index_bytes = 0;
  std::string index_problem;
};

struct QueueSummary {
  std::string name;
  uint64_t messages = 0;  // entries the log holds for it
  uint64_t record_bytes = 0;  // of its messages' records (bodies and metadata)
};

struct Inspection {
  std::vector<SegmentSummary> segments;
  std::vector<std::string> exchanges;           // durable, declared and not deleted
  std::map<uint32_t, QueueSummary> queues;      // by the store's id
  uint64_t bindings = 0;
  uint64_t undecodable = 0;                     // records whose payload does not decode
  bool damaged() const;
};

// Reads every segment of the log in `dir`. Errors reading the directory
// come back as an errno; damage is in the result.
int inspect(Io& io, const std::string& dir, Inspection& out);

}  // namespace warren::store

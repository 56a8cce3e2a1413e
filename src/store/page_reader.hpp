#pragma once
// Reads paged-out messages back from a vhost's log (broker/pager.hpp): by
// position, checking each record's CRC, neighbours in one read. One per
// thread that reads: the store's reader thread, and the event loop's for
// the rare read that cannot wait (basic.get) and for recovery.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "broker/message.hpp"
#include "store/io.hpp"
#include "store/log.hpp"

namespace warren::store {

class PageReader {
 public:
  PageReader(Io& io, std::string dir, std::vector<const broker::PropertyCodec*> codecs)
      : io_(io), dir_(std::move(dir)), codecs_(std::move(codecs)) {}

  // The messages logged at `at`, in order, into `out` (null where one could
  // not be read: each such gets an entry in `damage`).
  void read(std::span<const broker::Message::Stored> at, std::vector<broker::MessagePtr>& out,
            std::vector<Damage>& damage);
  broker::MessagePtr read_one(broker::Message::Stored at, std::vector<Damage>& damage);

  // Segments below this are gone: their files are closed (an open one
  // would keep a removed file's space in use).
  void forget_below(uint64_t segment) { files_.erase(files_.begin(), files_.lower_bound(uint32_t(std::min<uint64_t>(segment, UINT32_MAX)))); }

  // Neighbouring records are read together up to this many bytes.
  static constexpr size_t kSpan = 256u << 10;

 private:
  File* file(uint32_t segment, int& err);
  broker::MessagePtr decode(broker::Message::Stored at, uint8_t type, std::span<const uint8_t> payload,
                            std::vector<Damage>& damage);
  void fail(broker::Message::Stored at, std::string what, std::vector<Damage>& damage);

  Io& io_;
  std::string dir_;
  std::vector<const broker::PropertyCodec*> codecs_;
  // Open segments, a few: reads go mostly forward through a queue's backlog.
  std::map<uint32_t, std::unique_ptr<File>> files_;
  std::vector<uint8_t> buffer_;
};

}  // namespace warren::store

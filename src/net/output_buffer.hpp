// Output queue of a connection: a chain of chunks ready for one writev.
//
// Small copies are packed into pooled 16 KiB blocks (consecutive copies extend
// the same chunk, so many small sends become one iovec entry); shared bodies
// are referenced, not copied. Blocks come from a per-thread free list, so a
// steady stream of small sends does not touch the heap.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace warren::net {

class OutputBuffer {
 public:
  static constexpr size_t kBlockBytes = 16 * 1024;  // allocation size of one block

  OutputBuffer() = default;
  ~OutputBuffer();
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  void append(std::string_view bytes);                   // copies
  void append(std::shared_ptr<const std::string> body);  // references
  // References bytes [offset, offset + length) of `body` (a body cut into
  // frames: one chunk per frame's slice, no copy).
  void append(std::shared_ptr<const std::string> body, size_t offset, size_t length);
  size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  size_t chunk_count() const { return chunks_.size() - head_; }

  // Describes up to `max` leading chunks; returns how many were filled.
  int fill_iov(iovec* iov, int max) const;
  void consume(size_t n);  // drop n bytes that were written
  void clear();

  // Blocks on this thread's free list (for tests).
  static size_t pooled_blocks();

 private:
  struct Block;
  struct Chunk {
    const char* data;
    size_t len;
    Block* block;                               // owned copy, or
    std::shared_ptr<const std::string> shared;  // shared body
  };
  static Block* acquire();
  static void unref(Block* b);
  void release(Chunk& c);

  std::vector<Chunk> chunks_;
  size_t head_ = 0;  // first unwritten chunk
  size_t bytes_ = 0;
  Block* tail_ = nullptr;  // block that small copies go into; we hold a ref
};

}  // namespace warren::net

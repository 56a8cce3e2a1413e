#include "net/output_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace warren::net {

// A block is shared by every chunk that points into it and by the buffer's
// tail pointer; it goes back to the pool when the last of those lets go.
struct OutputBuffer::Block {
  uint32_t refs;
  uint32_t used;
  char data[kBlockBytes - 2 * sizeof(uint32_t)];
};

namespace {

constexpr size_t kPoolMax = 64;  // 1 MiB of idle blocks per thread at most

struct Pool {
  std::vector<void*> free;
  ~Pool() {
    for (void* b : free) ::operator delete(b);
  }
};
thread_local Pool t_pool;

}  // namespace

OutputBuffer::Block* OutputBuffer::acquire() {
  void* mem;
  if (!t_pool.free.empty()) {
    mem = t_pool.free.back();
    t_pool.free.pop_back();
  } else {
    mem = ::operator new(sizeof(Block));
  }
  auto* b = static_cast<Block*>(mem);
  b->refs = 1;
  b->used = 0;
  return b;
}

void OutputBuffer::unref(Block* b) {
  if (--b->refs != 0) return;
  if (t_pool.free.size() < kPoolMax) {
    t_pool.free.push_back(b);
  } else {
    ::operator delete(b);
  }
}

size_t OutputBuffer::pooled_blocks() { return t_pool.free.size(); }

OutputBuffer::~OutputBuffer() { clear(); }

void OutputBuffer::append(std::string_view bytes) {
  static_assert(sizeof(Block) == kBlockBytes);
  constexpr size_t cap = sizeof(Block::data);
  while (!bytes.empty()) {
    if (tail_ == nullptr || tail_->used == cap) {
      if (tail_ != nullptr) unref(tail_);
      tail_ = acquire();
    }
    size_t n = std::min(bytes.size(), cap - tail_->used);
    char* dst = tail_->data + tail_->used;
    std::memcpy(dst, bytes.data(), n);
    tail_->used += static_cast<uint32_t>(n);
    // Contiguous with the last chunk? Then grow it instead of adding an iovec.
    if (chunk_count() != 0 && chunks_.back().block == tail_ &&
        chunks_.back().data + chunks_.back().len == dst) {
      chunks_.back().len += n;
    } else {
      chunks_.push_back({dst, n, tail_, nullptr});
      ++tail_->refs;
    }
    bytes_ += n;
    bytes.remove_prefix(n);
  }
}

void OutputBuffer::append(std::shared_ptr<const std::string> body) {
  if (!body) return;
  const size_t n = body->size();
  append(std::move(body), 0, n);
}

void OutputBuffer::append(std::shared_ptr<const std::string> body, size_t offset, size_t length) {
  if (!body || offset >= body->size()) return;
  length = std::min(length, body->size() - offset);
  if (length == 0) return;
  chunks_.push_back({body->data() + offset, length, nullptr, std::move(body)});
  bytes_ += length;
}

int OutputBuffer::fill_iov(iovec* iov, int max) const {
  int n = 0;
  for (size_t i = head_; i < chunks_.size() && n < max; ++i, ++n) {
    iov[n].iov_base = const_cast<char*>(chunks_[i].data);
    iov[n].iov_len = chunks_[i].len;
  }
  return n;
}

void OutputBuffer::release(Chunk& c) {
  if (c.block != nullptr) unref(c.block);
  c.block = nullptr;
  c.shared.reset();
}

void OutputBuffer::consume(size_t n) {
  bytes_ -= n;
  while (n > 0) {
    Chunk& c = chunks_[head_];
    if (n < c.len) {
      c.data += n;
      c.len -= n;
      break;
    }
    n -= c.len;
    release(c);
    ++head_;
  }
  if (head_ == chunks_.size()) {
    clear();  // drained: give the tail block back too, so idle connections hold no blocks
  } else if (head_ >= 64 && head_ * 2 >= chunks_.size()) {
    chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void OutputBuffer::clear() {
  for (size_t i = head_; i < chunks_.size(); ++i) release(chunks_[i]);
  chunks_.clear();  // keeps capacity
  head_ = 0;
  bytes_ = 0;
  if (tail_ != nullptr) unref(tail_);
  tail_ = nullptr;
}

}  // namespace warren::net

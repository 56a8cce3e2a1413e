#pragma once
// Reads the sockets of busy AMQP 0-9-1 connections on a thread of its own
// and cuts their frames there, with the connection's amqp091::FrameCutter,
// which moves here from the broker's loop: the broker's thread gets whole
// reads, cut and decoded as it would have done it, and runs them through
// the engine's one entry for input (Connection::feed_frames): one hand-off
// per read of up to 256 KiB (and 4 MiB of large bodies read straight into
// their strings), not one per message. A connection moves here
// when its reads show it streams faster than the broker's loop serves it
// (AmqpServer); the others stay on that loop, where a message costs no
// hand-off between threads.
// docs/architecture.md#threads has the measurements that chose this.
//
// The reader owns a dup of each socket's fd and only reads it; the broker's
// side keeps the original and only writes (net::Socket's external
// reader mode). A connection has at most kMaxInFlight batches on their way
// to the broker; past that the reader stops reading it, so a publisher
// faster than the broker is held back by TCP, as it would be on one thread.
// Errors on the reader's side (even epoll refusing the fd) reach the broker
// as the connection's last batch, never as an exception on this thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "amqp091/frame_cutter.hpp"
#include "net/event_loop.hpp"
#include "net/mailbox.hpp"

namespace warren::server {

// One read of one connection, cut. Owns the bytes its frames point into
// (those not in a string of their own).
struct ReadBatch {
  uint64_t conn = 0;
  std::unique_ptr<uint8_t[]> buffer;  // kReadBudget octets
  amqp091::FrameBatch cut;
  bool end = false;  // the peer's EOF (error 0) or a read error comes after these bytes
  int error = 0;
};

class SocketReader {
 public:
  static constexpr size_t kReadBudget = 256 * 1024;  // per connection per turn, as net::Socket
  // Batches per connection on their way to the broker: one being fed, one
  // being read. So a moved connection holds at most 2 x kReadBudget of
  // input, and the incomplete frame its cutter keeps (outside the memory
  // high watermark's count, like socket buffers).
  static constexpr unsigned kMaxInFlight = 2;
  // Octets of large bodies a read may place straight into their strings
  // (where they would go anyway), beside kReadBudget of frames.
  static constexpr size_t kBodyBudget = 4 * 1024 * 1024;
  static constexpr size_t kMaxSpare = 16;  // buffers kept for reuse

  // `deliver` runs on `core`'s thread with the batches that arrived, in
  // order per connection; each must come back through done().
  using Deliver = std::function<void(std::vector<ReadBatch>&)>;
  SocketReader(net::EventLoop& core, Deliver deliver);
  ~SocketReader();  // stops the thread; closes the fds it still has
  SocketReader(const SocketReader&) = delete;
  SocketReader& operator=(const SocketReader&) = delete;

  // The rest are called on the core's thread.
  // Takes `fd`, a dup of the socket of a 0-9-1 connection, and the cutter
  // that has cut its input so far, with the incomplete frame it holds:
  // the bytes before what the socket still has.
  void add(uint64_t conn, int fd, amqp091::FrameCutter cutter, bool paused);
  void remove(uint64_t conn);       // the connection is gone: stop, close the dup
  void set_paused(uint64_t conn, bool paused);
  void done(ReadBatch batch);  // fed: its buffer goes back to the reader

 private:
  class Source;
  struct Command {
    enum Kind : uint8_t { Add, Remove, Pause, Resume } kind;
    uint64_t conn;
    int fd = -1;                                // Add
    std::optional<amqp091::FrameCutter> cutter;  // Add
    bool paused = false;                        // Add
  };

  // Reader thread.
  void run_commands(std::vector<Command>& commands);
  void take_back(std::vector<ReadBatch>& returned);
  ReadBatch take_buffer(uint64_t conn, bool for_reading);

  net::EventLoop& core_;
  net::EventLoop loop_;  // the reader's
  // Between the threads, each woken once for what piles up.
  net::Mailbox<ReadBatch> to_core_;    // batches read, run with deliver
  net::Mailbox<Command> commands_;     // to the reader
  net::Mailbox<ReadBatch> returned_;   // fed batches, back to the reader
  std::thread thread_;

  // Reader thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Source>> sources_;
  std::vector<ReadBatch> spare_;
};

}  // namespace warren::server

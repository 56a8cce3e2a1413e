#pragma once
// One AMQP 1.0 session (part 2.5): its flow-control windows (2.5.6), its
// links by handle, and a broker::Unsettled that tracks the deliveries it sent
// unsettled. Delivery-ids ARE that session's tags (offset by the initial
// delivery-id, modulo 2^32), so they are consecutive per session, and a
// peer's disposition range maps back to tags with serial arithmetic.
// Nothing keyed by delivery-id outlives the session: ending it for any
// reason releases every unsettled delivery.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "amqp10/connection.hpp"
#include "broker/unsettled.hpp"

namespace warren::amqp10 {

class Link;
class OutgoingLink;

// RFC 1982 serial numbers on 32 bits: a < b when b is ahead of a by less
// than 2^31.
inline bool serial_lt(uint32_t a, uint32_t b) { return a != b && uint32_t(b - a) < (1u << 31); }

// The settlement state a disposition carries, as the broker applies it.
enum class DeliveryState : uint8_t { None, Accepted, Rejected, Released, Modified };

class Session {
 public:
  Session(Connection& conn, uint16_t channel, const Begin& begin);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void handle(const Frame& f);
  // The session ends with an error: end(error) is sent and everything is
  // released; frames are ignored until the peer's end.
  void end_with_error(std::string_view condition, std::string description);
  bool ending() const { return ending_; }
  // Links, consumers, unsettled deliveries: all released.
  void release();
  // At the end of each turn: the dispositions of the turn, merged into
  // ranges, and a session flow if the incoming window is half used.
  void end_turn();
  // Sends the outcomes of received transfers decided so far (batched per
  // turn otherwise): before our end or close, so none is left in doubt.
  void flush_dispositions();
  // Output room again, or the memory alarm cleared.
  void resume();

  // --- for links ---
  Connection& connection() { return conn_; }
  uint16_t channel() const { return channel_; }
  broker::Unsettled& deliveries() { return deliveries_; }
  // How many transfer frames may go out now (0 while some wait).
  uint32_t send_room() const { return pending_.empty() ? remote_incoming_window_ : 0; }
  void send_delivery(OutgoingLink& link, broker::Delivery d, bool settled);
  // A link-level flow: the session's fields, then the link's.
  void send_flow(Flow f);
  // Our verdict on a received delivery (batched per turn).
  void dispose(uint32_t delivery_id, DeliveryState state, bool settled, std::string_view condition = {});
  // Detaches `handle` on our side (queue deleted, link error): detach with
  // the error now, the peer's detach is awaited.
  void detach_with_error(uint32_t handle, std::string_view condition, std::string description);
  // The link's unsettled deliveries go back to their queues.
  void release_link_deliveries(uint32_t handle);
  // Deliveries links refused (undeliverable-here) go back to their queues.
  void release_parked();
  // For the management API: a session is a channel there, as in RabbitMQ's
  // AMQP 1.0 plugin; its sending links are consumers.
  void describe(engine::ChannelInfo& out) const;

 private:
  struct Pending {  // a transfer frame waiting for the peer's incoming window
    std::string bytes;
    std::shared_ptr<const std::string> body;  // its octets [offset, offset + length) sent after `bytes`
    size_t offset = 0, length = 0;
  };
  struct Owner {  // who a tag was sent on, from the oldest unsettled on
    uint32_t handle;
    bool settled;
    broker::MessagePtr message;  // for modified undeliverable-here
  };
  struct Verdict {
    uint32_t id;
    DeliveryState state;
    bool settled;
    std::string_view condition;
  };

  void handle_attach(const Attach& a);
  void handle_flow(const Flow& f);
  void handle_transfer(const Transfer& t, std::span<const uint8_t> payload);
  void handle_disposition(const Disposition& d);
  void handle_detach(const Detach& d);
  void settle_peer(uint32_t first, uint32_t last, DeliveryState state, bool settled, const Disposition& d);
  void refuse_attach(const Attach& a, std::string_view condition, std::string description);
  Flow session_flow() const;
  void emit_frame(std::string bytes, std::shared_ptr<const std::string> body, size_t offset = 0, size_t length = 0);
  void send_pending();
  void note_incoming_transfer();
  uint32_t delivery_id(uint64_t tag) const { return uint32_t(tag - 1 + initial_delivery_id_); }

  Connection& conn_;
  const uint16_t channel_;
  bool ending_ = false;
  // 2.5.6
  const uint32_t initial_outgoing_id_;
  uint32_t next_outgoing_id_;
  uint32_t next_incoming_id_;
  uint32_t incoming_window_;
  uint32_t remote_incoming_window_;
  uint32_t remote_outgoing_window_;
  const uint32_t initial_delivery_id_;

  broker::Unsettled deliveries_;
  std::deque<Owner> owners_;  // owners_[i] is tag owners_base_ + i
  uint64_t owners_base_ = 1;
  std::map<uint32_t, std::unique_ptr<Link>> links_;
  // Links detached by us while one of their calls may still be running: a
  // link's own handler that ends in a detach, or a queue deleted by an
  // effect the core runs while the link's call into it is on the stack
  // (effects run when the outermost operation ends: outbox.hpp). Freed at
  // the next frame.
  std::vector<std::unique_ptr<Link>> graveyard_;
  std::set<uint32_t> detached_;  // handles we detached, until the peer's detach
  std::deque<Pending> pending_;
  std::vector<Verdict> verdicts_;
  std::vector<uint64_t> settled_keys_;
  std::string scratch_;       // a delivery's sections before its body
  std::string head_scratch_;  // measuring a transfer's frame head
};

}  // namespace warren::amqp10

#pragma once
// An AMQP 1.0 server connection as a sans-I/O state machine over the broker
// core, beside the AMQP 0-9-1 engine on the same port:
//
//   header -> [SASL header, mechanisms, init, outcome -> header again]
//          -> AMQP header -> open -> sessions (begin/end) -> links -> close
//
// Frames go into one output string per call and leave at its end (bodies
// by reference). A connection error sends close with the condition, then
// everything the connection held - unsettled deliveries, consumers,
// temporary queues - is released, as on transport loss or idle time-out.
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "amqp10/frame.hpp"
#include "amqp10/server_options.hpp"
#include "broker/broker.hpp"
#include "common/engine/server_engine.hpp"

namespace warren::amqp10 {


class Session;

class Connection final : public engine::ServerEngine {
 public:
  Connection(broker::Broker& broker, uint64_t id, const ServerOptions& opts, engine::Transport& transport,
             auth::Peer peer, TimePoint now);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void feed(std::span<const uint8_t> bytes, TimePoint now) override;
  void advance(TimePoint now) override;
  std::optional<TimePoint> next_deadline() const override;
  void transport_closed(TimePoint now) override;
  void output_drained(TimePoint now) override;
  // Over the memory high watermark, a connection that publishes is no
  // longer read and its publishing links get no more credit.
  void resource_alarm(engine::Alarms on) override;
  void close_forced(std::string_view text) override;
  std::string_view user_name() const override { return user_; }
  std::string_view vhost_name() const override { return vhost_ ? std::string_view(vhost_->name()) : std::string_view(); }
  void describe(engine::ConnectionInfo& out) const override;

  bool finished() const { return state_ == State::Closed; }
  uint64_t id() const { return id_; }
  const std::string& user() const { return user_; }

  // --- for sessions and links ---
  broker::Broker& broker() { return broker_; }
  broker::VHost& vhost() { return *vhost_; }
  // The user's permissions in the vhost (checked by the core's operations).
  auth::Access* access() { return &access_; }
  const ServerOptions& options() const { return opts_; }
  TimePoint now() const { return now_; }
  uint32_t peer_max_frame_size() const { return peer_max_frame_; }
  // Appends a frame to this call's output.
  void send(uint16_t channel, const Performative& p);
  std::string& output() { return out_; }
  // The output so far, then `body` by reference.
  void send_shared(std::shared_ptr<const std::string> body);
  // Octets [offset, offset + length) of a shared body, by reference.
  void send_slice(const std::shared_ptr<const std::string>& body, size_t offset, size_t length);
  // A delivery outside one of our calls (another connection published):
  // its frames go out now.
  void flush_if_idle();
  bool output_full() const { return transport_.pending_output() + out_.size() > opts_.max_output; }
  void note_output_full() { transport_.want_drain(); }
  bool publishing_blocked() const { return alarms_.any(); }
  void note_publish();
  void connection_error(std::string_view condition, std::string description);
  // A link holds deliveries it may not take (modified undeliverable-here):
  // advance() gives them back to their queues shortly.
  void retry_parked_soon();

 private:
  enum class State : uint8_t { Header, SaslInit, SaslHeader, AmqpHeader, Open, Opened, Closed };

  // Brackets an entry point: the outermost one flushes the output.
  struct Call {
    Call(Connection& c, TimePoint now);
    ~Call();
    Connection& c;
  };

  bool handle_header(std::span<const uint8_t>& in);
  void handle_frame(const Frame& f);
  void handle_sasl_init(const SaslInit& init);
  void handle_open(const Open& open);
  void handle_begin(uint16_t channel, const Begin& begin);
  void handle_end(uint16_t channel, const End& end);
  void handle_close();
  bool check_user(std::string_view user, std::optional<std::string_view> password);
  void release_all();
  void finish();  // flush, close the transport
  void flush();

  broker::Broker& broker_;
  broker::VHost* vhost_ = nullptr;
  const uint64_t id_;
  const ServerOptions& opts_;
  engine::Transport& transport_;
  const auth::Peer peer_;
  auth::Access access_;

  State state_ = State::Header;
  bool sasl_ = false;
  std::string user_;  // empty: not authenticated
  std::string mechanism_;     // SASL's, for the management API ("": no SASL)
  std::string container_id_;  // the peer's open, likewise
  std::string input_;
  std::string out_;
  // Nested Calls (input, time, outcomes arriving from the store, effects
  // of other connections' operations delivering here): output is flushed
  // once, by the outermost, so that one input turn is one write.
  int depth_ = 0;
  uint32_t peer_max_frame_ = 512;
  uint16_t channel_max_ = 0;
  std::chrono::milliseconds peer_idle_{0};
  engine::Alarms alarms_;
  bool published_ = false;
  bool blocked_ = false;
  TimePoint opened_at_;
  TimePoint last_received_;
  TimePoint last_sent_;
  TimePoint now_;
  std::optional<TimePoint> retry_at_;
  std::map<uint16_t, std::unique_ptr<Session>> sessions_;
};

}  // namespace warren::amqp10

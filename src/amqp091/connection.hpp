#pragma once
// An AMQP 0-9-1 server connection as a sans-I/O state machine: bytes and
// the time go in; frames go out through a Transport; the broker core is
// called for everything with meaning. Deliveries arrive from queues at any
// time (another connection's publish) and are written at once.
//
//   header -> start/start-ok -> tune/tune-ok -> open/open-ok -> channels...
//
// Errors follow RabbitMQ: a soft error closes the channel (channel.close
// with 403/404/405/406), a hard one the connection (connection.close with
// 501-541), and either way everything the channel or connection held -
// unacked deliveries, exclusive queues, consumers - is released.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "amqp091/frame.hpp"
#include "amqp091/frame_cutter.hpp"
#include "amqp091/generated/methods.hpp"
#include "amqp091/properties.hpp"
#include "amqp091/server_options.hpp"
#include "broker/broker.hpp"
#include "common/engine/server_engine.hpp"

namespace warren::amqp091 {

// The method in m if it is an M, else null.
template <class M>
const M* as(const Method& m) {
  return std::get_if<M>(&m);
}

using Transport = engine::Transport;

class Channel;

class Connection final : public engine::ServerEngine {
 public:
  Connection(broker::Broker& broker, uint64_t id, const ServerOptions& opts, Transport& transport, auth::Peer peer,
             TimePoint now);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The one way input comes in: frames a FrameCutter cut from this
  // connection's bytes, on this thread or on a reader thread (the server
  // cuts them itself, src/server/socket_reader.hpp). Frames [from, ...),
  // at most `budget` of them, so that a driver can share a loop turn
  // between a big read and other connections; returns where to go on from,
  // which is frames.size() once the batch is done.
  size_t feed_frames(const FrameBatch& batch, TimePoint now, size_t from = 0, size_t budget = SIZE_MAX);
  // Bytes, cut by a FrameCutter of the engine's own, then feed_frames().
  void feed(std::span<const uint8_t> bytes, TimePoint now) override;
  void advance(TimePoint now) override;
  std::optional<TimePoint> next_deadline() const override;
  // The socket is gone: every channel ends, as if closed.
  void transport_closed(TimePoint now) override;
  // What the transport was asked to signal: room for more deliveries.
  void output_drained(TimePoint now) override;
  // The broker is over its memory high watermark (or back under it):
  // connections that publish are blocked - told with connection.blocked when
  // they asked for it, and no longer read - until it clears. Consumers go on,
  // so that acks can free memory.
  void resource_alarm(engine::Alarms on) override;
  bool blocked() const { return blocked_; }
  void close_forced(std::string_view text) override { connection_error(ReplyCode::ConnectionForced, text); }
  std::string_view user_name() const override { return user_; }
  std::string_view vhost_name() const override { return vhost_ ? std::string_view(vhost_->name()) : std::string_view(); }
  void describe(engine::ConnectionInfo& out) const override;

  bool finished() const { return state_ == State::Closed; }
  uint64_t id() const { return id_; }
  const std::string& user() const { return user_; }

  // --- for channels ---
  broker::Broker& broker() { return broker_; }
  TimePoint now() const { return now_; }
  broker::VHost& vhost() { return *vhost_; }
  // The user's permissions in the vhost (checked by the core's operations).
  auth::Access* access() { return &access_; }
  const ServerOptions& options() const { return opts_; }
  uint32_t frame_max() const { return frame_max_; }
  bool output_full() const { return transport_.pending_output() > opts_.max_output; }
  void note_output_full();
  bool cancel_notify() const { return cancel_notify_; }
  template <class M>
  void send_method(uint16_t channel, const M& m) {
    scratch_.clear();
    append_method_frame(scratch_, channel, m);
    emit(channel, scratch_);
    sent_ = true;
  }
  // While set, what this connection sends on `channel` is appended to
  // `*into` instead (a channel whose tx.commit-ok waits for the store: its
  // later replies must not overtake it). nullptr: sent again.
  void hold_output(uint16_t channel, std::string* into);
  // Sends `bytes` now, even on a held channel: what was held, in order.
  void send_held(std::string_view bytes) {
    transport_.send(bytes);
    sent_ = true;
  }
  // basic.deliver / basic.get-ok / basic.return with its content.
  template <class M>
  void send_with_content(uint16_t channel, const M& m, const broker::Message& msg);
  void connection_error(ReplyCode code, std::string_view text, uint16_t class_id = 0, uint16_t method_id = 0);
  // A channel published: under a memory alarm, that blocks the connection.
  void note_publish();

 private:
  enum class State : uint8_t { Header, StartOk, TuneOk, Open, Opened, Closing, Closed };

  struct OwnInput;  // feed()'s cutter

  bool handle_protocol_header(HeaderCheck check);
  bool within_frame_max(uint8_t type, uint64_t size);
  void framing_error(std::string_view text);
  void handle_frame(const FrameBatch& batch, size_t i, TimePoint now);
  size_t publish_whole(const FrameBatch& batch, size_t i, size_t end, TimePoint now);
  Channel* find_channel(uint16_t channel);
  void erase_channel(uint16_t channel);
  void open_channel(uint16_t channel);
  void handle_connection_method(const Method& m, TimePoint now);
  void handle_start_ok(const ConnectionStartOk& m);
  void handle_tune_ok(const ConnectionTuneOk& m, TimePoint now);
  void handle_open(const ConnectionOpen& m);
  void send_start();
  void close_channels(TimePoint now);
  void finish(TimePoint now);
  void set_blocked(bool on);
  void emit(uint16_t channel, std::string_view bytes) {
    if (holds_.empty()) [[likely]]
      return transport_.send(bytes);
    emit_held(channel, bytes);
  }
  void emit_held(uint16_t channel, std::string_view bytes);
  void send_body_frames(uint16_t channel, const broker::Body& body);

  broker::Broker& broker_;
  broker::VHost* vhost_ = nullptr;
  const uint64_t id_;
  const ServerOptions& opts_;
  Transport& transport_;
  const auth::Peer peer_;
  auth::Access access_;

  State state_ = State::Header;
  std::unique_ptr<OwnInput> own_input_;  // made by the first feed()
  std::string user_;
  uint16_t channel_max_;
  uint32_t frame_max_;
  uint16_t heartbeat_ = 0;           // negotiated, seconds; 0: none
  std::string mechanism_;            // the client's, once it logged in
  std::vector<std::pair<std::string, std::string>> client_props_;  // its strings, for the management API
  bool cancel_notify_ = false;       // the client's consumer_cancel_notify capability
  bool blocked_notify_ = false;      // the client's connection.blocked capability
  engine::Alarms alarms_;
  bool published_ = false;
  bool blocked_ = false;
  TimePoint opened_at_;
  TimePoint last_received_;
  TimePoint last_sent_;
  TimePoint closing_since_{};
  bool sent_ = false;                // something was sent during this call
  bool input_failed_ = false;        // a framing error: no frame after it is read
  std::unordered_map<uint16_t, std::unique_ptr<Channel>> channels_;
  std::vector<std::pair<uint16_t, std::string*>> holds_;  // hold_output(); rarely more than one
  // The channel last found: a publish is three frames for one channel.
  uint16_t last_channel_id_ = 0;
  Channel* last_channel_ = nullptr;
  std::string scratch_;
  TimePoint now_{};                  // the time of the call in progress
};

}  // namespace warren::amqp091

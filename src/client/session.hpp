#pragma once
// The client's AMQP 0-9-1 engine: sans-I/O, like the broker's. It takes
// transport events, received bytes and the time, and produces bytes to send,
// timers and ready callbacks; it never touches a socket or a clock. The
// driver (client/connection.hpp) owns the socket and a lock around this.
//
// A Session outlives its transports. Each transport is one *epoch*
// (incarnation) of the connection: transport_up() begins epoch N+1 with the
// handshake; transport_down() ends it in one step that completes every
// pending confirm as Unknown, fails every call in flight, and puts every
// channel's sequence back to 1 (docs/client.md, models/warren-client-confirms.pml).
// On the next transport the session re-declares the recorded topology,
// reopens the application's channels with their qos, confirm and tx modes,
// and consumes again, then lets publishes through.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "amqp091/generated/methods.hpp"
#include "client/confirm_tracker.hpp"
#include "client/topology.hpp"
#include "client/types.hpp"

namespace warren::client {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using std::chrono::milliseconds;

struct SessionOptions {
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  uint16_t heartbeat_s = 60;  // asked for; 0 asks for none
  uint32_t frame_max = 131072;
  std::string product = "warren-client";
  bool recover = true;           // reconnect when an established connection is lost
  milliseconds backoff_min{5};   // first retry delay (each later one doubles, with jitter)
  milliseconds backoff_max{50};  // so a broker back up is found within ~50 ms
  uint64_t seed = 0;             // jitter; 0 picks one
  // Logs transports, states and every method in and out to stderr (also
  // turned on by WARREN_CLIENT_TRACE=1 in the environment).
  bool trace = false;
};

// Something to run once the lock is released, in order.
struct ReadyDelivery {
  std::shared_ptr<DeliveryCallback> callback;
  std::unique_ptr<Delivery> delivery;  // recycled: see Session::recycle
};
using ReadyItem = std::variant<Completion, ReadyDelivery, std::function<void()>>;

// Runs (and clears) ready items: the driver calls it with no lock held.
// The deliveries' objects go to `spent`, for Session::recycle.
void run_ready(std::vector<ReadyItem>& ready, std::vector<std::unique_ptr<Delivery>>* spent = nullptr);

template <class T>
using ResultCallback = std::function<void(const std::optional<Error>&, T&&)>;

struct ConnectionEvents {
  std::function<void(uint64_t epoch)> opened;                 // every epoch, the first included
  std::function<void(const Error&)> lost;                     // an established connection went down
  std::function<void(const std::string& reason)> blocked;     // connection.blocked
  std::function<void()> unblocked;
  std::function<void(const Error&)> recovery_error;           // a re-declare failed (recovery goes on)
  std::function<void(const std::string& from, const std::string& to)> queue_renamed;  // server-named, recovered
  std::function<void(const Error&)> closed;                   // for good: close(), or refused at login
};

struct ChannelEvents {
  std::function<void(const Error&)> closed;  // the broker closed the channel (not recovered)
  std::function<void(Returned&&)> returned;  // basic.return, beside the publish's Returned outcome
  // Every basic.ack / basic.nack as it arrives, for code that tracks
  // confirms itself (the .NET client's BasicAcks event; tests/client's
  // naive pool reproduces NServiceBus's bug with it).
  std::function<void(uint64_t tag, bool multiple, bool nack)> confirm_observed;
};

struct ConsumerEvents {
  DeliveryCallback delivery;
  std::function<void()> cancelled;  // basic.cancel from the broker (queue deleted, lock lease ended)
};

class Session {
 public:
  enum class State { Idle, Handshake, Recovering, Open, Closing, Closed };

  explicit Session(SessionOptions opts, ConnectionEvents events = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- the driver's side
  State state() const { return state_; }
  uint64_t epoch() const { return epoch_; }
  bool ever_opened() const { return ever_opened_; }
  void transport_up(TimePoint now);
  void transport_down(TimePoint now, Error why);
  void connect_failed(TimePoint now, Error why);
  void feed(std::span<const uint8_t> bytes, TimePoint now);
  void tick(TimePoint now);
  // Moves the bytes to send into `into` (appending). True if there were any.
  bool take_output(std::string& into, TimePoint now);
  bool has_output() const { return !out_.empty(); }
  size_t output_size() const { return out_.size(); }
  // Whether the driver should connect now / when to call tick() next.
  bool wants_transport(TimePoint now) const;
  std::optional<TimePoint> next_deadline() const;
  // The engine has finished with this transport (close-ok, a protocol error,
  // a missed heartbeat): the driver closes it and calls transport_down().
  bool wants_transport_closed() const { return drop_transport_.has_value(); }
  const std::optional<Error>& drop_reason() const { return drop_transport_; }
  // Why the session closed for good (State::Closed).
  const std::optional<Error>& closed_reason() const { return closed_reason_; }
  void take_ready(std::vector<ReadyItem>& into);
  // Delivery objects whose callbacks have run, back for reuse: a steady
  // stream of deliveries then allocates nothing (their strings keep their
  // capacity unless the application moved them out).
  void recycle(std::vector<std::unique_ptr<Delivery>>& spent);

  // ---- the application's side (the driver holds its lock around these)
  uint16_t open_channel(ChannelEvents events, DoneCallback opened);
  bool channel_open(uint16_t ch) const;
  bool channel_closed_for_good(uint16_t ch) const;  // closed (or unknown), never to be recovered
  void close_channel(uint16_t ch, DoneCallback done);
  // The application has let go of a closed channel: its number may be reused.
  void release_channel(uint16_t ch);
  void confirm_select(uint16_t ch, DoneCallback done);
  void tx_select(uint16_t ch, DoneCallback done);
  void tx_commit(uint16_t ch, DoneCallback done);
  void tx_rollback(uint16_t ch, DoneCallback done);
  void qos(uint16_t ch, uint16_t prefetch_count, DoneCallback done);
  void exchange_declare(uint16_t ch, const ExchangeSpec& spec, bool passive, DoneCallback done);
  void exchange_delete(uint16_t ch, const std::string& name, bool if_unused, DoneCallback done);
  void queue_declare(uint16_t ch, const QueueSpec& spec, bool passive, ResultCallback<QueueInfo> done);
  void queue_delete(uint16_t ch, const std::string& name, bool if_unused, bool if_empty,
                    ResultCallback<uint32_t> done);
  void queue_purge(uint16_t ch, const std::string& name, ResultCallback<uint32_t> done);
  void bind(uint16_t ch, const BindingSpec& b, DoneCallback done);
  void unbind(uint16_t ch, const BindingSpec& b, DoneCallback done);
  void consume(uint16_t ch, const ConsumeSpec& spec, ConsumerEvents events, ResultCallback<std::string> done);
  void cancel(uint16_t ch, const std::string& tag, DoneCallback done);
  void get(uint16_t ch, const std::string& queue, bool no_ack, ResultCallback<std::optional<Delivery>> done);
  // Publishes; in confirm mode `confirmed` completes exactly once, otherwise
  // it is not called. Sequence assignment, registration and the write of
  // the frames are this one call. Throws ClientError, having sent nothing,
  // unless the channel is open.
  // Returns the publish sequence number in confirm mode, else 0.
  uint64_t publish(uint16_t ch, const PublishSpec& p, ConfirmCallback confirmed);
  // Settles a delivery of `epoch`. False, sending nothing, when the epoch
  // has ended (the broker has requeued the message).
  bool ack(uint16_t ch, uint64_t epoch, uint64_t tag, bool multiple);
  bool nack(uint16_t ch, uint64_t epoch, uint64_t tag, bool multiple, bool requeue);
  bool reject(uint16_t ch, uint64_t epoch, uint64_t tag, bool requeue);
  void close(DoneCallback done);

  // For tests and the pool: the confirm state of a channel.
  uint64_t next_publish_seq(uint16_t ch) const;
  bool confirm_mode(uint16_t ch) const;
  size_t pending_confirms(uint16_t ch) const;
  uint32_t frame_max() const { return frame_max_; }
  uint16_t heartbeat() const { return heartbeat_; }

 private:
  struct Channel;
  struct Rpc;
  struct Incoming;
  friend class SessionTestPeer;

  // session.cpp: the connection.
  void on_frame(uint16_t channel, uint8_t type, std::span<const uint8_t> payload);
  bool start_body(std::span<const uint8_t> rest);
  std::span<const uint8_t> feed_body(std::span<const uint8_t> bytes);
  void on_connection_method(const amqp091::Method& m);
  void drop(Error why);
  template <class M>
  void send_method(uint16_t channel, const M& m);
  void become_open();
  void finish_close(Error why);
  void trace(const char* what, uint16_t channel, std::string_view detail) const;

  // session_channel.cpp: channels, calls, content.
  Channel& chan(uint16_t ch);
  Channel& usable(uint16_t ch);  // open, or ClientError
  const Channel* find(uint16_t ch) const;
  template <class M>
  std::string frame_of(const Channel& c, const M& m);
  void call(Channel& c, std::string frame, uint32_t reply, uint32_t alt_reply,
            std::function<void(const amqp091::Method&)> ok, std::function<void(const Error&)> fail);
  void pump(Channel& c);
  void on_channel_method(Channel& c, const amqp091::Method& m);
  void on_content_header(Channel& c, std::span<const uint8_t> payload);
  void on_content_body(Channel& c, std::span<const uint8_t> payload);
  void content_done(Channel& c);
  std::unique_ptr<Delivery> fresh_delivery();
  void channel_closed(Channel& c, const Error& why, bool by_broker);
  void fail_channel_calls(Channel& c, const Error& why);
  void ready(std::function<void()> f) { ready_.emplace_back(std::move(f)); }
  void done_ok(const DoneCallback& cb);
  void done_err(const DoneCallback& cb, const Error& e);

  // session_recovery.cpp: a new epoch brings everything back.
  void resume();
  void recover_topology_step();
  void reopen_channel(Channel& c);
  void maybe_finish_recovery();
  void recovery_channel_closed(const Error& why);
  milliseconds next_backoff();

  SessionOptions opts_;
  ConnectionEvents events_;
  State state_ = State::Idle;
  uint64_t epoch_ = 0;
  bool ever_opened_ = false;
  bool closing_by_user_ = false;
  DoneCallback close_done_;
  std::optional<Error> drop_transport_;
  std::optional<Error> fatal_;  // refused at login: no recovery
  std::optional<Error> closed_reason_;

  // transport state of the current epoch
  std::string in_;   // a partial frame kept between feeds
  // A body frame read straight into its message (start_body): its channel,
  // the payload octets still to come, and where it starts in the body.
  struct BodyIn {
    uint16_t channel = 0;
    size_t left = 0, size = 0, start = 0;
    bool active = false;
  } body_in_;
  std::string out_;
  bool header_sent_ = false;
  uint32_t frame_max_ = 4096;
  uint16_t channel_max_ = 2047;
  uint16_t heartbeat_ = 0;
  TimePoint last_in_{}, last_out_{};

  // reconnection
  TimePoint next_attempt_{};
  milliseconds backoff_{0};
  std::mt19937_64 rng_;

  std::map<uint16_t, std::unique_ptr<Channel>> channels_;
  Topology topology_;
  uint16_t recovery_channel_ = 0;  // the channel re-declaring topology, 0 when none
  size_t recovery_step_ = 0;

  std::vector<ReadyItem> ready_;
  std::vector<std::unique_ptr<Delivery>> spare_deliveries_;
};

}  // namespace warren::client

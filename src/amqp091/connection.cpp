#include "amqp091/connection.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "amqp091/channel.hpp"
#include "amqp091/convert.hpp"

namespace warren::amqp091 {

namespace {

// What we tell clients we can do (RabbitMQ's capability names).
FieldTable server_properties(const ServerOptions& o) {
  FieldTable caps;
  for (const char* c : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                        "connection.blocked", "consumer_priorities", "authentication_failure_close",
                        "per_consumer_qos", "direct_reply_to"})
    caps.add(c, true);
  FieldTable t;
  t.add("product", o.product);
  t.add("version", o.version);
  t.add("platform", std::string("C++20"));
  t.add("cluster_name", o.cluster_name);
  t.add("copyright", std::string("Warren contributors"));
  t.add("information", std::string("Warren: a message broker and lock service"));
  t.add("capabilities", std::move(caps));
  return t;
}

// "\0user\0password" (PLAIN) or a LOGIN/PASSWORD table (AMQPLAIN).
bool credentials(std::string_view mechanism, std::string_view response, std::string& user, std::string& password) {
  if (mechanism == "PLAIN") {
    size_t a = response.find('\0');
    if (a == std::string_view::npos) return false;
    size_t b = response.find('\0', a + 1);
    if (b == std::string_view::npos) return false;
    user = response.substr(a + 1, b - a - 1);
    password = response.substr(b + 1);
    return true;
  }
  if (mechanism == "AMQPLAIN") {
    FieldTable t;
    if (!decode_table_entries(as_bytes(response), t).ok()) return false;
    auto* l = t.find("LOGIN");
    auto* p = t.find("PASSWORD");
    if (!l || !p || !std::holds_alternative<std::string>(*l) || !std::holds_alternative<std::string>(*p)) return false;
    user = std::get<std::string>(*l);
    password = std::get<std::string>(*p);
    return true;
  }
  return false;
}

// A call at `now` begins. What was sent since the last call went out at
// that call's time (or, for deliveries another connection's publish caused,
// later than it: a heartbeat may come early, never late).
void begin_call(TimePoint now, TimePoint& current, bool& sent, TimePoint& last_sent) {
  if (sent) {
    last_sent = current;
    sent = false;
  }
  current = now;
}

}  // namespace

Connection::Connection(broker::Broker& broker, uint64_t id, const ServerOptions& opts, Transport& transport,
                       auth::Peer peer, TimePoint now)
    : broker_(broker), id_(id), opts_(opts), transport_(transport), peer_(std::move(peer)),
      channel_max_(opts.channel_max), frame_max_(opts.frame_max), opened_at_(now), last_received_(now),
      last_sent_(now), now_(now) {}

Connection::~Connection() {
  if (state_ != State::Closed) {
    last_channel_ = nullptr;
    channels_.clear();
    broker_.connection_closed(id_, now_);
  }
}

struct Connection::OwnInput {
  FrameCutter cutter;
};

// The frames of one read live only for the feed() that cut them, so one
// batch per thread serves every connection it drives: a batch per
// connection kept its vectors' capacity (about 0.8 KiB of decoded methods)
// on every idle connection. A feed() inside another (not done today) gets
// a batch of its own.
void Connection::feed(std::span<const uint8_t> bytes, TimePoint now) {
  if (!own_input_) own_input_.reset(new OwnInput{FrameCutter(opts_.frame_max, opts_.max_message_size)});
  static thread_local FrameBatch shared;
  static thread_local bool shared_in_use = false;
  std::optional<FrameBatch> own;
  const bool use_shared = !shared_in_use;
  FrameBatch& batch = use_shared ? shared : own.emplace();
  shared_in_use = true;
  own_input_->cutter.cut(bytes, batch);
  feed_frames(batch, now);
  batch.clear();  // lets go of the bodies it referenced
  if (use_shared) shared_in_use = false;
}

size_t Connection::feed_frames(const FrameBatch& batch, TimePoint now, size_t from, size_t budget) {
  const size_t all = batch.frames.size();
  if (state_ == State::Closed || input_failed_) return all;
  begin_call(now, now_, sent_, last_sent_);
  if (batch.octets > 0) last_received_ = now;  // any octet counts as life
  if (from == 0 && batch.protocol_header && !handle_protocol_header(*batch.protocol_header)) return all;
  const size_t stop = budget >= all - from ? all : from + budget;
  size_t i = from;
  while (i < stop && state_ != State::Closed && !input_failed_) {
    const Frame& f = batch.frames[i];
    if (!within_frame_max(f.type, f.payload.size())) break;
    const size_t taken = publish_whole(batch, i, stop, now);
    if (taken == 0) handle_frame(batch, i, now);
    i += 1 + taken;
  }
  if (state_ == State::Closed || input_failed_) return all;
  if (i < all) return i;  // the rest on a later call; confirms at the end, as for one read
  for (auto& [_, ch] : channels_) ch->flush_confirms();
  if (batch.next && !within_frame_max(batch.next->type, batch.next->size)) return all;
  if (!batch.error.empty()) framing_error(batch.error);
  return all;
}

// The client's first octets: our protocol header, or one we answer with
// ours before closing (spec 4.2.2).
bool Connection::handle_protocol_header(HeaderCheck check) {
  if (state_ != State::Header) return true;
  if (check == HeaderCheck::Mismatch) {
    transport_.send(as_chars(kProtocolHeader));
    transport_.close();
    state_ = State::Closed;
    return false;
  }
  send_start();
  state_ = State::StartOk;
  return true;
}

// The cutter allows the server's frame-max; the connection may have
// negotiated less. A frame over it is refused on its head alone, before
// all of it has come.
bool Connection::within_frame_max(uint8_t type, uint64_t size) {
  if (size <= max_payload(frame_max_)) return true;
  framing_error(frame_too_large(type, uint32_t(size), frame_max_));
  return false;
}

void Connection::framing_error(std::string_view text) {
  input_failed_ = true;
  connection_error(ReplyCode::FrameError, text);
}

void Connection::send_start() {
  std::string props;
  encode_table_entries(props, server_properties(opts_));
  ConnectionStart start;
  start.server_properties = TableView(props);
  // EXTERNAL only where it can work: a verified client certificate.
  start.mechanisms = opts_.cert_login && transport_.peer_cert_cn() ? "PLAIN AMQPLAIN EXTERNAL" : "PLAIN AMQPLAIN";
  send_method(0, start);
}

// A basic.publish at frame i on an open channel, for that channel to take
// whole with its content frames if it may (Channel::publish_whole), so
// long as they are in this step: feeding in steps of a frame or two thus
// tests the fast way against the frame-by-frame one. Returns the content
// frames taken.
size_t Connection::publish_whole(const FrameBatch& batch, size_t i, size_t end, TimePoint now) {
  const Frame& f = batch.frames[i];
  if (state_ != State::Opened || f.type != kFrameMethod || f.channel == 0) return 0;
  const auto& [m, st] = batch.method(i);
  const auto* p = st.ok() ? as<BasicPublish>(m) : nullptr;
  Channel* ch = p ? find_channel(f.channel) : nullptr;
  return ch ? ch->publish_whole(*p, batch, i, end, now) : 0;
}

// Frame `i` of the batch, with what the cutter decoded of it.
void Connection::handle_frame(const FrameBatch& batch, size_t i, TimePoint now) {
  const Frame& f = batch.frames[i];
  if (state_ == State::Closing) {  // only the closing handshake matters now
    if (f.type != kFrameMethod || f.channel != 0) return;
    const auto& [m, st] = batch.method(i);
    if (!st.ok()) return;
    if (as<ConnectionCloseOk>(m)) return finish(now);
    if (as<ConnectionClose>(m)) {
      send_method(0, ConnectionCloseOk{});
      return finish(now);
    }
    return;
  }
  if (f.type == kFrameHeartbeat) {
    if (f.channel != 0) connection_error(ReplyCode::FrameError, "heartbeat frame on a non-zero channel");
    return;
  }
  if (state_ != State::Opened && (f.type != kFrameMethod || f.channel != 0))
    return connection_error(ReplyCode::UnexpectedFrame, "frame before the connection was open");

  Channel* ch = f.channel != 0 ? find_channel(f.channel) : nullptr;
  if (f.type == kFrameHeader || f.type == kFrameBody) {
    if (ch && ch->closing()) return;  // the rest of a publish the channel refused
    if (!ch || !ch->expecting_content())
      return connection_error(ReplyCode::UnexpectedFrame,
                              fmt::format("unexpected content {} frame on channel {}",
                                          f.type == kFrameHeader ? "header" : "body", f.channel));
    if (f.type == kFrameBody) return ch->handle_body(f, now);
    const auto& [h, st] = batch.header(i);
    if (!st.ok()) return connection_error(st.code, st.text);
    return ch->handle_header(h, now);
  }
  if (f.type != kFrameMethod) return connection_error(ReplyCode::FrameError, "unknown frame type");

  const auto& [m, st] = batch.method(i);
  if (!st.ok()) return connection_error(st.code, st.text);
  if (f.channel == 0) return handle_connection_method(m, now);

  if (ch && ch->expecting_content())
    return connection_error(ReplyCode::UnexpectedFrame,
                            fmt::format("expected content header for class 60, got non content header frame instead"));
  // Closing, by the spec's rules (0-9-1 section 4.2.7; docs/architecture.md#how-a-connection-ends):
  // after sending channel.close we drop everything on that channel but
  // close and close-ok; closes that cross are each answered with close-ok;
  // and closing a channel that is already closed is not an error.
  if (ch && ch->closing()) {
    if (as<ChannelCloseOk>(m)) {
      erase_channel(f.channel);
    } else if (as<ChannelClose>(m)) {  // crossing closes: answer, still wait for our close-ok
      send_method(f.channel, ChannelCloseOk{});
      ch->peer_closed();
    } else if (as<ChannelOpen>(m) && ch->peer_closing()) {
      // The peer took our close-ok for its close as the end (some clients
      // never answer the close they crossed): the number is free again.
      erase_channel(f.channel);
      return open_channel(f.channel);
    }
    return;
  }
  if (as<ChannelClose>(m)) {
    // Unknown or already closed (a second close from a client's racing
    // threads): answered all the same, as closing is idempotent.
    if (ch) {
      ch->flush_confirms();        // publishes before the close are confirmed, as RabbitMQ does
      erase_channel(f.channel);  // releases its deliveries and consumers first
    }
    send_method(f.channel, ChannelCloseOk{});
    return;
  }
  if (as<ChannelCloseOk>(m)) return;  // for nothing we sent: a stray
  if (as<ChannelOpen>(m)) {
    if (ch) return connection_error(ReplyCode::ChannelError, "second 'channel.open' seen", 20, 10);
    return open_channel(f.channel);
  }
  if (!ch) return connection_error(ReplyCode::ChannelError, "expected 'channel.open'");
  ch->handle_method(m, now);
}

Channel* Connection::find_channel(uint16_t channel) {
  if (last_channel_ && last_channel_id_ == channel) return last_channel_;
  auto it = channels_.find(channel);
  if (it == channels_.end()) return nullptr;
  last_channel_id_ = channel;
  return last_channel_ = it->second.get();
}

void Connection::erase_channel(uint16_t channel) {
  channels_.erase(channel);
  if (last_channel_id_ == channel) last_channel_ = nullptr;
}

void Connection::open_channel(uint16_t channel) {
  // RabbitMQ counts open channels against channel_max (530, no method);
  // a number above it is refused too, as the spec's channel range says.
  if (channel_max_ != 0 && channels_.size() >= channel_max_)
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("number of channels opened ({}) has reached the negotiated channel_max ({})",
                                        channels_.size(), channel_max_),
                            0, 0);
  if (channel > channel_max_)
    return connection_error(ReplyCode::ChannelError,
                            fmt::format("channel number {} exceeds negotiated channel_max {}", channel, channel_max_),
                            20, 10);
  channels_.emplace(channel, std::make_unique<Channel>(*this, channel));
  send_method(channel, ChannelOpenOk{});
}

void Connection::handle_connection_method(const Method& m, TimePoint now) {
  switch (state_) {
    case State::StartOk:
      if (auto* s = as<ConnectionStartOk>(m)) return handle_start_ok(*s);
      break;
    case State::TuneOk:
      if (auto* t = as<ConnectionTuneOk>(m)) return handle_tune_ok(*t, now);
      break;
    case State::Open:
      if (auto* o = as<ConnectionOpen>(m)) return handle_open(*o);
      break;
    case State::Opened:
      if (as<ConnectionClose>(m)) {
        for (auto& [_, ch] : channels_) ch->flush_confirms();
        close_channels(now);
        send_method(0, ConnectionCloseOk{});
        return finish(now);
      }
      if (as<ConnectionCloseOk>(m) || as<ConnectionBlocked>(m) || as<ConnectionUnblocked>(m)) return;
      if (as<ConnectionUpdateSecret>(m)) return send_method(0, ConnectionUpdateSecretOk{});
      break;
    default:
      break;
  }
  connection_error(state_ == State::Opened ? ReplyCode::CommandInvalid : ReplyCode::UnexpectedFrame,
                   fmt::format("unexpected method on channel 0"));
}

void Connection::handle_start_ok(const ConnectionStartOk& m) {
  FieldTable client;
  if (m.client_properties.decode(client).ok()) {
    for (const FieldEntry& e : client)  // what the management API shows (strings: product, version...)
      if (const auto* v = std::get_if<std::string>(&e.value.variant()); v && client_props_.size() < 16)
        client_props_.emplace_back(e.key.substr(0, 256), v->substr(0, 256));
    if (auto* caps = client.find("capabilities"); caps && std::holds_alternative<FieldTable>(*caps))
      for (auto [name, flag] : {std::pair{"consumer_cancel_notify", &cancel_notify_},
                                std::pair{"connection.blocked", &blocked_notify_}})
        if (auto* c = std::get<FieldTable>(*caps).find(name))
          *flag = std::holds_alternative<bool>(*c) && std::get<bool>(*c);
  }
  std::string user, password;
  const std::optional<std::string_view> cn = opts_.cert_login ? transport_.peer_cert_cn() : std::nullopt;
  const bool external = m.mechanism == "EXTERNAL" && cn;
  bool known_mechanism = m.mechanism == "PLAIN" || m.mechanism == "AMQPLAIN" || external;
  bool ok = false;
  if (external) {
    user = *cn;
    ok = opts_.directory->admit(user, peer_) == auth::LoginResult::Ok;
  } else if (known_mechanism && credentials(m.mechanism, m.response, user, password)) {
    ok = opts_.directory->authenticate(user, password, peer_, now_) == auth::LoginResult::Ok;
  }
  if (!ok) {
    // With authentication_failure_close the client is told why, then we hang up.
    std::string text =
        known_mechanism
            ? fmt::format("Login was refused using authentication mechanism {}. For details see the broker logfile.",
                          m.mechanism)
            : fmt::format("unsupported authentication mechanism '{}'", m.mechanism);
    ConnectionClose close;
    std::string reply = reply_text(ReplyCode::AccessRefused, text);
    close.reply_code = uint16_t(ReplyCode::AccessRefused);
    close.reply_text = reply;
    send_method(0, close);
    return finish(now_);
  }
  user_ = user;
  mechanism_ = std::string(m.mechanism);
  ConnectionTune tune;
  tune.channel_max = opts_.channel_max;
  tune.frame_max = opts_.frame_max;
  tune.heartbeat = opts_.heartbeat;
  send_method(0, tune);
  state_ = State::TuneOk;
}

void Connection::handle_tune_ok(const ConnectionTuneOk& m, TimePoint now) {
  if (m.frame_max != 0 && m.frame_max < kFrameMinSize)
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("frame_max={} < {} min size", m.frame_max, kFrameMinSize));
  if (m.frame_max > opts_.frame_max || (m.frame_max == 0 && opts_.frame_max != 0))
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("negotiated frame_max = {} is higher than the maximum allowed value ({})",
                                        m.frame_max, opts_.frame_max));
  if (m.channel_max > opts_.channel_max)
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("negotiated channel_max = {} is higher than the maximum allowed value ({})",
                                        m.channel_max, opts_.channel_max));
  frame_max_ = m.frame_max;
  channel_max_ = m.channel_max == 0 ? opts_.channel_max : m.channel_max;
  heartbeat_ = m.heartbeat;
  last_received_ = last_sent_ = now;
  state_ = State::Open;
}

void Connection::handle_open(const ConnectionOpen& m) {
  // rabbit_reader's order: the vhost exists, its connection limit, then
  // the user's access to it; each refusal is 530 NOT_ALLOWED.
  broker::VHost* vhost = broker_.vhost(m.virtual_host);
  if (!vhost || !opts_.directory->vhost(m.virtual_host))
    return connection_error(ReplyCode::NotAllowed, fmt::format("vhost {} not found", m.virtual_host), 10, 40);
  if (vhost->connection_limit_reached())
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("access to vhost '{}' refused for user '{}': connection limit ({}) is reached",
                                        m.virtual_host, user_, vhost->max_connections()),
                            10, 40);
  access_ = auth::Access(*opts_.directory, user_, std::string(m.virtual_host));
  if (!access_.still_granted())
    return connection_error(ReplyCode::NotAllowed,
                            fmt::format("access to vhost '{}' refused for user '{}'", m.virtual_host, user_), 10, 40);
  vhost->admit_connection(id_);
  vhost_ = vhost;
  send_method(0, ConnectionOpenOk{});
  state_ = State::Opened;
}

void Connection::connection_error(ReplyCode code, std::string_view text, uint16_t class_id, uint16_t method_id) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  // Publishes routed before the error are confirmed before the close.
  for (auto& [_, ch] : channels_) ch->flush_confirms();
  ConnectionClose close;
  std::string reply = reply_text(code, text);
  close.reply_code = uint16_t(code);
  close.reply_text = reply;
  close.class_id = class_id;
  close.method_id = method_id;
  send_method(0, close);
  // Everything the connection held goes now, not when the peer answers:
  // its channels' deliveries and consumers, and its exclusive queues.
  close_channels(now_);
  broker_.connection_closed(id_, now_);
  if (state_ != State::Opened) return finish(now_);  // no handshake to wait for
  state_ = State::Closing;
  closing_since_ = now_;
}

void Connection::close_channels(TimePoint now) {
  now_ = now;
  last_channel_ = nullptr;
  auto channels = std::move(channels_);
  channels.clear();  // each channel's session returns its unacked deliveries
}

void Connection::finish(TimePoint now) {
  if (state_ == State::Closed) return;
  close_channels(now);
  broker_.connection_closed(id_, now);
  state_ = State::Closed;
  transport_.close();
}

void Connection::transport_closed(TimePoint now) {
  if (state_ == State::Closed) return;
  close_channels(now);
  broker_.connection_closed(id_, now);
  state_ = State::Closed;
}

void Connection::output_drained(TimePoint now) {
  begin_call(now, now_, sent_, last_sent_);
  for (auto& [_, ch] : channels_) ch->resume_deliveries(now);
}

void Connection::note_output_full() { transport_.want_drain(); }

void Connection::resource_alarm(engine::Alarms on) {
  alarms_ = on;
  if (on.any() && published_) set_blocked(true);
  if (!on.any()) set_blocked(false);
}

void Connection::note_publish() {
  published_ = true;
  if (alarms_.any() && !blocked_) set_blocked(true);
}

void Connection::set_blocked(bool on) {
  if (on == blocked_ || state_ == State::Closed) return;
  blocked_ = on;
  if (blocked_notify_ && state_ == State::Opened) {
    if (on) {
      ConnectionBlocked b;
      b.reason = alarms_.memory ? "low on memory" : "low on disk";  // RabbitMQ's texts
      send_method(0, b);
    } else {
      send_method(0, ConnectionUnblocked{});
    }
  }
  transport_.set_reading(!on);
  // What we did not read cannot count as a missed heartbeat.
  last_received_ = now_;
}

void Connection::advance(TimePoint now) {
  if (state_ == State::Closed) return;
  begin_call(now, now_, sent_, last_sent_);
  if (state_ == State::Closing) {
    if (now - closing_since_ >= opts_.close_timeout) finish(now);
    return;
  }
  if (state_ != State::Opened) {
    if (now - opened_at_ >= opts_.handshake_timeout) finish(now);
    return;
  }
  if (heartbeat_ == 0) return;
  auto hb = std::chrono::seconds(heartbeat_);
  if (blocked_) last_received_ = now;  // not reading: the peer's heartbeats wait in the socket
  if (now - last_received_ >= 2 * hb) return finish(now);  // RabbitMQ: "missed heartbeats from client"
  if (now - last_sent_ >= hb) {
    scratch_.clear();
    append_heartbeat(scratch_);
    transport_.send(scratch_);
    last_sent_ = now;
  }
}

std::optional<TimePoint> Connection::next_deadline() const {
  switch (state_) {
    case State::Closed: return std::nullopt;
    case State::Closing: return closing_since_ + opts_.close_timeout;
    case State::Opened: break;
    default: return opened_at_ + opts_.handshake_timeout;
  }
  if (heartbeat_ == 0) return std::nullopt;
  auto hb = std::chrono::seconds(heartbeat_);
  return std::min(last_received_ + 2 * hb, (sent_ ? now_ : last_sent_) + hb);
}

template <class M>
void Connection::send_with_content(uint16_t channel, const M& m, const broker::Message& msg) {
  scratch_.clear();
  append_method_frame(scratch_, channel, m);
  size_t at = begin_frame(scratch_, kFrameHeader, channel);
  PropertiesView view;
  const bool ours = msg.codec() == &PropertyCodec::instance();
  // A message from another protocol may keep its body in that protocol's form.
  const bool as_stored = ours || !msg.codec();
  const broker::Body converted = as_stored ? nullptr : msg.codec()->plain_body(msg.body());
  const std::string_view body = as_stored ? msg.body_view() : converted ? std::string_view(*converted) : "";
  const size_t size = body.size();
  if (ours && PropertiesView::parse(as_bytes(msg.raw_properties()), view).ok())
    encode_content_header(scratch_, ContentHeader{kClassBasic, 0, size, view});
  else
    encode_content_header(scratch_, size, to_basic(msg.properties()));
  end_frame(scratch_, at);
  if (size > 0) {
    if (size < 1024) {  // small (one frame, frame_max is at least 4 KiB): a copy is cheaper than a reference
      auto h = frame_header(kFrameBody, channel, uint32_t(size));
      scratch_.append(reinterpret_cast<const char*>(h.data()), h.size());
      scratch_.append(body);
      scratch_.push_back(char(kFrameEnd));
    } else if (!holds_.empty()) {  // held output is a string: copied into it
      append_body_frames(scratch_, channel, as_bytes(body), frame_max_);
    } else {
      send_body_frames(channel, as_stored ? msg.body() : converted);
    }
  }
  emit(channel, scratch_);
  sent_ = true;
}

// A large body in frames of at most frame-max: each frame's slice of the
// shared string by reference, between small frame heads and end octets
// (one iovec entry per slice, no copy however many frames or consumers).
// Leaves the last end octet in scratch_.
void Connection::send_body_frames(uint16_t channel, const broker::Body& body) {
  const size_t size = body->size();
  const size_t chunk = size_t(std::max<uint64_t>(1, std::min<uint64_t>(max_payload(frame_max_), size)));
  for (size_t off = 0; off < size; off += chunk) {
    const size_t n = std::min(chunk, size - off);
    auto h = frame_header(kFrameBody, channel, uint32_t(n));
    scratch_.append(reinterpret_cast<const char*>(h.data()), h.size());
    transport_.send(scratch_);
    transport_.send_slice(body, off, n);
    scratch_.assign(1, char(kFrameEnd));
  }
}

void Connection::hold_output(uint16_t channel, std::string* into) {
  std::erase_if(holds_, [channel](const auto& h) { return h.first == channel; });
  if (into) holds_.emplace_back(channel, into);
}

void Connection::emit_held(uint16_t channel, std::string_view bytes) {
  for (auto& [held, into] : holds_)
    if (held == channel) {
      into->append(bytes);
      return;
    }
  transport_.send(bytes);
}

template void Connection::send_with_content(uint16_t, const BasicDeliver&, const broker::Message&);
template void Connection::send_with_content(uint16_t, const BasicGetOk&, const broker::Message&);
template void Connection::send_with_content(uint16_t, const BasicReturn&, const broker::Message&);

void Connection::describe(engine::ConnectionInfo& out) const {
  out.protocol = "AMQP 0-9-1";
  switch (state_) {
    case State::Header:
    case State::StartOk: out.state = "starting"; break;
    case State::TuneOk: out.state = "tuning"; break;
    case State::Open: out.state = "opening"; break;
    case State::Opened: out.state = blocked_ ? "blocked" : alarms_.any() ? "blocking" : "running"; break;
    case State::Closing: out.state = "closing"; break;
    case State::Closed: out.state = "closed"; break;
  }
  out.auth_mechanism = mechanism_;
  out.frame_max = frame_max_;
  out.channel_max = channel_max_;
  out.timeout = heartbeat_;
  out.client_properties = client_props_;
  out.channels.reserve(channels_.size());
  for (const auto& [_, ch] : channels_) ch->describe(out.channels.emplace_back());
  std::sort(out.channels.begin(), out.channels.end(),
            [](const engine::ChannelInfo& a, const engine::ChannelInfo& b) { return a.number < b.number; });
}

}  // namespace warren::amqp091

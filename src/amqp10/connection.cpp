#include "amqp10/connection.hpp"

#include <fmt/format.h>

#include "amqp10/session.hpp"

namespace warren::amqp10 {

namespace {
constexpr std::string_view kTlsHeader{"AMQP\2\1\0\0", 8};
}  // namespace

Connection::Call::Call(Connection& conn, TimePoint now) : c(conn) {
  if (c.depth_++ == 0) c.now_ = now;
}

Connection::Call::~Call() {
  if (--c.depth_ == 0) c.flush();
}

Connection::Connection(broker::Broker& broker, uint64_t id, const ServerOptions& opts, engine::Transport& transport,
                       auth::Peer peer, TimePoint now)
    : broker_(broker), id_(id), opts_(opts), transport_(transport), peer_(std::move(peer)),
      opened_at_(now), last_received_(now), last_sent_(now), now_(now) {}

Connection::~Connection() {
  if (state_ != State::Closed) release_all();
}

void Connection::flush() {
  if (state_ == State::Closed) {
    out_.clear();
    return;
  }
  for (auto& [_, s] : sessions_) s->end_turn();
  if (out_.empty()) return;
  transport_.send(out_);
  out_.clear();
  last_sent_ = now_;
}

void Connection::flush_if_idle() {
  if (depth_ == 0) flush();
}

void Connection::send(uint16_t channel, const Performative& p) {
  append_frame(out_, FrameType::Amqp, channel, p);
}

void Connection::send_shared(std::shared_ptr<const std::string> body) {
  if (!out_.empty()) {
    transport_.send(out_);
    out_.clear();
  }
  transport_.send_shared(std::move(body));
  last_sent_ = now_;
}

void Connection::send_slice(const std::shared_ptr<const std::string>& body, size_t offset, size_t length) {
  if (!out_.empty()) {
    transport_.send(out_);
    out_.clear();
  }
  transport_.send_slice(body, offset, length);
  last_sent_ = now_;
}

void Connection::feed(std::span<const uint8_t> bytes, TimePoint now) {
  if (state_ == State::Closed) return;
  Call call(*this, now);
  last_received_ = now;
  input_.append(as_chars(bytes));
  std::span<const uint8_t> in = as_bytes(input_);
  size_t used = 0;
  while (state_ != State::Closed) {
    std::span<const uint8_t> rest = in.subspan(used);
    if (state_ == State::Header || state_ == State::SaslHeader || state_ == State::AmqpHeader) {
      const size_t before = rest.size();
      if (!handle_header(rest)) break;
      used += before - rest.size();
      continue;
    }
    // Before open, frames are limited to 512 bytes (2.4.1).
    const uint32_t limit = state_ == State::Opened ? opts_.max_frame_size : kMinMaxFrameSize;
    Frame f;
    ParseResult r = parse_frame(rest, limit, f);
    if (r.status == ParseStatus::NeedMore) break;
    if (r.status == ParseStatus::Error) {
      connection_error(r.condition, r.description);
      break;
    }
    handle_frame(f);
    used += r.consumed;
  }
  if (state_ == State::Closed) {
    input_.clear();
    return;
  }
  input_.erase(0, used);
}

// The protocol header in `in`: false when more bytes are needed (or the
// connection is closed); else consumes it.
bool Connection::handle_header(std::span<const uint8_t>& in) {
  if (in.size() < kAmqpHeader.size()) return false;
  std::string_view h = as_chars(in.first(kAmqpHeader.size()));
  auto refuse = [&](std::string_view ours) {
    out_.append(ours);
    finish();
    return false;
  };
  in = in.subspan(kAmqpHeader.size());
  if (state_ == State::Header && h == kSaslHeader) {
    sasl_ = true;
    out_.append(kSaslHeader);
    SaslMechanisms m;
    m.sasl_server_mechanisms = {"PLAIN", "ANONYMOUS"};
    if (opts_.cert_login && transport_.peer_cert_cn()) m.sasl_server_mechanisms.insert(m.sasl_server_mechanisms.begin(), "EXTERNAL");
    append_frame(out_, FrameType::Sasl, 0, m);
    state_ = State::SaslInit;
    return true;
  }
  if (h == kAmqpHeader && state_ != State::AmqpHeader) {
    out_.append(kAmqpHeader);
    // Without SASL, the default user, if it may log in from here.
    if (state_ == State::Header && check_user(opts_.default_user, std::nullopt)) user_ = opts_.default_user;
    state_ = State::Open;
    return true;
  }
  // A header we do not take: the one we would have (SASL for TLS), and close.
  if (h == kTlsHeader || state_ == State::Header) return refuse(h == kTlsHeader ? kSaslHeader : kAmqpHeader);
  return refuse(kAmqpHeader);
}

bool Connection::check_user(std::string_view user, std::optional<std::string_view> password) {
  if (user.empty()) return false;
  auth::Directory& dir = *opts_.directory;
  return (password ? dir.authenticate(user, *password, peer_, now_) : dir.admit(user, peer_)) == auth::LoginResult::Ok;
}

void Connection::handle_frame(const Frame& f) {
  if (state_ == State::SaslInit) {
    if (f.type != FrameType::Sasl) return connection_error(connection_error::kFramingError, "expected sasl-init");
    if (auto* init = as<SaslInit>(f.body)) return handle_sasl_init(*init);
    return connection_error(connection_error::kFramingError, "expected sasl-init");
  }
  if (f.type == FrameType::Sasl)
    return connection_error(connection_error::kFramingError, "SASL frame after the SASL exchange");
  if (std::holds_alternative<std::monostate>(f.body)) return;  // an empty frame: the peer is alive
  if (state_ == State::Open) {
    if (auto* open = as<Open>(f.body); open && f.channel == 0) return handle_open(*open);
    return connection_error(amqp_error::kIllegalState,
                            fmt::format("expected open, got {}", performative_name(f.body)));
  }
  if (as<Open>(f.body)) return connection_error(amqp_error::kIllegalState, "open received twice");
  if (as<Close>(f.body)) return handle_close();
  if (auto* b = as<Begin>(f.body)) return handle_begin(f.channel, *b);
  if (auto* e = as<End>(f.body)) return handle_end(f.channel, *e);
  auto it = sessions_.find(f.channel);
  if (it == sessions_.end())
    return connection_error(amqp_error::kIllegalState,
                            fmt::format("{} on channel {}, which has no session", performative_name(f.body),
                                        f.channel));
  if (it->second->ending()) return;  // we ended it: the rest until its end does not matter
  it->second->handle(f);
}

void Connection::handle_sasl_init(const SaslInit& init) {
  std::string user;
  std::optional<std::string_view> password;
  bool ok = false;
  if (init.mechanism == "PLAIN" && init.initial_response) {
    // [authzid] NUL authcid NUL password
    std::string_view r = *init.initial_response;
    size_t a = r.find('\0');
    size_t b = a == std::string_view::npos ? a : r.find('\0', a + 1);
    if (b != std::string_view::npos) {
      user = r.substr(a + 1, b - a - 1);
      password = r.substr(b + 1);
      ok = check_user(user, password);
    }
  } else if (init.mechanism == "EXTERNAL" && opts_.cert_login && transport_.peer_cert_cn()) {
    // The certificate's CN; a client may name it (an authorization
    // identity), but not anyone else.
    user = *transport_.peer_cert_cn();
    const std::string_view asked = init.initial_response ? std::string_view(*init.initial_response) : "";
    ok = (asked.empty() || asked == user) && check_user(user, std::nullopt);
  } else if (init.mechanism == "ANONYMOUS") {
    user = opts_.default_user;
    ok = check_user(user, std::nullopt);
  }
  SaslOutcome outcome;
  outcome.code = ok ? sasl_code::kOk : sasl_code::kAuth;
  append_frame(out_, FrameType::Sasl, 0, outcome);
  if (!ok) return finish();
  user_ = user;
  mechanism_ = std::string(init.mechanism);
  state_ = State::SaslHeader;
}

void Connection::handle_open(const Open& open) {
  peer_max_frame_ = std::max<uint32_t>(open.max_frame_size, kMinMaxFrameSize);
  channel_max_ = std::min(open.channel_max, opts_.channel_max);
  peer_idle_ = std::chrono::milliseconds(open.idle_time_out.value_or(0));
  container_id_ = std::string(open.container_id).substr(0, 256);
  std::string vhost = "/";
  if (open.hostname && open.hostname->starts_with("vhost:")) vhost = open.hostname->substr(6);
  Open ours;
  ours.container_id = opts_.container_id;
  ours.max_frame_size = opts_.max_frame_size;
  ours.channel_max = channel_max_;
  if (opts_.idle_time_out.count() > 0) ours.idle_time_out = uint32_t(opts_.idle_time_out.count());
  ours.offered_capabilities = {"ANONYMOUS-RELAY"};
  Value::Map props;
  props.emplace_back(Value::symbol("product"), Value::string(opts_.product));
  props.emplace_back(Value::symbol("version"), Value::string(opts_.version));
  ours.properties = Value::map(std::move(props));
  send(0, ours);
  state_ = State::Opened;
  last_received_ = last_sent_ = now_;
  if (user_.empty())
    return connection_error(amqp_error::kUnauthorizedAccess,
                            fmt::format("user '{}' can only connect via localhost", opts_.default_user));
  // As the 0-9-1 engine: the vhost exists, its connection limit, access.
  broker::VHost* vh = broker_.vhost(vhost);
  if (!vh || !opts_.directory->vhost(vhost))
    return connection_error(amqp_error::kNotFound, fmt::format("vhost '{}' not found", vhost));
  if (vh->connection_limit_reached())
    return connection_error(amqp_error::kResourceLimitExceeded,
                            fmt::format("access to vhost '{}' refused for user '{}': vhost connection limit ({}) is "
                                        "reached",
                                        vhost, user_, vh->max_connections()));
  access_ = auth::Access(*opts_.directory, user_, vhost);
  if (!access_.still_granted())
    return connection_error(amqp_error::kUnauthorizedAccess,
                            fmt::format("access to vhost '{}' refused for user '{}'", vhost, user_));
  vh->admit_connection(id_);
  vhost_ = vh;
}

void Connection::handle_begin(uint16_t channel, const Begin& begin) {
  if (sessions_.contains(channel))
    return connection_error(amqp_error::kIllegalState, fmt::format("begin on channel {}, already in use", channel));
  if (begin.remote_channel)
    return connection_error(amqp_error::kIllegalState, "begin with a remote-channel: we begin no sessions");
  if (channel > channel_max_)
    return connection_error(connection_error::kFramingError,
                            fmt::format("channel {} is above channel-max {}", channel, channel_max_));
  // Our channel is the peer's: each of its sessions has one of ours.
  sessions_.emplace(channel, std::make_unique<Session>(*this, channel, begin));
}

void Connection::handle_end(uint16_t channel, const End& end) {
  auto it = sessions_.find(channel);
  if (it == sessions_.end())
    return connection_error(amqp_error::kIllegalState, fmt::format("end on channel {}, which has no session", channel));
  std::unique_ptr<Session> s = std::move(it->second);
  sessions_.erase(it);
  const bool answered = s->ending();
  // Transfers that came before the end learn their outcome before it, as
  // 0-9-1 confirms what came before a close.
  if (!answered) s->flush_dispositions();
  s->release();
  if (!answered) send(channel, End{});
}

void Connection::handle_close() {
  // Likewise before the close: an unsettled transfer written just ahead of
  // it is settled, not left in doubt.
  for (auto& [_, s] : sessions_) s->flush_dispositions();
  release_all();
  send(0, Close{});
  finish();
}

void Connection::connection_error(std::string_view condition, std::string description) {
  if (state_ == State::Closed) return;
  if (state_ == State::Opened) {
    Close c;
    c.error = make_error(condition, std::move(description));
    send(0, c);
  } else if (state_ == State::Open) {
    // 2.4.5: before our open, an open then the close.
    Open ours;
    ours.container_id = opts_.container_id;
    send(0, ours);
    Close c;
    c.error = make_error(condition, std::move(description));
    send(0, c);
  }
  release_all();
  finish();
}

void Connection::close_forced(std::string_view text) {
  Call call(*this, now_);
  connection_error(connection_error::kConnectionForced, std::string(text));
}

void Connection::release_all() {
  auto sessions = std::move(sessions_);
  sessions_.clear();
  for (auto& [_, s] : sessions) s->release();
  sessions.clear();
  broker_.connection_closed(id_, now_);
}

void Connection::finish() {
  if (state_ == State::Closed) return;
  if (!sessions_.empty()) release_all();
  else broker_.connection_closed(id_, now_);
  if (!out_.empty()) transport_.send(out_);
  out_.clear();
  state_ = State::Closed;
  transport_.close();
}

void Connection::transport_closed(TimePoint now) {
  if (state_ == State::Closed) return;
  now_ = now;
  out_.clear();
  release_all();
  state_ = State::Closed;
}

void Connection::output_drained(TimePoint now) {
  if (state_ == State::Closed) return;
  Call call(*this, now);
  for (auto& [_, s] : sessions_) s->resume();
}

void Connection::resource_alarm(engine::Alarms alarms) {
  alarms_ = alarms;
  const bool on = alarms.any();
  if (state_ == State::Closed) return;
  Call call(*this, now_);
  if (on && published_ && !blocked_) {
    blocked_ = true;
    transport_.set_reading(false);
  }
  if (!on && blocked_) {
    blocked_ = false;
    transport_.set_reading(true);
    last_received_ = now_;  // what we did not read cannot count as silence
  }
  if (!on)
    for (auto& [_, s] : sessions_) s->resume();
}

void Connection::note_publish() {
  published_ = true;
  if (alarms_.any() && !blocked_) {
    blocked_ = true;
    transport_.set_reading(false);
  }
}

void Connection::retry_parked_soon() {
  if (!retry_at_) retry_at_ = now_ + std::chrono::milliseconds(50);
}

void Connection::advance(TimePoint now) {
  if (state_ == State::Closed) return;
  Call call(*this, now);
  if (retry_at_ && now >= *retry_at_) {
    retry_at_.reset();
    for (auto& [_, s] : sessions_) s->release_parked();
  }
  if (state_ != State::Opened) {
    if (now - opened_at_ >= opts_.handshake_timeout) {
      if (state_ == State::Open)
        return connection_error(amqp_error::kResourceLimitExceeded, "no open within the handshake timeout");
      finish();
    }
    return;
  }
  if (blocked_) last_received_ = now;  // not reading: the peer's frames wait in the socket
  if (opts_.idle_time_out.count() > 0 && now - last_received_ >= 2 * opts_.idle_time_out)
    return connection_error(amqp_error::kResourceLimitExceeded,
                            fmt::format("no frame received for {} ms (idle-time-out {} ms)",
                                        std::chrono::duration_cast<std::chrono::milliseconds>(now - last_received_).count(),
                                        opts_.idle_time_out.count()));
  if (peer_idle_.count() > 0 && now - last_sent_ >= peer_idle_ / 2 && out_.empty()) {
    append_frame(out_, FrameType::Amqp, 0, std::monostate{});
  }
}

std::optional<TimePoint> Connection::next_deadline() const {
  if (state_ == State::Closed) return std::nullopt;
  if (state_ != State::Opened) return opened_at_ + opts_.handshake_timeout;
  std::optional<TimePoint> d = retry_at_;
  if (opts_.idle_time_out.count() > 0 && (!d || last_received_ + 2 * opts_.idle_time_out < *d))
    d = last_received_ + 2 * opts_.idle_time_out;
  if (peer_idle_.count() > 0) {
    TimePoint t = last_sent_ + peer_idle_ / 2;
    if (!d || t < *d) d = t;
  }
  return d;
}

void Connection::describe(engine::ConnectionInfo& out) const {
  out.protocol = "AMQP 1.0";
  switch (state_) {
    case State::Header:
    case State::SaslInit:
    case State::SaslHeader:
    case State::AmqpHeader: out.state = "starting"; break;
    case State::Open: out.state = "opening"; break;
    case State::Opened: out.state = blocked_ ? "blocked" : alarms_.any() ? "blocking" : "running"; break;
    case State::Closed: out.state = "closed"; break;
  }
  out.auth_mechanism = mechanism_.empty() ? "none" : mechanism_;
  out.frame_max = peer_max_frame_;
  out.channel_max = channel_max_;
  out.timeout = uint32_t(opts_.idle_time_out.count() / 1000);
  if (!container_id_.empty()) out.client_properties.emplace_back("container_id", container_id_);
  for (const auto& [_, s] : sessions_) s->describe(out.channels.emplace_back());
}

}  // namespace warren::amqp10

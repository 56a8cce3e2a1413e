#include "socketlock/client_engine.hpp"

#include <fmt/format.h>

namespace warren::socketlock {

using locks::Mode;

ClientEngine::ClientEngine(ClientOptions opts) : opts_(std::move(opts)), id_(opts_.client_id) {}

void ClientEngine::start(TimePoint now) {
  phase_ = Phase::Hello;
  hello_sent_ = now;
  last_received_ = now;
  send(now, kHello);
}

void ClientEngine::send(TimePoint now, std::string_view verb, std::string_view arg) {
  if (go_ && verb == kHello) {
    out_.append("HELLO\n");
  } else {
    out_.append(id_).append(" ").append(verb);
    if (!arg.empty()) out_.append(" ").append(arg);
    out_.push_back('\n');
  }
  last_sent_ = now;
}

void ClientEngine::emit(ClientEvent::Kind k, std::string text) {
  ClientEvent e;
  e.kind = k;
  e.text = std::move(text);
  if (held_) {
    e.lock_id = held_->id;
    e.token = held_->token;
    e.mode = held_->mode;
    e.expires = held_->expires;
  } else {
    e.mode = acq_mode_;
  }
  events_.push_back(std::move(e));
}

void ClientEngine::broken(std::string_view why) {
  phase_ = Phase::Broken;
  emit(ClientEvent::Kind::Broken, std::string(why));
}

void ClientEngine::take_events(std::vector<ClientEvent>& out) {
  out.clear();
  out.swap(events_);
}

bool ClientEngine::acquire(Mode mode, std::optional<std::chrono::seconds> ttl, TimePoint now) {
  if (phase_ != Phase::Ready || acq_ != Acq::None || held_) return false;
  acq_ = Acq::Requested;
  acq_offer_.clear();
  acq_mode_ = mode;
  acq_ttl_ = ttl;
  std::string arg;
  if (go_) {
    acq_name_ = fmt::format("l{}-{}", id_, ++name_seq_);
    arg = acq_name_;
  }
  if (ttl) arg += fmt::format("{}{}", arg.empty() ? "" : " ", ttl->count());
  send(now, mode == Mode::Shared ? kReqRead : kReqWrite, arg);
  return true;
}

bool ClientEngine::cancel(TimePoint now) {
  if (acq_ == Acq::None || acq_ == Acq::Cancelling) return acq_ == Acq::Cancelling;
  if (go_) return false;
  acq_ = Acq::Cancelling;
  send(now, kCancel);
  return true;
}

void ClientEngine::release(TimePoint now) {
  if (!held_) return;
  send(now, kRelease, held_->id);
  held_.reset();
}

bool ClientEngine::show(TimePoint now) {
  if (phase_ != Phase::Ready || go_) return false;
  send(now, kShow);
  return true;
}

void ClientEngine::eol(TimePoint now) {
  if (phase_ == Phase::Ready) send(now, kEol);
}

void ClientEngine::become_held(std::string id, TimePoint now) {
  Held h{std::move(id), 0, acq_mode_, std::nullopt, now + opts_.status_interval};
  if (!go_) h.token = parse_u64(h.id).value_or(0);
  if (acq_ttl_) h.expires = confirm_sent_ + *acq_ttl_;
  held_ = std::move(h);
  acq_ = Acq::None;
  emit(ClientEvent::Kind::Acquired);
}

void ClientEngine::lose(std::string_view why, TimePoint now) {
  emit(ClientEvent::Kind::Lost, std::string(why));
  held_.reset();
}

void ClientEngine::feed(std::string_view bytes, TimePoint now) {
  if (phase_ == Phase::Broken) return;
  last_received_ = now;
  ping_sent_.reset();
  reader_.append(bytes);
  while (auto line = reader_.next()) {
    handle_line(*line, now);
    if (phase_ == Phase::Broken) return;
  }
  if (reader_.overflow()) broken("server sent an over-long line");
}

void ClientEngine::handle_line(std::string_view line, TimePoint now) {
  Words w = split_words(line, 3);
  if (w.size() < 2) return;
  if (w[0] == kConnected) {  // Go dialect: "CONNECTED <assigned-id>"
    if (phase_ != Phase::Hello) return;
    id_ = std::string(w[1]);
    go_ = true;
    phase_ = Phase::Ready;
    emit(ClientEvent::Kind::Ready);
    return;
  }
  if (w[0] != id_) return;  // not for us
  std::string_view verb = w[1];
  std::string_view arg = w.size() > 2 ? w[2] : std::string_view{};

  if (verb == kConnected) {
    if (phase_ == Phase::Hello) {
      go_ = false;  // a seed answer, perhaps after our bare HELLO went out: the server speaks seed
      phase_ = Phase::Ready;
      emit(ClientEvent::Kind::Ready);
    }
  } else if (verb == kReadLock || verb == kWriteLock) {
    if (acq_ != Acq::Requested || (go_ && arg != acq_name_) || arg.empty()) return;
    confirm_sent_ = now;
    send(now, kConfirm, arg);
    if (go_) {
      become_held(std::string(arg), now);  // Go servers do not acknowledge CONFIRM
    } else {
      acq_ = Acq::Confirming;
      acq_offer_ = std::string(arg);
    }
  } else if (verb == kLockOk) {
    if (acq_ == Acq::Confirming && arg == acq_offer_) become_held(std::string(arg), now);
    // Our CONFIRM crossed our CANCEL: the lock is ours but nobody wants it.
    if (acq_ == Acq::Cancelling && !acq_offer_.empty() && arg == acq_offer_) send(now, kRelease, arg);
  } else if (verb == kLockTimeout) {
    if (held_ && arg == held_->id) lose("lock expired", now);
  } else if (verb == kReqFail) {
    if (acq_ == Acq::Requested || acq_ == Acq::Confirming) {
      acq_ = Acq::None;
      emit(ClientEvent::Kind::AcquireFailed, std::string(arg));
    } else if (go_ && held_ && arg == locks::to_string(locks::Failure::TimeoutWaitingForConfirm)) {
      // Go servers do not acknowledge CONFIRM: this is how we learn ours came too late.
      lose("confirm came too late", now);
    }
    // Otherwise it answers something already over (a cancelled request):
    // nothing is waiting for it.
  } else if (verb == kCancelled) {
    if (acq_ == Acq::Cancelling) {
      acq_ = Acq::None;
      emit(ClientEvent::Kind::Cancelled);
    }
  } else if (verb == kHolder || verb == kOffer || verb == kWaiter) {
    emit(ClientEvent::Kind::Show, fmt::format("{} {}", verb, arg));
  } else if (verb == kShowEnd) {
    emit(ClientEvent::Kind::ShowEnd, std::string(arg));
  }
  // PONG, RELEASED: liveness only (last_received_ is already updated).
}

void ClientEngine::advance(TimePoint now) {
  if (phase_ == Phase::Hello && now - hello_sent_ >= opts_.hello_timeout) {
    if (go_) return broken("no answer to HELLO");
    go_ = true;  // a Go server ignores "<id> HELLO": try its bare form
    hello_sent_ = now;
    send(now, kHello);
  }
  if (held_ && held_->expires && *held_->expires <= now) {
    std::string id = held_->id;
    lose("lock ttl expired", now);
    send(now, kRelease, id);  // frees it early if the server's clock lags ours
  }
  if (held_ && held_->next_status <= now) {
    send(now, kStatus, held_->id);
    held_->next_status = now + opts_.status_interval;
  }
  if (phase_ == Phase::Ready) {
    if (ping_sent_ && now - *ping_sent_ >= opts_.heartbeat) return broken("server unresponsive");
    if (!ping_sent_ && now - std::max(last_sent_, last_received_) >= opts_.heartbeat) {
      send(now, kPing);
      ping_sent_ = now;
    }
  }
}

std::optional<TimePoint> ClientEngine::next_deadline() const {
  std::optional<TimePoint> d;
  auto consider = [&](TimePoint t) { if (!d || t < *d) d = t; };
  if (phase_ == Phase::Hello) consider(hello_sent_ + opts_.hello_timeout);
  if (held_) {
    if (held_->expires) consider(*held_->expires);
    consider(held_->next_status);
  }
  if (phase_ == Phase::Ready)
    consider(ping_sent_ ? *ping_sent_ + opts_.heartbeat : std::max(last_sent_, last_received_) + opts_.heartbeat);
  return d;
}

}  // namespace warren::socketlock

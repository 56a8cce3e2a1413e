// Signals delivered as loop events through a signalfd.
#pragma once

#include <signal.h>

#include <functional>
#include <initializer_list>

#include "net/event_loop.hpp"

namespace warren::net {

class SignalSet : public Pollable {
 public:
  // Blocks `signals` in the calling thread - construct it before starting
  // other threads so they inherit the mask - and calls fn(signo) on the loop.
  // The signals stay blocked after destruction: unblocking could deliver a
  // pending one with its default action (usually: terminate).
  SignalSet(EventLoop& loop, std::initializer_list<int> signals, std::function<void(int)> fn);
  ~SignalSet() override;
  SignalSet(const SignalSet&) = delete;
  SignalSet& operator=(const SignalSet&) = delete;

  void on_events(uint32_t events) override;

 private:
  EventLoop& loop_;
  int fd_ = -1;
  std::function<void(int)> fn_;
  bool* destroyed_ = nullptr;
};

}  // namespace warren::net

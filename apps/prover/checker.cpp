#include "checker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace warren::prover {

namespace {

struct Interval {
  int p;
  int64_t from, to;
  uint64_t token;
  uint32_t permit = 0;  // a semaphore's slot (0: none)
};

// When a fault was in force: from its injection to its heal plus the
// aftermath (LockCheck::aftermath_us); a kill: only its instant (the
// process's own intervals end there anyway).
struct Window {
  int target;  // -1: the broker, or every client
  int64_t from, to;
};

std::vector<Window> fault_windows(const History& h, int64_t end, int64_t aftermath) {
  std::vector<Window> out;
  std::map<std::pair<int, std::string>, size_t> open;
  for (const Op& op : h) {
    if (op.f == Fn::Fault) {
      out.push_back({op.process, op.t_us, op.detail == "kill" ? op.t_us : end});
      if (op.detail != "kill") open[{op.process, op.detail}] = out.size() - 1;
    } else if (op.f == Fn::Heal) {
      auto it = open.find({op.process, op.detail});
      if (it == open.end()) continue;
      out[it->second].to = op.t_us + aftermath;
      open.erase(it);
    }
  }
  return out;
}

// What each client believed it held: acquire ok until it let go, died, or
// saw its connection fail.
std::vector<Interval> beliefs(const History& h, int64_t end) {
  std::vector<Interval> out;
  std::map<int, Interval> open;
  auto close = [&](int p, int64_t t) {
    auto it = open.find(p);
    if (it == open.end()) return;
    it->second.to = t;
    out.push_back(it->second);
    open.erase(it);
  };
  for (const Op& op : h) {
    if (op.f == Fn::Acquire && op.type == Type::Ok) {
      close(op.process, op.t_us);
      open[op.process] = Interval{op.process, op.t_us, end, op.value, op.permit};
    } else if ((op.f == Fn::Release && op.type == Type::Invoke) || (op.f == Fn::Acquire && op.type == Type::Info) ||
               (op.f == Fn::Release && op.type == Type::Info) || (op.f == Fn::Fault && op.detail == "kill")) {
      close(op.process, op.t_us);
    }
  }
  for (auto& [p, i] : open) out.push_back(Interval{p, i.from, end, i.token, i.permit});
  return out;
}

// Calls fn(active) each time opening an interval makes more than `permits`
// active at once, or makes two active with one permit slot (a semaphore
// fenced per slot: each slot is a mutex). Intervals touching at an instant
// do not overlap.
template <class Fn>
void overlaps(std::vector<Interval> intervals, uint32_t permits, Fn&& fn) {
  struct Edge {
    int64_t t;
    bool open;
    size_t i;
  };
  std::vector<Edge> edges;
  for (size_t i = 0; i < intervals.size(); ++i) {
    edges.push_back({intervals[i].from, true, i});
    edges.push_back({intervals[i].to, false, i});
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) {
    return a.t != b.t ? a.t < b.t : (!a.open && b.open);  // closes first at the same instant
  });
  std::set<size_t> active;
  for (const Edge& e : edges) {
    if (!e.open) {
      active.erase(e.i);
      continue;
    }
    active.insert(e.i);
    const uint32_t slot = intervals[e.i].permit;
    const bool slot_shared = slot != 0 && std::any_of(active.begin(), active.end(), [&](size_t i) {
      return i != e.i && intervals[i].permit == slot;
    });
    if (active.size() <= permits && !slot_shared) continue;
    std::vector<Interval> now;
    for (size_t i : active) now.push_back(intervals[i]);
    fn(now, e.t);
  }
}

std::vector<int> processes_of(const std::vector<Interval>& v) {
  std::vector<int> out;
  for (const Interval& i : v) out.push_back(i.p);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string list(const std::vector<Interval>& v) {
  std::string s;
  for (const Interval& i : v)
    s += fmt::format("{}client {} (token {}{}, {:.3f}-{:.3f} s)", s.empty() ? "" : ", ", i.p, i.token,
                     i.permit ? fmt::format(", permit {}", i.permit) : std::string(), i.from / 1e6, i.to / 1e6);
  return s;
}

void check_beliefs(const History& h, const LockCheck& c, Verdict& v) {
  const std::vector<Window> faults = fault_windows(h, c.end_us, c.aftermath_us);
  overlaps(beliefs(h, c.end_us), c.permits, [&](const std::vector<Interval>& active, int64_t t) {
    int64_t from = t;
    for (const Interval& i : active) from = std::min(from, i.from);
    std::vector<int> who = processes_of(active);
    bool explained = std::any_of(faults.begin(), faults.end(), [&](const Window& w) {
      bool touches = w.target < 0 || std::binary_search(who.begin(), who.end(), w.target);
      return touches && w.from <= t && w.to >= from;
    });
    if (explained) {
      ++v.belief_overlaps;
      return;
    }
    v.violations.push_back({"double-grant", t, who,
                            fmt::format("{} held at once with no fault on any of them: {}", active.size(), list(active))});
  });
}

// The sessions the fenced resource accepted whole.
void check_resource(const History& h, const LockCheck& c, Verdict& v) {
  std::map<std::pair<int, uint64_t>, std::pair<int64_t, uint32_t>> begun;  // when, which slot
  std::vector<Interval> sessions;
  for (const Op& op : h) {
    if (op.f != Fn::Write) continue;
    if (op.type == Type::Fail) {
      ++v.writes_fenced;
      continue;
    }
    if (op.type != Type::Ok) continue;
    ++v.writes_accepted;
    if (op.detail == "begin") {
      begun[{op.process, op.value}] = {op.t_us, op.permit};
    } else if (op.detail == "end") {
      auto it = begun.find({op.process, op.value});
      if (it == begun.end()) continue;
      sessions.push_back({op.process, it->second.first, op.t_us, op.value, it->second.second});
      begun.erase(it);
    }
  }
  overlaps(sessions, c.permits, [&](const std::vector<Interval>& active, int64_t t) {
    v.violations.push_back({"resource", t, processes_of(active),
                            fmt::format("the resource accepted {} overlapping sessions: {}", active.size(), list(active))});
  });
}

struct Grant {
  int p;
  int64_t invoked, ok;
  uint64_t token;
};

// A grant completed before another was asked for must have the lower token.
void check_token_order(std::vector<Grant> grants, Verdict& v) {
  std::vector<Grant> by_ok = grants;
  std::sort(by_ok.begin(), by_ok.end(), [](const Grant& a, const Grant& b) { return a.ok < b.ok; });
  std::sort(grants.begin(), grants.end(), [](const Grant& a, const Grant& b) { return a.invoked < b.invoked; });
  size_t done = 0;
  const Grant* highest = nullptr;
  for (const Grant& g : grants) {
    while (done < by_ok.size() && by_ok[done].ok < g.invoked) {
      if (!highest || by_ok[done].token > highest->token) highest = &by_ok[done];
      ++done;
    }
    if (highest && g.token <= highest->token)
      v.violations.push_back({"token-order", g.ok, {highest->p, g.p},
                              fmt::format("client {} got token {} after client {} had been granted {}", g.p, g.token,
                                          highest->p, highest->token)});
  }
}

// Tokens are compared within a permit slot: the recipes count them per slot
// (Warren's semaphores count per vhost, which passes per slot too).
void check_tokens(const History& h, Verdict& v) {
  std::map<int, int64_t> asked;
  std::map<uint32_t, std::vector<Grant>> by_slot;
  std::map<std::pair<uint32_t, uint64_t>, int> seen;
  for (const Op& op : h) {
    if (op.f != Fn::Acquire) continue;
    if (op.type == Type::Invoke) asked[op.process] = op.t_us;
    if (op.type != Type::Ok || op.value == 0) continue;
    by_slot[op.permit].push_back({op.process, asked.count(op.process) ? asked[op.process] : op.t_us, op.t_us, op.value});
    if (auto [it, fresh] = seen.emplace(std::pair{op.permit, op.value}, op.process); !fresh)
      v.violations.push_back({"token-repeat", op.t_us, {it->second, op.process},
                              fmt::format("token {}{} granted to client {} and again to client {}", op.value,
                                          op.permit ? fmt::format(" (permit {})", op.permit) : std::string(),
                                          it->second, op.process)});
  }
  for (auto& [slot, grants] : by_slot) check_token_order(std::move(grants), v);
}

void check_liveness(const History& h, const LockCheck& c, Verdict& v) {
  int64_t healed = 0;
  for (const Op& op : h)
    if (op.f == Fn::Heal || (op.f == Fn::Fault && op.detail == "kill")) healed = std::max(healed, op.t_us);
  std::map<int, int64_t> waiting;  // since when each client has asked without being served
  auto served = [&](int p, int64_t t) {
    auto it = waiting.find(p);
    if (it == waiting.end()) return;
    if (it->second >= healed) v.max_wait_after_heal_us = std::max(v.max_wait_after_heal_us, t - it->second);
    const int64_t deadline = std::max(it->second, healed) + c.liveness_bound_us;
    if (t > deadline)
      v.violations.push_back({"liveness", t, {p},
                              fmt::format("client {} asked at {:.3f} s and was served only at {:.3f} s (bound {:.1f} s "
                                          "after the last heal at {:.3f} s)",
                                          p, it->second / 1e6, t / 1e6, c.liveness_bound_us / 1e6, healed / 1e6)});
    waiting.erase(it);
  };
  for (const Op& op : h) {
    if (op.f == Fn::Acquire && op.type == Type::Invoke) waiting.emplace(op.process, op.t_us);
    if (op.f == Fn::Acquire && op.type == Type::Ok) served(op.process, op.t_us);
    if (op.f == Fn::Fault && op.detail == "kill") waiting.erase(op.process);  // it stopped asking
  }
  for (const auto& [p, since] : waiting) {
    const int64_t deadline = std::max(since, healed) + c.liveness_bound_us;
    if (deadline < c.end_us)
      v.violations.push_back({"liveness", c.end_us, {p},
                              fmt::format("client {} asked at {:.3f} s and was never served (bound {:.1f} s after the "
                                          "last heal at {:.3f} s)",
                                          p, since / 1e6, c.liveness_bound_us / 1e6, healed / 1e6)});
  }
}

}  // namespace

Verdict check_locks(const History& h, const LockCheck& c) {
  Verdict v;
  for (const Op& op : h) {
    if (op.type == Type::Invoke && (op.f == Fn::Acquire || op.f == Fn::Release)) ++v.operations;
    if (op.f != Fn::Acquire) continue;
    if (op.type == Type::Ok) ++v.acquired;
    if (op.type == Type::Fail) ++v.acquire_failed;
    if (op.type == Type::Info) ++v.acquire_unknown;
  }
  check_resource(h, c, v);
  check_beliefs(h, c, v);
  check_tokens(h, v);
  check_liveness(h, c, v);
  std::stable_sort(v.violations.begin(), v.violations.end(),
                   [](const Violation& a, const Violation& b) { return a.t_us < b.t_us; });
  return v;
}

Verdict check_queue(const History& h, const QueueCheck&) {
  Verdict v;
  std::set<uint64_t> confirmed;
  std::map<uint64_t, uint64_t> deliveries;
  for (const Op& op : h) {
    if (op.type == Type::Invoke && (op.f == Fn::Enqueue || op.f == Fn::Dequeue)) ++v.operations;
    if (op.f == Fn::Enqueue && op.type == Type::Ok) confirmed.insert(op.value);
    if (op.f == Fn::Dequeue && op.type == Type::Ok) ++deliveries[op.value];
  }
  v.confirmed = confirmed.size();
  for (const auto& [id, n] : deliveries) {
    v.delivered += n;
    v.duplicates += n - 1;
  }
  for (uint64_t id : confirmed) {
    if (deliveries.count(id)) continue;
    ++v.lost;
    if (v.lost <= 20)
      v.violations.push_back({"lost-message", 0, {}, fmt::format("message {} was confirmed and never delivered", id)});
  }
  if (v.lost > 20)
    v.violations.push_back({"lost-message", 0, {}, fmt::format("... and {} more confirmed messages lost", v.lost - 20)});
  return v;
}

std::string summary_line(const Verdict& v) {
  size_t m = v.violations.size();
  // The lost-message tail line stands for many.
  if (v.lost > 20) m = m - 1 + (v.lost - 20);
  return fmt::format("{} operations, {} violations", v.operations, m);
}

}  // namespace warren::prover

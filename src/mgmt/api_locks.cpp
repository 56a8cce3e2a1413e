// The management API: /api/locks[/{vhost}], Warren's own: each lock queue's
// holders, waiters and fencing tokens (lock_snapshot.hpp), as the
// console's locks page shows them.
#include "mgmt/api_route.hpp"
#include "mgmt/lock_snapshot.hpp"
#include "server/node.hpp"

namespace warren::mgmt {

Response Api::Route::locks() {
  if (!is("GET")) method_not_allowed();
  if (n() > 2) not_found();
  if (n() == 2) need_vhost(s(1));
  Want w;
  scope(w);
  if (w.only.empty() && !caller_.monitor) return list(json::array());  // no vhost it may see
  std::vector<LockInfo> all = api_.on_loop([&] {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<LockInfo> out = take_locks(api_.node_.broker(), api_.amqp_, w.only);
    loop_us_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    return out;
  });
  json out = json::array();
  for (LockInfo& l : all) {
    // As for connections and channels: a management user sees its own
    // consumers named, others' only as holding or waiting.
    if (!caller_.monitor)
      for (auto* parties : {&l.holders, &l.waiters})
        for (LockParty& p : *parties)
          if (p.user != caller_.name) p.connection.clear(), p.user.clear(), p.channel = 0, p.consumer_tag.clear();
    out.push_back(lock_json(l));
  }
  return list(std::move(out));
}

}  // namespace warren::mgmt

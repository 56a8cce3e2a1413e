#pragma once
// Who may log in, to which virtual hosts, and what they may do there:
// users (with password hashes and tags), virtual hosts (with limits), and
// each user's configure / write / read permissions per vhost, with
// RabbitMQ's meaning (docs/security.md). Knows nothing of wire formats:
// both AMQP front ends authenticate and authorise through it, and the
// management API changes it. Lives on the broker's thread.
//
// Every change bumps generation(), so that per-connection caches of
// decisions (Access) notice and ask again.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/login_throttle.hpp"
#include "auth/password.hpp"
#include "auth/pattern.hpp"
#include "common/time.hpp"

namespace warren::auth {

struct User {
  std::string name;
  std::string password_hash;  // RabbitMQ's format (password.hpp); "": no password login
  HashAlgorithm algorithm = HashAlgorithm::Sha256;
  std::vector<std::string> tags;  // administrator, management, monitoring, policymaker, impersonator...
  bool has_tag(std::string_view tag) const;
};

struct Permission {
  std::string configure = ".*";
  std::string write = ".*";
  std::string read = ".*";
};

// RabbitMQ's vhost limits; -1: no limit.
struct VHostLimits {
  int64_t max_connections = -1;
  int64_t max_queues = -1;
  bool operator==(const VHostLimits&) const = default;
};

struct VHostInfo {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  VHostLimits limits;
};

enum class Perm : uint8_t { Configure, Write, Read };
enum class Resource : uint8_t { Queue, Exchange };
std::string_view to_string(Perm p);
std::string_view to_string(Resource r);

// A user's permissions in one vhost, compiled.
struct Grant {
  explicit Grant(const Permission& p) : configure(p.configure), write(p.write), read(p.read) {}
  const Pattern& of(Perm p) const { return p == Perm::Configure ? configure : p == Perm::Write ? write : read; }
  Pattern configure, write, read;
};

enum class LoginResult : uint8_t {
  Ok,
  NoSuchUser,
  WrongPassword,
  NoPassword,    // the user has no password hash: only certificate (EXTERNAL) logins
  LoopbackOnly,  // a loopback user (guest) from another host
  Throttled,     // too many failures from this address lately (LoginThrottle)
};
std::string_view to_string(LoginResult r);

// Where a login comes from.
struct Peer {
  std::string address;  // for the throttle and the logs ("" in tests: not throttled)
  bool loopback = false;
};

class Directory {
 public:
  Directory() = default;
  // RabbitMQ's first boot: user guest (password guest, administrator, full
  // permissions), vhost "/", guest allowed from loopback addresses only.
  static std::shared_ptr<Directory> with_defaults();

  // --- logging in ---
  // A password login. Failures count against the peer's address.
  LoginResult authenticate(std::string_view user, std::string_view password, const Peer& from, TimePoint now);
  // A login without a password: SASL EXTERNAL (the name from a verified
  // certificate), AMQP 1.0's ANONYMOUS and no-SASL default user.
  LoginResult admit(std::string_view user, const Peer& from) const;
  // The user's permissions in `vhost`; null when it has none there (or
  // either does not exist): the connection is refused.
  std::shared_ptr<const Grant> grant(std::string_view user, std::string_view vhost) const;

  // --- reading ---
  const User* user(std::string_view name) const;
  const VHostInfo* vhost(std::string_view name) const;
  const std::map<std::string, User, std::less<>>& users() const { return users_; }
  const std::map<std::string, VHostInfo, std::less<>>& vhosts() const { return vhosts_; }
  // (user, vhost) -> permission
  const std::map<std::pair<std::string, std::string>, Permission>& permissions() const { return permissions_; }
  const std::vector<std::string>& loopback_users() const { return loopback_users_; }
  uint64_t generation() const { return generation_; }

  // --- changing --- (each bumps generation())
  void put_user(User u);
  bool delete_user(std::string_view name);  // and its permissions
  void put_vhost(VHostInfo v);
  bool delete_vhost(std::string_view name);  // and the permissions in it
  // Throws std::invalid_argument naming the culprit for an unknown user or
  // vhost, or a pattern that does not compile.
  void set_permission(std::string_view user, std::string_view vhost, const Permission& p);
  bool clear_permission(std::string_view user, std::string_view vhost);
  void set_loopback_users(std::vector<std::string> names);
  LoginThrottle& throttle() { return throttle_; }

  // Told of every refused login, with the reason the client is not told
  // (RabbitMQ's clients hear only "Login was refused"): for the log.
  std::function<void(std::string_view user, const Peer& from, LoginResult why)> on_refused;

 private:
  bool loopback_only(std::string_view user) const;
  template <class Pred>
  void drop_permissions(Pred gone);

  std::map<std::string, User, std::less<>> users_;
  std::map<std::string, VHostInfo, std::less<>> vhosts_;
  std::map<std::pair<std::string, std::string>, Permission> permissions_;
  // Compiled, shared with the connections that hold them.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const Grant>> grants_;
  std::vector<std::string> loopback_users_{"guest"};
  LoginThrottle throttle_;
  uint64_t generation_ = 1;
};

// A connection's view of its user's permissions in its vhost, with the
// decisions cached (a publish asks for the same exchange over and over)
// until the directory changes.
class Access {
 public:
  Access() = default;  // allows nothing: before a vhost is open
  Access(const Directory& dir, std::string user, std::string vhost);

  const std::string& user() const { return user_; }
  const std::string& vhost() const { return vhost_; }
  // Whether the user may still use the vhost (its permissions there may
  // have been cleared, the user or the vhost deleted, since it opened).
  bool still_granted();
  // Nothing when allowed; else RabbitMQ's text: "configure access to queue
  // 'q' in vhost '/' refused for user 'u'" (the reply code is 403
  // ACCESS_REFUSED, or 1.0's amqp:unauthorized-access). The default
  // exchange is "amq.default" here, as in RabbitMQ.
  std::optional<std::string> check(Perm p, Resource r, std::string_view name);

 private:
  void refresh();

  const Directory* dir_ = nullptr;
  std::string user_, vhost_;
  std::shared_ptr<const Grant> grant_;
  uint64_t generation_ = 0;
  struct Cached {
    Perm perm;
    Resource resource;
    bool allowed;
    std::string name;
  };
  static constexpr size_t kCache = 16;
  std::vector<Cached> cache_;  // most recent first, at most kCache
};

}  // namespace warren::auth

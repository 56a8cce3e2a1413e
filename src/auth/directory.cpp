#include "auth/directory.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace warren::auth {

bool User::has_tag(std::string_view tag) const { return std::find(tags.begin(), tags.end(), tag) != tags.end(); }

std::string_view to_string(Perm p) {
  switch (p) {
    case Perm::Configure: return "configure";
    case Perm::Write: return "write";
    case Perm::Read: return "read";
  }
  return "?";
}

std::string_view to_string(Resource r) { return r == Resource::Queue ? "queue" : "exchange"; }

std::string_view to_string(LoginResult r) {
  switch (r) {
    case LoginResult::Ok: return "ok";
    case LoginResult::NoSuchUser: return "no such user";
    case LoginResult::WrongPassword: return "invalid credentials";
    case LoginResult::NoPassword: return "the user has no password (certificate logins only)";
    case LoginResult::LoopbackOnly: return "the user may only connect via localhost";
    case LoginResult::Throttled: return "too many failed logins from this address: refused unchecked";
  }
  return "?";
}

std::shared_ptr<Directory> Directory::with_defaults() {
  auto d = std::make_shared<Directory>();
  d->put_user({.name = "guest", .password_hash = hash_password("guest"), .tags = {"administrator"}});
  d->put_vhost({.name = "/", .description = "Default virtual host"});
  d->set_permission("guest", "/", Permission{});
  return d;
}

bool Directory::loopback_only(std::string_view user) const {
  return std::find(loopback_users_.begin(), loopback_users_.end(), user) != loopback_users_.end();
}

LoginResult Directory::authenticate(std::string_view name, std::string_view password, const Peer& from,
                                    TimePoint now) {
  if (!from.address.empty() && !throttle_.allowed(from.address, now)) {
    if (on_refused) on_refused(name, from, LoginResult::Throttled);
    return LoginResult::Throttled;
  }
  auto it = users_.find(name);
  LoginResult r = LoginResult::Ok;
  if (it == users_.end())
    r = LoginResult::NoSuchUser;
  else if (it->second.password_hash.empty())
    r = LoginResult::NoPassword;
  else if (!verify_password(it->second.password_hash, it->second.algorithm, password))
    r = LoginResult::WrongPassword;
  else if (loopback_only(name) && !from.loopback)
    r = LoginResult::LoopbackOnly;
  if (r != LoginResult::Ok && r != LoginResult::LoopbackOnly && !from.address.empty())
    throttle_.failed(from.address, now);
  if (r != LoginResult::Ok && on_refused) on_refused(name, from, r);
  return r;
}

LoginResult Directory::admit(std::string_view name, const Peer& from) const {
  LoginResult r = LoginResult::Ok;
  if (!users_.contains(name))
    r = LoginResult::NoSuchUser;
  else if (loopback_only(name) && !from.loopback)
    r = LoginResult::LoopbackOnly;
  if (r != LoginResult::Ok && on_refused) on_refused(name, from, r);
  return r;
}

std::shared_ptr<const Grant> Directory::grant(std::string_view user, std::string_view vhost) const {
  auto it = grants_.find({std::string(user), std::string(vhost)});
  return it == grants_.end() ? nullptr : it->second;
}

const User* Directory::user(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

const VHostInfo* Directory::vhost(std::string_view name) const {
  auto it = vhosts_.find(name);
  return it == vhosts_.end() ? nullptr : &it->second;
}

void Directory::put_user(User u) {
  std::string name = u.name;
  users_[name] = std::move(u);
  ++generation_;
}

bool Directory::delete_user(std::string_view name) {
  auto it = users_.find(name);
  if (it == users_.end()) return false;
  users_.erase(it);
  drop_permissions([&](const auto& key) { return key.first == name; });
  return true;
}

// Permissions (and their grants) whose (user, vhost) key `gone` picks.
template <class Pred>
void Directory::drop_permissions(Pred gone) {
  std::erase_if(permissions_, [&](const auto& p) { return gone(p.first); });
  std::erase_if(grants_, [&](const auto& p) { return gone(p.first); });
  ++generation_;
}

void Directory::put_vhost(VHostInfo v) {
  std::string name = v.name;
  vhosts_[name] = std::move(v);
  ++generation_;
}

bool Directory::delete_vhost(std::string_view name) {
  auto it = vhosts_.find(name);
  if (it == vhosts_.end()) return false;
  vhosts_.erase(it);
  drop_permissions([&](const auto& key) { return key.second == name; });
  return true;
}

void Directory::set_permission(std::string_view user, std::string_view vhost, const Permission& p) {
  if (!users_.contains(user)) throw std::invalid_argument(fmt::format("no user '{}'", user));
  if (!vhosts_.contains(vhost)) throw std::invalid_argument(fmt::format("no vhost '{}'", vhost));
  auto grant = std::make_shared<const Grant>(p);  // throws on a bad pattern, before anything changes
  std::pair<std::string, std::string> key{std::string(user), std::string(vhost)};
  permissions_[key] = p;
  grants_[key] = std::move(grant);
  ++generation_;
}

bool Directory::clear_permission(std::string_view user, std::string_view vhost) {
  std::pair<std::string, std::string> key{std::string(user), std::string(vhost)};
  if (!permissions_.erase(key)) return false;
  grants_.erase(key);
  ++generation_;
  return true;
}

void Directory::set_loopback_users(std::vector<std::string> names) {
  loopback_users_ = std::move(names);
  ++generation_;
}

Access::Access(const Directory& dir, std::string user, std::string vhost)
    : dir_(&dir), user_(std::move(user)), vhost_(std::move(vhost)) {
  refresh();
}

void Access::refresh() {
  cache_.clear();
  grant_ = dir_ ? dir_->grant(user_, vhost_) : nullptr;
  generation_ = dir_ ? dir_->generation() : 0;
}

bool Access::still_granted() {
  if (dir_ && generation_ != dir_->generation()) refresh();
  return grant_ != nullptr;
}

std::optional<std::string> Access::check(Perm p, Resource r, std::string_view name) {
  if (r == Resource::Exchange && name.empty()) name = "amq.default";
  if (dir_ && generation_ != dir_->generation()) refresh();
  auto hit = std::find_if(cache_.begin(), cache_.end(), [&](const Cached& c) {
    return c.perm == p && c.resource == r && c.name == name;
  });
  bool allowed;
  if (hit != cache_.end()) {
    allowed = hit->allowed;
    if (hit != cache_.begin()) std::rotate(cache_.begin(), hit, hit + 1);  // most recent first
  } else {
    allowed = grant_ && grant_->of(p).matches(name);
    if (cache_.size() == kCache) cache_.pop_back();
    cache_.insert(cache_.begin(), Cached{p, r, allowed, std::string(name)});
  }
  if (allowed) return std::nullopt;
  return fmt::format("{} access to {} '{}' in vhost '{}' refused for user '{}'", to_string(p), to_string(r), name,
                     vhost_, user_);
}

}  // namespace warren::auth

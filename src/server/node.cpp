#include "server/node.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "auth/definitions.hpp"
#include "server/policy_json.hpp"
#include "store/epoch_file.hpp"

namespace warren::server {

namespace fs = std::filesystem;

Node::Node(net::EventLoop& loop, broker::Env& env, store::Io& io, NodeOptions opts, OpenStore open_store,
           broker::LockObserver* locks)
    : loop_(loop), opts_(std::move(opts)), open_store_(std::move(open_store)), locks_(locks),
      file_(io, opts_.data_dir + "/definitions.json"), broker_(env, loop.now()) {}

Node::~Node() {
  storage_.clear();  // writers finish before the broker's vhosts go
  for (std::thread& t : cleaners_) t.join();
}

std::string Node::store_dir(std::string_view vhost) const {
  std::string out = opts_.data_dir + "/store/";
  for (unsigned char c : vhost) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out.push_back(char(c));
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

bool Node::start(std::string& error) {
  auth::Directory& dir = *directory_;
  std::vector<nlohmann::json> docs;  // the saved definitions, then the import file: policies come from both
  try {
    if (std::optional<std::string> saved = file_.read()) {
      docs.push_back(nlohmann::json::parse(*saved));
      auth::import_directory(dir, docs.back());
    } else if (opts_.config_users.empty()) {  // the first boot: RabbitMQ's default user and vhost
      dir.put_vhost({.name = "/", .description = "Default virtual host"});
      dir.put_user({.name = opts_.default_user,
                    .password_hash = auth::hash_password(opts_.default_pass),
                    .tags = {"administrator"}});
      dir.set_permission(opts_.default_user, "/", {});
      spdlog::info("first boot: created user '{}' (administrator) and vhost '/'", opts_.default_user);
    }
    if (!opts_.config_users.empty()) {
      if (!dir.vhost("/")) dir.put_vhost({.name = "/", .description = "Default virtual host"});
      for (const auto& [name, password] : opts_.config_users) {
        dir.put_user({.name = name, .password_hash = auth::hash_password(password), .tags = {"administrator"}});
        dir.set_permission(name, "/", {});
      }
    }
    if (!opts_.import_file.empty()) {
      std::ifstream in(opts_.import_file);
      if (!in) throw std::runtime_error("cannot read " + opts_.import_file);
      docs.push_back(nlohmann::json::parse(in));
      auth::import_directory(dir, docs.back());
      spdlog::info("definitions imported from {}", opts_.import_file);
    }
  } catch (const std::exception& e) {
    error = fmt::format("definitions: {}", e.what());
    return false;
  }
  dir.set_loopback_users(opts_.loopback_users);
  // The broker starts with "/"; the directory says which vhosts there are.
  if (!dir.vhost("/")) broker_.remove_vhost("/");
  for (const auto& [name, info] : dir.vhosts())
    if (!open_vhost(info, error)) return false;
  try {
    for (const nlohmann::json& d : docs) import_policies(d);
  } catch (const std::exception& e) {
    error = fmt::format("definitions: {}", e.what());
    return false;
  }
  auto [text, version] = definitions();
  if (int err = file_.write(text, version)) {
    error = fmt::format("cannot write {}: {}", file_.path(), std::strerror(err));
    return false;
  }
  // Lock queues' fencing tokens: (epoch << 32) + n, above every token of
  // an earlier run (docs/locks.md).
  lock_epoch_ = store::bump_epoch(opts_.data_dir + "/lock-epoch");
  for (const auto& [_, v] : broker_.vhosts()) v->set_lock_epoch(lock_epoch_);
  // Files of vhosts deleted before a crash.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opts_.data_dir + "/store", ec))
    if (e.path().filename().string().starts_with(".deleted-")) remove_in_background(e.path().string());
  return true;
}

bool Node::open_vhost(const auth::VHostInfo& info, std::string& error) {
  broker::VHost& v = broker_.add_vhost(info.name, loop_.now());
  v.set_limits(info.limits.max_connections, info.limits.max_queues);
  v.set_lock_observer(locks_);  // before the store: recovered lock queues log too
  if (opts_.unsafe_double_grant) v.set_unsafe_double_grant(true);
  if (lock_epoch_) v.set_lock_epoch(lock_epoch_);
  Storage s;
  s.writer = std::make_unique<StoreWriter>(loop_);
  if (!open_store_(v, store_dir(info.name), *s.writer, s.store)) {
    error = fmt::format("cannot open the store of vhost '{}'", info.name);
    s.writer.reset();
    broker_.remove_vhost(info.name);
    return false;
  }
  storage_[info.name] = std::move(s);
  return true;
}

std::string Node::add_vhost(const auth::VHostInfo& info) {
  if (info.name.empty()) return "a vhost needs a name";
  if (directory_->vhost(info.name)) {  // as RabbitMQ: PUT on an existing vhost updates its metadata
    auth::VHostInfo updated = info;
    updated.limits = directory_->vhost(info.name)->limits;
    directory_->put_vhost(std::move(updated));
    return "";
  }
  std::string error;
  if (!open_vhost(info, error)) return error;
  directory_->put_vhost(info);
  spdlog::info("vhost '{}' created", info.name);
  return "";
}

std::string Node::delete_vhost(std::string_view name) {
  if (!directory_->vhost(name)) return fmt::format("no vhost '{}'", name);
  directory_->delete_vhost(name);  // no one opens it from now on
  if (on_vhost_deleting) on_vhost_deleting(name);
  broker::VHost* v = broker_.vhost(name);
  if (v) {
    // What it holds goes through the core, as deletions by clients do.
    std::vector<std::string> queues, exchanges;
    for (const auto& [q, _] : v->queues()) queues.push_back(q);
    for (const auto& [x, _] : v->exchanges())
      if (!x.empty() && !x.starts_with("amq.")) exchanges.push_back(x);
    uint64_t n = 0;
    for (const std::string& q : queues) v->delete_queue(q, false, false, 0, loop_.now(), n);
    for (const std::string& x : exchanges) v->delete_exchange(x, false);
  }
  if (auto it = storage_.find(name); it != storage_.end()) storage_.erase(it);  // writes what was left, then closes
  broker_.remove_vhost(name);
  const std::string dir = store_dir(name);
  const std::string trash = fmt::format("{}/store/.deleted-{}-{}", opts_.data_dir, ++trash_, ::getpid());
  std::error_code ec;
  fs::rename(dir, trash, ec);
  if (!ec) remove_in_background(trash);
  spdlog::info("vhost '{}' deleted", name);
  return "";
}

std::string Node::set_vhost_limits(std::string_view name, const auth::VHostLimits& limits) {
  const auth::VHostInfo* info = directory_->vhost(name);
  broker::VHost* v = broker_.vhost(name);
  if (!info || !v) return fmt::format("no vhost '{}'", name);
  auth::VHostInfo updated = *info;
  updated.limits = limits;
  directory_->put_vhost(std::move(updated));
  v->set_limits(limits.max_connections, limits.max_queues);
  return "";
}

void Node::import_policies(const nlohmann::json& defs) {
  auto it = defs.find("policies");
  if (it == defs.end() || it->is_null()) return;
  if (!it->is_array()) throw std::invalid_argument("\"policies\" must be a list");
  for (const nlohmann::json& p : *it) {
    PolicyEntry e = policy_entry_from_json(p);
    const std::string name = e.policy.name;
    if (std::string why = set_policy(e.vhost, std::move(e.policy)); !why.empty())
      throw std::invalid_argument(fmt::format("policy '{}' in vhost '{}': {}", name, e.vhost, why));
  }
}

std::string Node::set_policy(std::string_view vhost, broker::Policy p) {
  broker::VHost* v = broker_.vhost(vhost);
  if (!v) return fmt::format("no vhost '{}'", vhost);
  if (broker::Error e = v->set_policy(std::move(p), loop_.now())) return e.detail;
  ++policy_changes_;
  return "";
}

std::string Node::clear_policy(std::string_view vhost, std::string_view name) {
  broker::VHost* v = broker_.vhost(vhost);
  if (!v || !v->clear_policy(name, loop_.now())) return fmt::format("no policy '{}' in vhost '{}'", name, vhost);
  ++policy_changes_;
  return "";
}

nlohmann::json Node::policies_json(std::string_view vhost) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, v] : broker_.vhosts())
    if (vhost.empty() || name == vhost)
      for (const broker::Policy* p : v->policies().all()) out.push_back(policy_to_json(name, *p));
  return out;
}

std::pair<std::string, uint64_t> Node::definitions() const {
  nlohmann::json out = {{"product_name", "Warren"}};
  auth::export_directory(*directory_, out);
  out["policies"] = policies_json("");
  // Every change counts: the directory's and the policies'.
  return {out.dump(2), directory_->generation() + policy_changes_};
}


void Node::remove_in_background(std::string path) {
  cleaners_.emplace_back([path = std::move(path)] {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) spdlog::warn("could not remove {}: {}", path, ec.message());
  });
}

}  // namespace warren::server

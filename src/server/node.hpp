#pragma once
// warrend's state above the protocols: the broker's vhosts, each with its
// store; the directory of users, vhosts and permissions; and the file
// that keeps the directory across restarts (definitions_file.hpp). Boot
// (start) and run-time changes to vhosts go through here, so that the
// directory's vhosts and the broker's stay the same set. Lives on the
// broker's loop thread.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/directory.hpp"
#include "broker/broker.hpp"
#include "net/event_loop.hpp"
#include "server/definitions_file.hpp"
#include "server/store_writer.hpp"
#include "store/vhost_store.hpp"

namespace warren::server {

struct NodeOptions {
  std::string data_dir = "var";
  // The first boot's user (administrator, all permissions on "/"), as
  // RabbitMQ's default_user / default_pass. Later boots keep what the
  // definitions file says.
  std::string default_user = "guest";
  std::string default_pass = "guest";
  // Users who may log in from loopback addresses only (RabbitMQ's loopback_users).
  std::vector<std::string> loopback_users{"guest"};
  // Users set at every boot from the configuration ([amqp.users]):
  // administrators with all permissions on "/". None: the directory's.
  std::map<std::string, std::string> config_users;
  // A definitions file (RabbitMQ's format) imported at every boot, as
  // RabbitMQ's load_definitions: what it names is added or replaced.
  std::string import_file;
  bool unsafe_double_grant = false;  // the prover's planted bug (config.hpp)
};

class Node {
 public:
  // Opens the store in `dir` for `vhost`, replaying it, and starts `writer`
  // on it; false when it cannot (and says why in the log).
  using OpenStore = std::function<bool(broker::VHost& vhost, const std::string& dir, StoreWriter& writer,
                                       std::unique_ptr<store::VHostStore>& out)>;

  Node(net::EventLoop& loop, broker::Env& env, store::Io& io, NodeOptions opts, OpenStore open_store,
       broker::LockObserver* locks);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Boot: the directory from DATA_DIR/definitions.json (or the first boot's
  // defaults), the configured users and import file on top, saved; then
  // every vhost with its store. False, with `error` set, when warrend
  // cannot start.
  bool start(std::string& error);

  broker::Broker& broker() { return broker_; }
  const std::shared_ptr<auth::Directory>& directory() const { return directory_; }

  // Run-time changes; "" or why not. The caller saves the definitions.
  std::string add_vhost(const auth::VHostInfo& info);
  // Closes its connections (on_vhost_deleting), deletes its queues and
  // exchanges, and its store's files (in the background).
  std::string delete_vhost(std::string_view name);
  std::string set_vhost_limits(std::string_view name, const auth::VHostLimits& limits);
  // Policies (broker/policy.hpp), durable with the directory; "" or why not
  // (RabbitMQ's validation text).
  std::string set_policy(std::string_view vhost, broker::Policy p);
  std::string clear_policy(std::string_view vhost, std::string_view name);
  // The policies of `vhost` ("": all) in RabbitMQ's JSON (policy_json.hpp).
  nlohmann::json policies_json(std::string_view vhost) const;
  // The "policies" of RabbitMQ definitions `defs`, set on their vhosts;
  // throws std::invalid_argument at the first that cannot be.
  void import_policies(const nlohmann::json& defs);
  // Told a vhost's name before it goes: close the connections that opened it.
  std::function<void(std::string_view vhost)> on_vhost_deleting;

  // The directory as RabbitMQ's definitions, and its version (the
  // directory's generation): for definitions_file().write, on any thread.
  std::pair<std::string, uint64_t> definitions() const;
  DefinitionsFile& definitions_file() { return file_; }
  // `f(vhost, writer)` for each vhost with a store (its sync latency, for metrics).
  template <class F>
  void for_each_store_writer(F&& f) const {
    for (const auto& [name, s] : storage_)
      if (s.writer) f(name, *s.writer);
  }
  // A vhost's store directory: DATA_DIR/store/<name, percent-encoded>.
  std::string store_dir(std::string_view vhost) const;

 private:
  struct Storage {
    std::unique_ptr<store::VHostStore> store;
    std::unique_ptr<StoreWriter> writer;  // after the store: destroyed first, writing what is left
  };
  bool open_vhost(const auth::VHostInfo& info, std::string& error);
  void remove_in_background(std::string path);

  net::EventLoop& loop_;
  NodeOptions opts_;
  OpenStore open_store_;
  broker::LockObserver* locks_;
  uint64_t lock_epoch_ = 0;
  uint64_t policy_changes_ = 0;  // with the directory's generation: the definitions' version
  std::shared_ptr<auth::Directory> directory_ = std::make_shared<auth::Directory>();
  DefinitionsFile file_;
  broker::Broker broker_;
  std::map<std::string, Storage, std::less<>> storage_;  // after the broker: destroyed before it
  std::vector<std::thread> cleaners_;  // removing deleted vhosts' files; joined on destruction
  uint64_t trash_ = 0;
};

}  // namespace warren::server

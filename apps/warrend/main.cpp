// warrend: the Warren daemon. Event loops, one thread each: the main
// thread's serves AMQP (the broker core and every AMQP connection's
// engine); the reader thread (AmqpServer's SocketReader) reads and cuts the
// input of busy 0-9-1 publishers; the "socketlock" thread's serves
// socketlock (the primary at its socket path), so that lock latency does
// not depend on how busy the broker is. Why this split:
// docs/architecture.md#threads.
#include <malloc.h>
#include <sys/stat.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "mgmt/api.hpp"
#include "mgmt/endpoints.hpp"
#include "net/event_loop.hpp"
#include "net/signals.hpp"
#include "amqp091/convert.hpp"
#include "amqp10/convert.hpp"
#include "server/amqp_server.hpp"
#include "server/node.hpp"
#include "server/store_writer.hpp"
#include "server/system_env.hpp"
#include "service/journal.hpp"
#include "service/notify.hpp"
#include "service/reload.hpp"
#include "socketlock/primary.hpp"
#include "store/epoch_file.hpp"
#include "store/io.hpp"

using namespace warren;

namespace {

// Message bodies the size of a frame (up to 128 KiB) are allocated and
// freed by the thousand a second, on the reader thread and the broker's.
// By default glibc gives memory back to the kernel as soon as 128 KiB are
// free at the top of a heap, and the next bodies fault it in again page
// by page: with 64 KiB bodies, 3 page faults and some 40 us more per
// message on the reader thread. Its thresholds rise on their own only
// after a large block from mmap is freed, which happened by chance (a big
// read copied whole into the engine's input buffer) until the engine's
// input path stopped copying reads. So, set once: the heap serves
// allocations up to 4 MiB, and keeps up to 8 MiB free at its top.
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

net::TlsOptions tls_options(const config::TlsConfig& c) {
  net::TlsOptions t;
  t.cert_file = c.cert;
  t.key_file = c.key;
  t.ca_file = c.ca;
  t.ciphers = c.ciphers;
  t.ciphersuites = c.ciphersuites;
  t.min_version = c.min_version;
  t.verify_peer = c.verify_peer;
  t.fail_if_no_peer_cert = c.fail_if_no_peer_cert;
  return t;
}

// The socketlock primary's gauges for /metrics, read on its own loop: the
// HTTP thread waits up to a second (a stopping loop never answers).
std::optional<mgmt::SocketlockGauges> socketlock_gauges(net::EventLoop& loop, const socketlock::Primary& primary) {
  auto answer = std::make_shared<std::promise<mgmt::SocketlockGauges>>();
  std::future<mgmt::SocketlockGauges> done = answer->get_future();
  loop.post([&primary, answer] {
    mgmt::SocketlockGauges g;
    g.clients = primary.server().sessions();
    const locks::Snapshot snap = primary.server().lock().snapshot();
    for (const auto& h : snap.holders) ++(h.mode == locks::Mode::Exclusive ? g.exclusive_holders : g.shared_holders);
    g.waiters = snap.waiters.size() + (snap.offer ? 1 : 0);
    g.epoch = primary.epoch();
    g.next_token = snap.next_token;
    answer->set_value(g);
  });
  if (done.wait_for(std::chrono::seconds(1)) != std::future_status::ready) return std::nullopt;
  return done.get();
}

// Opens the vhost's store, replaying it into the vhost; false (logged)
// when it cannot be used.
bool open_store(store::Io& io, const std::string& dir, const config::StoreConfig& cfg, uint64_t memory_budget,
                broker::VHost& vhost, net::EventLoop& loop, server::StoreWriter& writer,
                std::unique_ptr<store::VHostStore>& out) {
  store::StoreOptions o;
  o.dir = dir;
  o.segment_bytes = cfg.segment_bytes;
  o.memory_budget = memory_budget;
  o.on_damage = [](const store::Damage& d) {
    spdlog::error("store: {} at offset {} of {}: that message is lost", d.what, d.offset, d.file);
  };
  o.codecs = {&amqp091::PropertyCodec::instance(), &amqp10::PropertyCodec::instance()};
  o.on_records = writer.cue();
  o.defer_indexes = true;  // the writer thread writes a sealed segment's index after reporting its batch
  store::RecoveryReport report;
  std::filesystem::create_directories(dir);
  const auto t0 = std::chrono::steady_clock::now();
  if (int err = store::VHostStore::open(io, o, vhost, server::clocks_now(loop), out, &report)) {
    if (err == EWOULDBLOCK)
      spdlog::critical("{} is in use by another warrend (its LOCK is held): one process per data directory", dir);
    else
      spdlog::critical("cannot open the store in {}: {}", dir, std::strerror(err));
    return false;
  }
  for (const store::Damage& d : report.damage)
    spdlog::error("store: {} at offset {} ({} bytes) of {}: skipped, the rest was recovered", d.what, d.offset,
                  d.length, d.file);
  for (const store::IndexNote& n : report.index_notes) spdlog::warn("store: {} {}", n.file, n.what);
  // Recovery's tables are freed: their pages go back to the system, not
  // only to the allocator (10 M messages: about 0.5 GB of them).
  malloc_trim(0);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  spdlog::info("store: vhost '{}' recovered from {} in {} ms: {} exchanges, {} queues, {} bindings, {} messages; "
               "{} sealed segments from their index, {} read whole ({} had none; {} indexes written)",
               vhost.name(), dir, ms.count(), report.exchanges, report.queues, report.bindings, report.messages,
               report.segments_indexed, report.segments_read, report.indexes_missing, report.indexes_written);
  writer.start(*out);
  return true;
}

// Lock queues' grants and releases at debug, ended leases at info: who
// held what, when, for a person reading the log after an incident.
class LockLog final : public broker::LockObserver {
 public:
  void lock_event(const broker::LockEvent& e) override {
    using K = broker::LockEvent::Kind;
    // A semaphore's grant names its slot: the resource fences per permit.
    const std::string mode = e.permit ? fmt::format("permit {}", e.permit) : e.shared ? "shared" : "exclusive";
    if (e.kind == K::LeaseEnded)
      spdlog::info("lock '{}': the lease of token {} ({}, connection {} '{}') ended unrenewed: released", e.lock, e.token,
                   mode, e.connection, e.consumer);
    else
      spdlog::debug("lock '{}': token {} ({}) {} connection {} '{}'", e.lock, e.token, mode,
                    e.kind == K::Granted ? "granted to" : "released by", e.connection, e.consumer);
  }
};

}  // namespace

int main(int argc, char** argv) {
  tune_malloc();
  int exit_code = 0;
  std::optional<config::Config> cfg = config::parse_command_line(argc, argv, exit_code);
  if (!cfg) return exit_code;

  // Under systemd, stderr is the journal: lines with their priority and
  // without a timestamp (journald adds its own); otherwise the terminal's.
  if (service::stderr_is_journal())
    service::log_to_journal();
  else
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));

  try {
    std::filesystem::create_directories(cfg->data_dir);
    net::EventLoop loop;
    // SIGHUP re-reads the configuration (`systemctl reload`): `reload` is
    // set once what it changes exists, before the loop runs.
    std::function<void()> reload;
    net::SignalSet signals(loop, {SIGINT, SIGTERM, SIGHUP}, [&](int sig) {
      if (sig == SIGHUP) {
        if (reload) reload();
        return;
      }
      spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      service::notify_stopping("stopping");
      loop.stop();
    });

    // socketlock's loop and everything on it live on their own thread; the
    // primary is created there (a loop's objects belong to its thread), and
    // start-up waits for it so that a failure still stops warrend.
    net::EventLoop socketlock_loop;
    std::unique_ptr<socketlock::Primary> socketlock;
    std::thread socketlock_thread;
    if (cfg->socketlock.enabled) {
      socketlock::ServerOptions opts;
      opts.lock = cfg->socketlock.lock;
      opts.hello_timeout = cfg->socketlock.hello_timeout;
      std::string path = cfg->socketlock_path();
      std::promise<std::string> started;  // "" or why it failed
      std::future<std::string> result = started.get_future();
      socketlock_thread = std::thread([&] {
        try {
          socketlock = socketlock::Primary::start(socketlock_loop, path, opts,
                                                  [](std::string_view line) { spdlog::info("socketlock: {}", line); });
          // [socketlock] socket_mode: who else may connect (warrend.service:
          // the warren group), whatever the umask of warrend's data files.
          const int mode = cfg->socketlock.socket_mode;
          if (socketlock && mode >= 0 && ::chmod(path.c_str(), mode_t(mode)) != 0) {
            started.set_value(fmt::format("cannot set {} to mode {:04o}: {}", path, mode, std::strerror(errno)));
            socketlock.reset();
          } else {
            started.set_value(socketlock ? "" : "another process is already the socketlock primary for " + path);
          }
        } catch (const std::exception& e) {
          started.set_value(e.what());
        }
        if (socketlock) socketlock_loop.run();
        socketlock.reset();  // unlinks the socket and gives up the primary claim, on its own thread
      });
      if (std::string err = result.get(); !err.empty()) {
        socketlock_thread.join();
        spdlog::critical("{}", err);
        return 1;
      }
      spdlog::info("socketlock serving {} (epoch {}, policy {}, request timeout {} ms, confirm timeout {} ms)", path,
                   socketlock->epoch(), locks::to_string(opts.lock.policy), opts.lock.request_timeout.count(),
                   opts.lock.confirm_timeout.count());
    }
    // Stops the socketlock thread on every way out of this block.
    struct Joiner {
      net::EventLoop& loop;
      std::thread& t;
      ~Joiner() {
        if (!t.joinable()) return;
        loop.stop();
        t.join();
      }
    } joiner{socketlock_loop, socketlock_thread};
    server::SystemEnv env;  // the broker's randomness and wall clock: the system's
    LockLog lock_log;  // outlives the broker, which tells it
    std::unique_ptr<store::Io> io = store::posix_io();
    // Up to 1: a fraction of physical memory; above: bytes.
    auto watermark_of = [](double wm) {
      return wm <= 1 ? uint64_t(double(server::default_memory_high_watermark()) / 0.4 * wm) : uint64_t(wm);
    };
    const uint64_t watermark = watermark_of(cfg->amqp.memory_high_watermark);
    const uint64_t budget = cfg->store.memory_budget < 0 ? watermark / 2 : uint64_t(cfg->store.memory_budget);
    server::NodeOptions node_opts;
    node_opts.data_dir = cfg->data_dir;
    node_opts.default_user = cfg->auth.default_user;
    node_opts.default_pass = cfg->auth.default_pass;
    node_opts.loopback_users = cfg->auth.loopback_users;
    node_opts.config_users = cfg->amqp.users;
    node_opts.import_file = cfg->auth.load_definitions;
    node_opts.unsafe_double_grant = cfg->unsafe_test_double_grant;
    if (cfg->unsafe_test_double_grant)
      spdlog::warn("--unsafe-test-double-grant: lock queues grant exclusive locks TWICE (a test's planted bug)");
    // The broker, its vhosts and their stores; the users and permissions.
    server::Node node(loop, env, *io, std::move(node_opts),
                      [&](broker::VHost& vhost, const std::string& dir, server::StoreWriter& writer,
                          std::unique_ptr<store::VHostStore>& out) {
                        return open_store(*io, dir, cfg->store, budget, vhost, loop, writer, out);
                      },
                      &lock_log);
    if (std::string error; !node.start(error)) {
      spdlog::critical("{}", error);
      return 1;
    }
    node.directory()->on_refused = [](std::string_view user, const auth::Peer& from, auth::LoginResult why) {
      spdlog::warn("login refused: user '{}' from {}: {}", user, from.address, auth::to_string(why));
    };
    std::unique_ptr<server::AmqpServer> amqp;
    if (cfg->amqp.enabled) {
      server::AmqpServerOptions o;
      o.host = cfg->amqp.host;
      o.port = cfg->amqp.port;
      o.amqp091.heartbeat = cfg->amqp.heartbeat;
      o.amqp091.frame_max = cfg->amqp.frame_max;
      o.amqp091.channel_max = cfg->amqp.channel_max;
      o.amqp091.max_message_size = cfg->amqp.max_message_size;
      o.reader_threads = cfg->amqp.reader_threads >= 0 ? unsigned(cfg->amqp.reader_threads)
                                                       : (std::thread::hardware_concurrency() > 1 ? 1u : 0u);
      o.data_dir = cfg->data_dir;
      o.disk_free_limit = cfg->store.disk_free_limit;
      o.memory_high_watermark = watermark;
      o.amqp091.directory = node.directory();
      o.amqp091.cert_login = o.amqp10.cert_login = cfg->auth.cert_login;
      o.amqp10.idle_time_out = cfg->amqp10.idle_time_out;
      o.amqp10.max_frame_size = cfg->amqp10.max_frame_size;
      o.amqp10.link_credit = cfg->amqp10.link_credit;
      o.amqp10.declare_bare_queues = cfg->amqp10.declare_bare_queues;
      o.amqp10.default_user = cfg->amqp10.default_user;
      o.amqp10.max_message_size = cfg->amqp.max_message_size;
      const config::TlsConfig& tls = cfg->amqp.tls;
      if (tls.enabled) {
        o.tls = tls_options(tls);
        o.tls_host = tls.host.empty() ? cfg->amqp.host : tls.host;
        o.tls_port = tls.port;
      }
      amqp = std::make_unique<server::AmqpServer>(loop, node.broker(), o);
      node.on_vhost_deleting = [&](std::string_view vhost) {
        const size_t n = amqp->close_connections(
            [&](const engine::ServerEngine& e) { return e.vhost_name() == vhost; },
            fmt::format("vhost '{}' is deleted", vhost));
        if (n) spdlog::info("vhost '{}' deleted: {} connections closed", vhost, n);
      };
      spdlog::info("AMQP 0-9-1 listening on {}:{} (and AMQP 1.0, same port)", o.host, amqp->port());
      if (tls.enabled)
        spdlog::info("AMQPS listening on {}:{} (TLS {} and later; client certificates {}; AMQP 1.0's TLS header "
                     "accepted on port {} too)",
                     o.tls_host, amqp->tls_port(), tls.min_version,
                     !tls.verify_peer             ? "not asked for"
                     : tls.fail_if_no_peer_cert ? "required and verified"
                                                : "verified when presented",
                     amqp->port());
    }
    // The management API and Prometheus, on threads of their own; they reach
    // the broker through its loop (src/mgmt/api.hpp). Stopped before the
    // loop's objects go, on every way out.
    auto endpoint = [](const config::HttpConfig& c) {
      mgmt::Endpoint e{c.enabled, c.host, c.port, std::nullopt};
      if (c.tls.enabled)
        e.tls = mgmt::Endpoint::Tls{tls_options(c.tls), c.tls.host.empty() ? c.host : c.tls.host, c.tls.port};
      return e;
    };
    mgmt::ApiOptions api_opts{cfg->data_dir, cfg->management.host};
    if (socketlock)
      api_opts.socketlock = [&socketlock_loop, &primary = *socketlock] {
        return socketlock_gauges(socketlock_loop, primary);
      };
    std::optional<mgmt::Endpoints> management;
    management.emplace(loop, node, amqp.get(), std::move(api_opts), endpoint(cfg->management),
                       endpoint(cfg->prometheus));
    spdlog::info("warrend ready (data dir {}{})", cfg->data_dir,
                 cfg->config_file.empty() ? ", embedded default configuration" : ", config " + cfg->config_file);
    // What `systemctl status` shows: where it serves.
    std::vector<std::string> serving;
    if (amqp) {
      serving.push_back(fmt::format("AMQP on {}:{}", cfg->amqp.host, amqp->port()));
      if (amqp->tls_port())
        serving.push_back(fmt::format("AMQPS on {}:{}",
                                      cfg->amqp.tls.host.empty() ? cfg->amqp.host : cfg->amqp.tls.host,
                                      amqp->tls_port()));
    }
    if (management->management_port())
      serving.push_back(fmt::format("management on {}:{}", cfg->management.host, management->management_port()));
    if (management->prometheus_port())
      serving.push_back(fmt::format("Prometheus on {}:{}", cfg->prometheus.host, management->prometheus_port()));
    if (socketlock) serving.push_back("socketlock on " + cfg->socketlock_path());
    const std::string ready_status = fmt::format("serving {}", fmt::join(serving, ", "));

    // SIGHUP: the same command line over the file as it is now
    // (src/service/reload.hpp says what applies live).
    config::Config running = *cfg;
    reload = [&] {
      service::notify_reloading("reloading the configuration");
      spdlog::info("SIGHUP: reloading the configuration{}",
                   cfg->config_file.empty() ? " (no file: the command line only)" : " from " + cfg->config_file);
      int code = 0;
      std::optional<config::Config> fresh = config::parse_command_line(argc, argv, code);
      std::string outcome;
      if (!fresh) {
        spdlog::error("reload failed: the configuration does not hold (the error is above); warrend goes on with "
                      "the one it runs");
        outcome = "; the last reload failed";
      } else {
        service::ReloadPlan plan = service::plan_reload(running, *fresh);
        for (const service::Change& c : plan.changes) {
          if (c.live)
            spdlog::info("reload: {}: {} -> {}: applied", c.key, c.from, c.to);
          else
            spdlog::warn("reload: {}: {} -> {}: needs a restart (systemctl restart warrend); {} until then", c.key,
                         c.from, c.to, c.from);
        }
        if (plan.log_level) spdlog::set_level(spdlog::level::from_str(plan.next.log_level));
        if (plan.resource_limits && amqp)
          amqp->set_resource_limits(watermark_of(plan.next.amqp.memory_high_watermark),
                                    plan.next.store.disk_free_limit);
        if (plan.amqp_tls && amqp) {
          try {
            amqp->replace_tls(tls_options(plan.next.amqp.tls));
            spdlog::info("reload: AMQPS certificate and settings reloaded: new connections use them");
          } catch (const std::exception& e) {
            spdlog::error("reload: AMQPS keeps the certificate and settings it had: {}", e.what());
            plan.next.amqp.tls = running.amqp.tls;
          }
        }
        running = std::move(plan.next);
        const size_t restart = plan.restart_needed();
        spdlog::info("reload done: {} settings changed, {} of them applied", plan.changes.size(),
                     plan.changes.size() - restart);
        if (restart) outcome = fmt::format("; {} changed settings wait for a restart", restart);
      }
      service::notify_ready(ready_status + outcome);
    };
    service::notify_ready(ready_status);
    // The watchdog pings while both loops turn (the socketlock thread's too).
    std::optional<service::Watchdog> watchdog;
    if (const auto interval = service::watchdog_interval(); interval.count() > 0) {
      std::vector<net::EventLoop*> also;
      if (socketlock) also.push_back(&socketlock_loop);
      watchdog.emplace(loop, interval, std::move(also));
    }
    loop.run();
    watchdog.reset();
    management.reset();  // the API goes before what it reads
    amqp.reset();
    spdlog::info("warrend stopped");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

// warrend: the Warren daemon. One event loop serves AMQP (the broker) and
// socketlock (the primary at its socket path).
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>

#include "config/config.hpp"
#include "net/event_loop.hpp"
#include "net/signals.hpp"
#include "broker/memory.hpp"
#include "server/amqp_server.hpp"
#include "socketlock/primary.hpp"

using namespace warren;

int main(int argc, char** argv) {
  int exit_code = 0;
  std::optional<config::Config> cfg = config::parse_command_line(argc, argv, exit_code);
  if (!cfg) return exit_code;

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));

  try {
    std::filesystem::create_directories(cfg->data_dir);
    net::EventLoop loop;
    net::SignalSet signals(loop, {SIGINT, SIGTERM}, [&](int sig) {
      spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      loop.stop();
    });

    std::unique_ptr<socketlock::Primary> socketlock;
    if (cfg->socketlock.enabled) {
      socketlock::ServerOptions opts;
      opts.lock = cfg->socketlock.lock;
      opts.hello_timeout = cfg->socketlock.hello_timeout;
      std::string path = cfg->socketlock_path();
      socketlock = socketlock::Primary::start(loop, path, opts, [](std::string_view line) { spdlog::info("socketlock: {}", line); });
      if (!socketlock) {
        spdlog::critical("another process is already the socketlock primary for {}", path);
        return 1;
      }
      spdlog::info("socketlock serving {} (epoch {}, policy {}, request timeout {} ms, confirm timeout {} ms)", path,
                   socketlock->epoch(), locks::to_string(opts.lock.policy), opts.lock.request_timeout.count(),
                   opts.lock.confirm_timeout.count());
    }
    broker::Broker broker(loop.now());
    std::unique_ptr<server::AmqpServer> amqp;
    if (cfg->amqp.enabled) {
      server::AmqpServerOptions o;
      o.host = cfg->amqp.host;
      o.port = cfg->amqp.port;
      o.amqp091.heartbeat = cfg->amqp.heartbeat;
      o.amqp091.frame_max = cfg->amqp.frame_max;
      o.amqp091.channel_max = cfg->amqp.channel_max;
      o.amqp091.max_message_size = cfg->amqp.max_message_size;
      double wm = cfg->amqp.memory_high_watermark;
      o.memory_high_watermark = wm <= 1 ? uint64_t(double(broker::default_memory_high_watermark()) / 0.4 * wm)
                                        : uint64_t(wm);
      if (!cfg->amqp.users.empty()) {
        o.amqp091.users.clear();
        for (const auto& [name, password] : cfg->amqp.users) o.amqp091.users[name] = {password, false};
      }
      amqp = std::make_unique<server::AmqpServer>(loop, broker, o);
      spdlog::info("AMQP 0-9-1 listening on {}:{}", o.host, amqp->port());
    }
    spdlog::info("warrend ready (data dir {}{})", cfg->data_dir,
                 cfg->config_file.empty() ? ", embedded default configuration" : ", config " + cfg->config_file);
    loop.run();
    amqp.reset();
    socketlock.reset();  // unlinks the socket and gives up the primary claim
    spdlog::info("warrend stopped");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}

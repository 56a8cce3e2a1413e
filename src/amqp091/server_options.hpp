#pragma once
// What an AMQP 0-9-1 server connection is allowed and offers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "auth/directory.hpp"

namespace warren::amqp091 {

struct ServerOptions {
  // Users, vhosts and permissions (shared with the 1.0 engine and the
  // management API). By default RabbitMQ's first boot: guest/guest, from
  // localhost only.
  std::shared_ptr<auth::Directory> directory = auth::Directory::with_defaults();
  // SASL EXTERNAL for TLS clients with a verified certificate: the
  // certificate's CN is the user, no password (RabbitMQ's
  // rabbitmq_auth_mechanism_ssl with ssl_cert_login_from = common_name).
  bool cert_login = false;
  uint16_t channel_max = 2047;
  uint32_t frame_max = 131072;
  uint16_t heartbeat = 60;                       // seconds we propose
  uint64_t max_message_size = 16 * 1024 * 1024;  // RabbitMQ 3.x's default
  size_t max_output = 16 * 1024 * 1024;          // a consumer connection's unsent bytes before we stop delivering to it
  std::chrono::milliseconds handshake_timeout{10000};
  std::chrono::milliseconds close_timeout{3000};  // waiting for close-ok
  size_t max_name_length = 255;
  std::string product = "Warren";
  std::string version = "0.1.0";
  std::string cluster_name = "warren@localhost";
};

}  // namespace warren::amqp091

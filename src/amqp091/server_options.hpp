#pragma once
// What an AMQP 0-9-1 server connection is allowed and offers.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace warren::amqp091 {

struct User {
  std::string password;
  bool loopback_only = false;  // RabbitMQ's loopback_users: guest may log in from localhost only
};

struct ServerOptions {
  std::map<std::string, User, std::less<>> users{{"guest", {"guest", true}}};
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

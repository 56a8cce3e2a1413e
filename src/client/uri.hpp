#pragma once
// amqp://user:password@host:port/vhost?heartbeat=N&frame_max=N
//
// As RabbitMQ's URI spec, with one leniency of pika's: an empty vhost (or
// none) is "/". Percent-escapes are decoded in user, password and vhost
// ("%2f" is "/"). Throws ClientError on anything else.
#include <cstdint>
#include <string>
#include <string_view>

namespace warren::client {

struct Uri {
  std::string host = "127.0.0.1";
  uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  int heartbeat_s = -1;  // -1: not given
  uint32_t frame_max = 0;  // 0: not given
};

Uri parse_uri(std::string_view text);

}  // namespace warren::client

#include "tools/bench/posthog_events.h"

#include <zlib.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "common/event_normalizer.h"

namespace connector::bench {

std::string PosthogEventFactory::IdentifyEvent(uint64_t n, int64_t now_ms,
                                               std::string_view extra_properties,
                                               bool with_token) const {
  std::string user = "user-" + run_tag_ + "-" + std::to_string(n);
  std::string event;
  event.reserve(400);
  event += "{\"event\":\"$identify\",\"properties\":{\"$set\":{\"email\":\"";
  event += user;
  event += "@bench.example.com\",\"name\":\"Bench User ";
  event += std::to_string(n);
  event += "\",\"plan\":\"";
  event += n % 3 == 0 ? "pro" : "free";
  event += "\"},\"$set_once\":{},\"$lib\":\"posthog-node\",\"$lib_version\":\"5.74.0\","
           "\"$is_server\":true,\"$geoip_disable\":true";
  if (!extra_properties.empty()) {
    event += ",";
    event += extra_properties;
  }
  event += "},\"timestamp\":\"";
  event += FormatIso8601(now_ms);
  event += "\",\"uuid\":\"";
  event += NewUuidV7(now_ms);
  event += "\",\"distinct_id\":\"";
  event += user;
  event += "\"";
  if (with_token) {
    event += ",\"api_key\":\"";
    event += kBenchToken;
    event += "\"";
  }
  event += "}";
  return event;
}

std::string PosthogEventFactory::BatchBody(const std::vector<std::string>& events,
                                           int64_t now_ms) const {
  std::string body = "{\"api_key\":\"";
  body += kBenchToken;
  body += "\",\"batch\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) body += ",";
    body += events[i];
  }
  body += "],\"sent_at\":\"";
  body += FormatIso8601(now_ms);
  body += "\"}";
  return body;
}

std::string FormatIso8601(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return text;
}

std::string Gzip(std::string_view data) {
  z_stream stream{};
  // 15 + 16: a 32 KiB window with a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("deflate failed: " + std::to_string(result));
  return out;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace connector::bench

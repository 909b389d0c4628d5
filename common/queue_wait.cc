#include "common/queue_wait.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common/config.h"
#include "common/database.h"
#include "common/log.h"

namespace connector {
namespace {

constexpr Milliseconds kFirstRetryDelay{250};
// Short enough that a freed disk is noticed within seconds, long enough that
// a queue that stays full costs little CPU or log.
constexpr Milliseconds kMaxRetryDelay{5000};

}  // namespace

bool OpenWhenQueueWritable(const std::function<void()>& open, const RetryWait& wait) {
  Milliseconds delay = kFirstRetryDelay;
  int64_t failed_attempts = 0;
  auto waiting_since = std::chrono::steady_clock::now();
  while (true) {
    try {
      open();
      break;
    } catch (const DatabaseError& error) {
      if (!error.transient()) throw;
      if (failed_attempts == 0) {
        waiting_since = std::chrono::steady_clock::now();
        log::Error("queue_unavailable",
                   {{"error", error.what()},
                    {"detail", "cannot open the queue; retrying with backoff up to every " +
                                   FormatDuration(kMaxRetryDelay) + " until it can be written"}});
      }
      ++failed_attempts;
    }
    if (!wait(delay)) return false;
    delay = std::min(delay * 2, kMaxRetryDelay);
  }

  if (failed_attempts > 0) {
    auto waited = std::chrono::duration_cast<Milliseconds>(std::chrono::steady_clock::now() -
                                                           waiting_since);
    log::Info("queue_available", {{"failed_attempts", failed_attempts},
                                  {"waited_ms", static_cast<int64_t>(waited.count())}});
  }
  return true;
}

}  // namespace connector

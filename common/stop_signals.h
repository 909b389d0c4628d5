#pragma once

#include <signal.h>

#include "common/config.h"

namespace connector {

// SIGTERM and SIGINT for a process's main thread. The constructor blocks them
// in the calling thread, so it must run before any other thread starts: every
// thread inherits the mask, and only Wait() and WaitFor() receive the signals.
// It also ignores SIGPIPE, because a client that closes its connection early
// (a scraper timing out, a browser leaving the status page) must not end the
// process. Used from one thread.
class StopSignals {
 public:
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGTERM or SIGINT arrives.
  void Wait();
  // Waits up to `delay`. Returns true when the delay passed, and false when a
  // stop signal arrived first. Fits RetryWait (common/queue_wait.h).
  bool WaitFor(Milliseconds delay);

  // "SIGTERM" or "SIGINT" once one was received; "" before.
  const char* received_name() const;

 private:
  sigset_t signals_;
  int received_ = 0;
};

}  // namespace connector

#include "common/stop_signals.h"

#include <pthread.h>

#include <ctime>

namespace connector {

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void StopSignals::Wait() { sigwait(&signals_, &received_); }

bool StopSignals::WaitFor(Milliseconds delay) {
  timespec timeout{};
  timeout.tv_sec = static_cast<time_t>(delay.count() / 1000);
  timeout.tv_nsec = static_cast<long>(delay.count() % 1000) * 1'000'000;
  int received = sigtimedwait(&signals_, nullptr, &timeout);
  // -1 with EAGAIN when the delay passed, or with EINTR after another signal.
  if (received <= 0) return true;
  received_ = received;
  return false;
}

const char* StopSignals::received_name() const {
  if (received_ == SIGTERM) return "SIGTERM";
  if (received_ == SIGINT) return "SIGINT";
  return "";
}

}  // namespace connector

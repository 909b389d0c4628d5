#pragma once

#include <string>

#include "worker/queue_status.h"

namespace connector {

// The pause state of delivery, as the status page shows it.
struct PauseState {
  bool paused = false;
  std::string cause;                   // why, while paused
};

// Returns the body of GET /status.json: the queue status, the pause state and
// the worker's id, with times as Unix milliseconds.
std::string StatusJson(const QueueStatus& status, const PauseState& pause,
                       const std::string& worker_id);

// Returns the status page served at GET /: one HTML document with its own
// CSS and JavaScript, which draws /status.json and fetches it again every
// five seconds. It loads nothing else, so it works without internet access.
const std::string& StatusPageHtml();

}  // namespace connector

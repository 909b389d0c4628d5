#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace connector::queue_tool {

// A one-line progress bar redrawn in place with '\r'. Draws nothing when
// disabled, so callers need not check for a terminal themselves.
class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool enabled, std::string label, int64_t total);

  // Redraws at most ten times a second, and always when `done` reaches total.
  void Update(int64_t done);
  // Ends the line so later output starts on a fresh one.
  void Finish();

 private:
  void Draw(int64_t done);

  std::ostream& out_;
  bool enabled_;
  std::string label_;
  int64_t total_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace connector::queue_tool

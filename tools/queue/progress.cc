#include "tools/queue/progress.h"

#include <ostream>

namespace connector::queue_tool {

ProgressBar::ProgressBar(std::ostream& out, bool enabled, std::string label, int64_t total)
    : out_(out), enabled_(enabled && total > 0), label_(std::move(label)), total_(total) {}

void ProgressBar::Update(int64_t done) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done);
}

void ProgressBar::Draw(int64_t done) {
  constexpr int64_t kWidth = 30;
  int64_t filled = total_ == 0 ? kWidth : done * kWidth / total_;
  out_ << '\r' << label_ << " [" << std::string(static_cast<size_t>(filled), '#')
       << std::string(static_cast<size_t>(kWidth - filled), ' ') << "] " << done * 100 / total_
       << "% " << done << "/" << total_ << std::flush;
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) out_ << '\n' << std::flush;
  drawn_ = false;
}

}  // namespace connector::queue_tool

#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace connector::testing {

// Returns $CONNECTOR_BUILD_DIR/`relative`, the path of a built binary such as
// "ingest/intercom-ingest".
std::string BuiltBinary(const std::string& relative);

// Returns the whole content of `path`, or "" when it cannot be read.
std::string ReadWholeFile(const std::string& path);

// Returns how many times `needle` occurs in `text`.
size_t CountOccurrences(const std::string& text, const std::string& needle);

// A child process running a built binary, with stdout and stderr appended to
// a log file. The destructor kills it with SIGKILL when it still runs. Owned
// by one thread.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The process id while the process runs, -1 once it has been reaped.
  pid_t pid() const { return pid_; }

  // Sends SIGKILL and reaps the process.
  void Kill();
  // Sends SIGTERM and returns the exit code, or -1 when the process did not
  // exit normally within `timeout` (it is then killed).
  int Terminate(std::chrono::milliseconds timeout);
  // Waits for the process to exit and returns its exit code, 128 + signal
  // when a signal ended it, or -1 after `timeout`. Checks at least once, so
  // with a zero timeout it returns -1 only while the process still runs.
  int WaitForExit(std::chrono::milliseconds timeout);

 private:
  // Every method returns early once the process is reaped: kill(-1, ...)
  // would signal every process the test may signal, and waitpid(-1, ...)
  // would reap another child.
  pid_t pid_ = -1;
  int exit_code_ = -1;  // what WaitForExit returned when it reaped the process
};

// Waits for intercom-ingest's `msg=listening` line in `log_path` and returns
// the port, or 0 after `timeout`.
int WaitForListeningPort(const std::string& log_path, std::chrono::milliseconds timeout);

}  // namespace connector::testing

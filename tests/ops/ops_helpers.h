#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace connector::testing {

// A response from one of the binaries' HTTP servers.
struct OpsHttpResult {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Sends `method` `path` to 127.0.0.1:`port` on a fresh connection.
OpsHttpResult HttpCall(int port, const std::string& method, const std::string& path);

// Returns the value of the sample whose series is exactly `series` (such as
// `name{label="x"}`) in Prometheus text, or nullopt when it is absent.
std::optional<double> SampleValue(const std::string& metrics_text, const std::string& series);

// A connector binary run as a child process with its stderr in a file.
// Killed with SIGKILL when the test did not stop it.
class ChildProcess {
 public:
  // `binary` is relative to $CONNECTOR_BUILD_DIR, such as "worker/intercom-worker".
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `timeout` for a log line matching `pattern` and returns its
  // first capture group, or "" on timeout.
  std::string WaitForLog(const std::string& pattern,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Sends SIGTERM; returns the exit code, or -1 when it did not exit normally
  // within `timeout`.
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Returns $CONNECTOR_BUILD_DIR/`relative`.
std::string BuildPath(const std::string& relative);

// Returns the path of the chromium binary, or "" when it is not installed.
std::string FindChromium();

}  // namespace connector::testing

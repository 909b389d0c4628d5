#include "tests/ops/ops_helpers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace connector::testing {

OpsHttpResult HttpCall(int port, const std::string& method, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  OpsHttpResult result;
  result.status = static_cast<int>(response.getStatus());
  result.content_type = response.getContentType();
  if (method != "HEAD") Poco::StreamCopier::copyToString(in, result.body);
  return result;
}

std::optional<double> SampleValue(const std::string& metrics_text, const std::string& series) {
  std::istringstream lines(metrics_text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

std::string BuildPath(const std::string& relative) {
  const char* build_dir = std::getenv("CONNECTOR_BUILD_DIR");
  return std::string(build_dir != nullptr ? build_dir : ".") + "/" + relative;
}

std::string FindChromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_path)
    : log_path_(log_path) {
  std::string program = BuildPath(binary);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::unsetenv("INTERCOM_API_KEY");
    FILE* log = std::freopen(log_path.c_str(), "a", stderr);
    (void)log;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    std::_Exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string ChildProcess::Log() const {
  std::ifstream file(log_path_);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string ChildProcess::WaitForLog(const std::string& pattern,
                                     std::chrono::milliseconds timeout) const {
  std::regex expression(pattern);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    std::string log = Log();
    if (std::regex_search(log, match, expression)) return match.size() > 1 ? match[1].str() : "";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "";
}

int ChildProcess::Terminate(std::chrono::milliseconds timeout) {
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

}  // namespace connector::testing

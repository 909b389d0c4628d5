// Runs the real intercom-ingest binary with a config file and sends it what
// curl, posthog-node, posthog-js and PostHog's webhook destination send.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "tests/ingest/test_helpers.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace connector {
namespace {

using testing::Base64;
using testing::Gzip;
using testing::HttpResult;
using testing::SendRequest;
using testing::UrlEncode;

std::string BinaryPath() {
  const char* build_dir = std::getenv("CONNECTOR_BUILD_DIR");
  return std::string(build_dir != nullptr ? build_dir : ".") + "/ingest/intercom-ingest";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts the binary with stdout and stderr sent to `log_path`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("posix_spawn " + args[0] + " failed");
  return pid;
}

// Waits for `pid` to exit and returns its exit status, or -1 after `timeout`.
int WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// Returns the port from the msg=listening line, waiting up to 10 s for it.
int WaitForPort(const std::string& log_path) {
  std::regex listening(R"(msg=listening address=127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 500; ++i) {
    std::smatch match;
    std::string log = ReadFile(log_path);
    if (std::regex_search(log, match, listening)) return std::stoi(match[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

TEST(IngestBinary, HelpAndVersion) {
  testing::TempDir dir;
  pid_t help = Spawn({BinaryPath(), "--help"}, dir.File("help.log"));
  EXPECT_EQ(WaitForExit(help, std::chrono::seconds(10)), 0);
  EXPECT_NE(ReadFile(dir.File("help.log")).find("--config PATH"), std::string::npos);
  pid_t version = Spawn({BinaryPath(), "--version"}, dir.File("version.log"));
  EXPECT_EQ(WaitForExit(version, std::chrono::seconds(10)), 0);
  EXPECT_EQ(ReadFile(dir.File("version.log")).rfind("intercom-ingest ", 0), 0u);
  pid_t bad = Spawn({BinaryPath(), "--bogus"}, dir.File("bad.log"));
  EXPECT_EQ(WaitForExit(bad, std::chrono::seconds(10)), 2);
}

TEST(IngestBinary, BadConfigStopsAtStart) {
  testing::TempDir dir;
  std::ofstream(dir.File("bad.toml")) << "[ingest]\nlisten = \"127.0.0.1:0\"\nthreads = 0\n";
  pid_t pid = Spawn({BinaryPath(), "--config", dir.File("bad.toml")}, dir.File("ingest.log"));
  EXPECT_EQ(WaitForExit(pid, std::chrono::seconds(10)), 2);
  EXPECT_NE(ReadFile(dir.File("ingest.log")).find("ingest.threads"), std::string::npos);
}

TEST(IngestBinary, ClientsEndUpAsRows) {
  testing::TempDir dir;
  std::string db_path = dir.File("queue.db");
  std::ofstream(dir.File("ingest.toml"))
      << "[queue]\npath = \"" << db_path << "\"\n"
      << "[ingest]\nlisten = \"127.0.0.1:0\"\napi_keys = [\"phc_binary\"]\n";
  std::string log_path = dir.File("ingest.log");
  pid_t pid = Spawn({BinaryPath(), "--config", dir.File("ingest.toml")}, log_path);
  int port = WaitForPort(log_path);
  ASSERT_GT(port, 0) << ReadFile(log_path);

  // curl -X POST http://127.0.0.1:8000/capture/ -H 'Content-Type: application/json' -d '...'
  HttpResult curl = SendRequest(
      port, "POST", "/capture/",
      R"({"api_key":"phc_binary","event":"signed_up","distinct_id":"curl-user",)"
      R"("properties":{"email":"curl@example.com"}})",
      {{"Content-Type", "application/json"}, {"User-Agent", "curl/7.88.1"}});
  EXPECT_EQ(curl.status, 200) << curl.body;

  // posthog-node: gzipped /batch/ with api_key and sent_at at the top.
  std::string node_body =
      R"({"api_key":"phc_binary","batch":[{"event":"$identify","distinct_id":"node-user",)"
      R"("properties":{"$set":{"email":"node@example.com"},"$lib":"posthog-node"},)"
      R"("timestamp":"2026-01-01T00:00:00.000+00:00","uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",)"
      R"("type":"identify","library":"posthog-node","library_version":"5.0.0"}],)"
      R"("sent_at":"2026-01-01T00:00:00.100Z"})";
  HttpResult node = SendRequest(port, "POST", "/batch/", Gzip(node_body),
                                {{"Content-Type", "application/json"},
                                 {"Content-Encoding", "gzip"},
                                 {"User-Agent", "posthog-node/5.0.0"}});
  EXPECT_EQ(node.status, 200) << node.body;

  // posthog-js on page unload: data=<base64> form, compression=base64.
  std::string js_events =
      R"([{"event":"$pageleave","properties":{"distinct_id":"js-user","token":"phc_binary",)"
      R"("$current_url":"https://example.com/pricing"},"timestamp":"2026-01-01T00:00:00.000Z",)"
      R"("uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"}])";
  HttpResult js = SendRequest(port, "POST", "/e/?compression=base64&ver=1.200.0&_=1767225600000",
                              "data=" + UrlEncode(Base64(js_events)),
                              {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(js.status, 200) << js.body;

  // PostHog's HTTP Webhook destination, with the token in the query.
  std::string webhook =
      R"({"event":{"uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d","event":"$identify",)"
      R"("distinct_id":"hook-user","properties":{},"timestamp":"2026-01-01T00:00:00Z",)"
      R"("url":"https://eu.posthog.com/events/x","elements_chain":""},)"
      R"("person":{"id":"p","properties":{"email":"hook@example.com"},"name":"H","url":"u"}})";
  HttpResult hook = SendRequest(port, "POST", "/webhook?token=phc_binary", webhook,
                                {{"Content-Type", "application/json"}});
  EXPECT_EQ(hook.status, 200) << hook.body;

  HttpResult unauthorized = SendRequest(port, "POST", "/e/", R"({"event":"e","distinct_id":"d"})");
  EXPECT_EQ(unauthorized.status, 401);

  ::kill(pid, SIGTERM);
  EXPECT_EQ(WaitForExit(pid, std::chrono::seconds(20)), 0);
  std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("msg=stopped"), std::string::npos) << log;
  EXPECT_NE(log.find("msg=rejected status=401"), std::string::npos) << log;
  EXPECT_NE(log.find("schema_version="), std::string::npos) << log;
  EXPECT_EQ(log.find("phc_binary"), std::string::npos) << "a token reached the log:\n" << log;

  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  SQLite::Statement rows(db,
                         "SELECT distinct_id, event, project_token, state, person IS NOT NULL "
                         "FROM events ORDER BY id");
  std::vector<std::string> seen;
  while (rows.executeStep()) {
    seen.push_back(rows.getColumn(0).getString() + " " + rows.getColumn(1).getString() + " " +
                   rows.getColumn(2).getString() + " " + rows.getColumn(3).getString() + " " +
                   rows.getColumn(4).getString());
  }
  std::vector<std::string> expected = {
      "curl-user signed_up phc_binary pending 0",
      "node-user $identify phc_binary pending 0",
      "js-user $pageleave phc_binary pending 0",
      "hook-user $identify phc_binary pending 1",
  };
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace connector

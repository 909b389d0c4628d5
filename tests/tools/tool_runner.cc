#include "tests/tools/tool_runner.h"

#include <Poco/JSON/Parser.h>
#include <SQLiteCpp/Statement.h>
#include <fcntl.h>
#include <pty.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.h"

extern char** environ;

namespace connector::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

std::string BuiltBinary(const std::string& relative_path) {
  const char* build_dir = std::getenv("CONNECTOR_BUILD_DIR");
  std::string base = build_dir != nullptr && *build_dir != '\0' ? build_dir : CONNECTOR_BINARY_DIR;
  return base + "/" + relative_path;
}

RunResult RunProgram(const std::string& program, const std::vector<std::string>& args,
              const std::optional<std::string>& stdin_path) {
  TempDir capture;
  std::string out_path = capture.File("stdout");
  std::string err_path = capture.File("stderr");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO,
                                   stdin_path ? stdin_path->c_str() : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  RunResult result;
  pid_t pid = 0;
  int spawn_error = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    ADD_FAILURE() << "cannot start " << program << ": error " << spawn_error;
    return result;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

RunResult RunProgramAsNobody(const std::string& program, const std::vector<std::string>& args) {
  TempDir capture;
  std::string out_path = capture.File("stdout");
  std::string err_path = capture.File("stderr");
  RunResult result;
  int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) {
    ADD_FAILURE() << "cannot open the capture files in " << capture.path();
    return result;
  }

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  bool root = ::geteuid() == 0;

  // Between fork and exec the child calls only async-signal-safe functions.
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
        ::dup2(err_fd, STDERR_FILENO) < 0) {
      ::_exit(125);
    }
    if (root && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      ::_exit(126);
    }
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(in_fd);
  ::close(out_fd);
  ::close(err_fd);
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return result;
  }

  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  if (result.exit_code == 126) ADD_FAILURE() << "cannot switch to uid 65534";
  if (result.exit_code == 127) ADD_FAILURE() << "cannot run " << program << " as uid 65534";
  return result;
}

RunResult RunOnTerminal(const std::string& program, const std::vector<std::string>& args) {
  TempDir capture;
  std::string err_path = capture.File("stderr");
  RunResult result;
  int terminal = -1;
  int replica = -1;
  if (::openpty(&terminal, &replica, nullptr, nullptr, nullptr) != 0) {
    ADD_FAILURE() << "openpty failed";
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, replica, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addclose(&actions, terminal);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(replica);
  if (spawn_error != 0) {
    ::close(terminal);
    ADD_FAILURE() << "cannot start " << program << ": error " << spawn_error;
    return result;
  }

  // Read until the program closes its side (EIO on Linux once it exits).
  char buffer[4096];
  while (true) {
    ssize_t count = ::read(terminal, buffer, sizeof buffer);
    if (count <= 0) break;
    result.out.append(buffer, static_cast<size_t>(count));
  }
  ::close(terminal);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.err = ReadFile(err_path);

  std::string text;
  for (size_t i = 0; i < result.out.size(); ++i) {
    if (result.out[i] == '\r' && i + 1 < result.out.size() && result.out[i + 1] == '\n') continue;
    text += result.out[i];
  }
  result.out = text;
  return result;
}

Poco::Dynamic::Var ParseJsonOrFail(const std::string& text) {
  try {
    return Poco::JSON::Parser().parse(text);
  } catch (const Poco::Exception& error) {
    ADD_FAILURE() << "invalid JSON (" << error.displayText() << "):\n" << text;
    return {};
  }
}

int64_t SeedEvent(SQLite::Database& db, const SeedRow& row) {
  SQLite::Statement insert(db,
                           "INSERT INTO events (uuid, event, distinct_id, payload, person, "
                           "state, email, reason, attempts, received_at_ms, created_at, "
                           "next_attempt_at_ms, updated_at_ms) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, row.uuid);
  insert.bind(2, row.event);
  insert.bind(3, row.distinct_id);
  insert.bind(4, row.payload);
  if (row.person) insert.bind(5, *row.person);
  insert.bind(6, row.state);
  if (row.email) insert.bind(7, *row.email);
  if (row.reason) insert.bind(8, *row.reason);
  insert.bind(9, row.attempts);
  insert.bind(10, row.received_at_ms);
  insert.bind(11, row.created_at);
  insert.bind(12, row.next_attempt_at_ms);
  insert.bind(13, row.updated_at_ms);
  insert.exec();
  return db.getLastInsertRowid();
}

void SeedAttempt(SQLite::Database& db, int64_t event_id, int attempt, int64_t started_at_ms,
                 const std::string& outcome, std::optional<int> http_status,
                 const std::string& error_code) {
  SQLite::Statement insert(db,
                           "INSERT INTO delivery_attempts (event_id, attempt, started_at_ms, "
                           "duration_ms, outcome, http_status, intercom_error_code) "
                           "VALUES (?, ?, ?, 25, ?, ?, ?)");
  insert.bind(1, event_id);
  insert.bind(2, attempt);
  insert.bind(3, started_at_ms);
  insert.bind(4, outcome);
  if (http_status) insert.bind(5, *http_status);
  if (!error_code.empty()) insert.bind(6, error_code);
  insert.exec();
}

std::string DumpTables(SQLite::Database& db) {
  std::string dump;
  for (const char* table : {"events", "delivery_attempts", "event_history"}) {
    SQLite::Statement rows(db, std::string("SELECT * FROM ") + table + " ORDER BY id");
    dump += std::string(table) + ":\n";
    while (rows.executeStep()) {
      for (int i = 0; i < rows.getColumnCount(); ++i) {
        dump += rows.getColumn(i).isNull() ? "NULL" : rows.getColumn(i).getString();
        dump += "|";
      }
      dump += "\n";
    }
  }
  return dump;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace connector::testing

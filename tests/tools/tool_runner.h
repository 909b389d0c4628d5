#pragma once

#include <SQLiteCpp/Database.h>

#include <Poco/Dynamic/Var.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace connector::testing {

// The result of one run of a binary: its exit code and everything it wrote.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Returns the path of a binary built by this project, such as
// "tools/intercom-queue", under CONNECTOR_BUILD_DIR (set by CTest), falling
// back to the build directory these tests were compiled in.
std::string BuiltBinary(const std::string& relative_path);

// Runs `program` with `args` and waits for it. `stdin_path`, when set, is
// connected to its standard input; otherwise it reads /dev/null. Standard
// output and error are files, so isatty() is false for both in the program.
RunResult RunProgram(const std::string& program, const std::vector<std::string>& args,
              const std::optional<std::string>& stdin_path = std::nullopt);

// Runs `program` like RunProgram, with standard input from /dev/null. When
// this process is root, which passes every permission check, the program
// runs as uid and gid 65534 (the user "nobody"); otherwise as this user.
RunResult RunProgramAsNobody(const std::string& program, const std::vector<std::string>& args);

// Runs `program` with standard output on a pseudo-terminal, so isatty() is
// true for it, and returns what it wrote there ('\r\n' turned into '\n').
// Standard error goes to a file.
RunResult RunOnTerminal(const std::string& program, const std::vector<std::string>& args);

// Parses JSON text, failing the current test (and returning an empty value)
// when it is invalid.
Poco::Dynamic::Var ParseJsonOrFail(const std::string& text);

// Fields of an `events` row written by SeedEvent. The defaults make a pending
// $identify event of user-1 with every time at 0, so tests set the times they use.
struct SeedRow {
  std::string uuid;
  std::string event = "$identify";
  std::string distinct_id = "user-1";
  std::string payload = "{}";
  std::optional<std::string> person;
  std::string state = "pending";
  std::optional<std::string> email;
  std::optional<std::string> reason;
  int64_t attempts = 0;
  int64_t received_at_ms = 0;
  int64_t created_at = 1767225600;   // 2026-01-01T00:00:00Z
  int64_t next_attempt_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// Inserts one event row as it is given and returns its id.
int64_t SeedEvent(SQLite::Database& db, const SeedRow& row);

// Inserts one delivery_attempts row.
void SeedAttempt(SQLite::Database& db, int64_t event_id, int attempt, int64_t started_at_ms,
                 const std::string& outcome, std::optional<int> http_status,
                 const std::string& error_code = "");

// Returns every row of events, delivery_attempts and event_history as text,
// to compare a database before and after a command that must change nothing.
std::string DumpTables(SQLite::Database& db);

int64_t NowMs();

}  // namespace connector::testing

#pragma once

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "tests/support/fake_intercom.h"
#include "tests/support/temp_dir.h"

namespace connector::testing {

// An events row as a test inserts it.
struct TestEvent {
  std::string uuid;                    // generated when empty
  std::string name = "$identify";
  std::string distinct_id = "ann@example.com";
  std::string payload = "{}";
  std::optional<std::string> person;
  int64_t created_at = 1'700'000'000;
  std::string state = "pending";
  int64_t next_attempt_at_ms = 0;
  std::optional<int64_t> lease_expires_at_ms;
  std::optional<std::string> lease_owner;
  int64_t updated_at_ms = 0;
};

// An events row as a test reads it back.
struct EventRow {
  std::string state;
  int attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::optional<std::string> reason;
  std::optional<std::string> email;
  std::optional<std::string> lease_owner;
};

// A delivery_attempts row as a test reads it back.
struct AttemptRow {
  int attempt = 0;
  std::string outcome;
  std::optional<int> http_status;
  std::string identifier;
  std::string request_id;
  std::string error_code;
  std::string error_message;
  std::string error;
  std::string notes;
};

// A temporary queue database, a fake Intercom and a configuration pointing
// the worker at both, with short durations so tests run fast.
class WorkerFixture : public ::testing::Test {
 protected:
  WorkerFixture();

  // Inserts a row with SQL and returns its id.
  int64_t Insert(TestEvent event);
  EventRow Read(int64_t id);
  std::vector<AttemptRow> Attempts(int64_t id);
  int64_t Count(const std::string& sql);
  // Polls `done` every 5 ms until it is true or `timeout` passes.
  bool WaitFor(const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool WaitForState(int64_t id, const std::string& state,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Writes `config_` as a TOML file for a worker process and returns its path.
  std::string WriteConfigFile();

  TempDir dir_;
  FakeIntercom fake_;
  Config config_;
  std::unique_ptr<SQLite::Database> db_;

 private:
  int next_uuid_ = 0;
};

}  // namespace connector::testing

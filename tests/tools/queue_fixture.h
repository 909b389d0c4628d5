#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/database.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/tool_runner.h"

namespace connector::testing {

// A fresh queue database in a temporary directory, an open connection to it
// for seeding and checking, and a runner for intercom-queue pointed at it.
class QueueToolTest : public ::testing::Test {
 protected:
  QueueToolTest() {
    QueueConfig config;
    config.path = dir_.File("queue.db");
    db_path_ = config.path;
    db_ = OpenQueue(config);
    now_ms_ = NowMs();
  }

  // Runs `intercom-queue --db <this database> args...`.
  RunResult Queue(std::vector<std::string> args,
                  const std::optional<std::string>& stdin_path = std::nullopt) {
    args.insert(args.begin(), {"--db", db_path_});
    return RunProgram(BuiltBinary("tools/intercom-queue"), args, stdin_path);
  }

  // Seeds an event `age_ms` old (received and last changed then) in `state`.
  int64_t Seed(const std::string& uuid, const std::string& state, int64_t age_ms = 0) {
    SeedRow row;
    row.uuid = uuid;
    row.state = state;
    row.received_at_ms = now_ms_ - age_ms;
    row.next_attempt_at_ms = now_ms_ - age_ms;
    row.updated_at_ms = now_ms_ - age_ms;
    return SeedEvent(*db_, row);
  }

  std::string State(int64_t id) {
    SQLite::Statement query(*db_, "SELECT state FROM events WHERE id = ?");
    query.bind(1, id);
    return query.executeStep() ? query.getColumn(0).getString() : "(deleted)";
  }

  int64_t Count(const std::string& sql) { return db_->execAndGet(sql).getInt64(); }

  TempDir dir_;
  std::string db_path_;
  std::unique_ptr<SQLite::Database> db_;
  int64_t now_ms_ = 0;
};

}  // namespace connector::testing

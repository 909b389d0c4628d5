// Runs every SQL block of README.md's "Inspect the queue with sqlite3"
// section against a real queue database, so the documented queries keep
// working as the schema changes.

#include <SQLiteCpp/Statement.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tests/tools/queue_fixture.h"

namespace connector::testing {
namespace {

using ::testing::HasSubstr;

// Returns the ```sql blocks between the section's BEGIN and END markers.
std::vector<std::string> ReadmeSqlBlocks() {
  std::ifstream file(std::string(CONNECTOR_SOURCE_DIR) + "/README.md");
  std::ostringstream text;
  text << file.rdbuf();
  std::string readme = text.str();

  size_t begin = readme.find("<!-- BEGIN sqlite3-section -->");
  size_t end = readme.find("<!-- END sqlite3-section -->");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return {};
  std::string section = readme.substr(begin, end - begin);

  std::vector<std::string> blocks;
  const std::string open = "```sql\n";
  for (size_t at = section.find(open); at != std::string::npos; at = section.find(open, at)) {
    at += open.size();
    size_t close = section.find("```", at);
    if (close == std::string::npos) break;
    blocks.push_back(section.substr(at, close - at));
    at = close + 3;
  }
  return blocks;
}

class ReadmeQueriesTest : public QueueToolTest {
 protected:
  // Fills the queue so every documented query has rows to return: event 42
  // of user-1 failed after attempts and has a decision, others are skipped.
  void SeedEveryCase() {
    for (int i = 1; i < 42; ++i) {
      SeedRow row;
      row.uuid = "filler-" + std::to_string(i);
      row.distinct_id = "user-" + std::to_string(i % 3);
      row.state = i % 2 == 0 ? "skipped" : "pending";
      if (row.state == "skipped") row.reason = "not a triggering event";
      row.received_at_ms = now_ms_ - 60'000;
      row.next_attempt_at_ms = now_ms_ - 60'000;
      row.updated_at_ms = now_ms_ - 60'000;
      SeedEvent(*db_, row);
    }
    SeedRow failed;
    failed.uuid = "failed-42";
    failed.state = "failed";
    failed.email = "ann@example.com";
    failed.reason = "HTTP 400 parameter_invalid";
    failed.received_at_ms = now_ms_ - 120'000;
    failed.updated_at_ms = now_ms_ - 10'000;
    int64_t id = SeedEvent(*db_, failed);
    ASSERT_EQ(id, 42);
    SeedAttempt(*db_, id, 1, now_ms_ - 90'000, "retry", 503);
    SeedAttempt(*db_, id, 2, now_ms_ - 10'000, "failed", 400, "parameter_invalid");
    db_->exec("INSERT INTO event_history (event_id, at_ms, action, detail) VALUES (42, " +
              std::to_string(now_ms_ - 5'000) + ", 'skipped', 'checked by hand')");
  }
};

TEST_F(ReadmeQueriesTest, SectionHasQueries) {
  EXPECT_GE(ReadmeSqlBlocks().size(), 7u);
}

TEST_F(ReadmeQueriesTest, EveryQueryReturnsRows) {
  SeedEveryCase();
  std::vector<std::string> blocks = ReadmeSqlBlocks();
  ASSERT_FALSE(blocks.empty());
  for (const std::string& sql : blocks) {
    try {
      SQLite::Statement query(*db_, sql);
      EXPECT_TRUE(query.executeStep()) << "no rows from:\n" << sql;
    } catch (const SQLite::Exception& error) {
      ADD_FAILURE() << error.what() << " in:\n" << sql;
    }
  }
}

TEST_F(ReadmeQueriesTest, ViewsShowExpectedValues) {
  SeedEveryCase();
  SQLite::Statement summary(*db_, "SELECT events FROM queue_summary WHERE state = 'failed'");
  ASSERT_TRUE(summary.executeStep());
  EXPECT_EQ(summary.getColumn(0).getInt64(), 1);

  SQLite::Statement failed(*db_,
                           "SELECT last_http_status, last_error_code, last_error "
                           "FROM failed_events WHERE id = 42");
  ASSERT_TRUE(failed.executeStep());
  EXPECT_EQ(failed.getColumn(0).getInt(), 400);
  EXPECT_EQ(failed.getColumn(1).getString(), "parameter_invalid");
  EXPECT_EQ(failed.getColumn(2).getString(), "HTTP 400 parameter_invalid");

  SQLite::Statement recent(*db_, "SELECT event_id, attempt FROM recent_attempts LIMIT 1");
  ASSERT_TRUE(recent.executeStep());
  EXPECT_EQ(recent.getColumn(1).getInt(), 2);  // newest first

  SQLite::Statement reasons(*db_, "SELECT reason, events FROM skip_reasons");
  ASSERT_TRUE(reasons.executeStep());
  EXPECT_EQ(reasons.getColumn(0).getString(), "not a triggering event");
  EXPECT_EQ(reasons.getColumn(1).getInt(), 20);

  SQLite::Statement timeline(*db_,
                             "SELECT kind, what, detail FROM event_timeline "
                             "WHERE event_id = 42 ORDER BY at_ms");
  std::vector<std::string> steps;
  while (timeline.executeStep()) {
    steps.push_back(timeline.getColumn(0).getString() + " " + timeline.getColumn(1).getString() +
                    ": " + timeline.getColumn(2).getString());
  }
  EXPECT_EQ(steps, (std::vector<std::string>{
                       "attempt retry: HTTP 503 in 25 ms",
                       "attempt failed: HTTP 400 parameter_invalid in 25 ms",
                       "decision skipped: checked by hand",
                   }));
}

// The README has operators open the database with `sqlite3 -readonly -box`,
// so the queries also run that way when the shell is installed.
TEST_F(ReadmeQueriesTest, QueriesRunInSqliteShell) {
  const std::string shell = "/usr/bin/sqlite3";
  if (::access(shell.c_str(), X_OK) != 0) GTEST_SKIP() << shell << " is not installed";
  SeedEveryCase();
  for (const std::string& sql : ReadmeSqlBlocks()) {
    RunResult result = RunProgram(shell, {"-readonly", "-box", db_path_, sql});
    EXPECT_EQ(result.exit_code, 0) << result.err << "\nin:\n" << sql;
    EXPECT_EQ(result.err, "") << sql;
    EXPECT_THAT(result.out, HasSubstr("│")) << "no table from:\n" << sql;
  }
}

}  // namespace
}  // namespace connector::testing

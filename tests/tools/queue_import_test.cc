// Runs `intercom-queue import` on NDJSON and JSON array files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Poco/JSON/Object.h>

#include <fstream>

#include "tests/tools/queue_fixture.h"

namespace connector::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Poco::JSON::Object;

class QueueImportTest : public QueueToolTest {
 protected:
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_.File(name);
    std::ofstream(path) << text;
    return path;
  }
};

constexpr const char* kIdentify =
    R"({"event":"$identify","distinct_id":"ann@example.com",)"
    R"("uuid":"0190A1B2-C3D4-7E5F-8A9B-000000000001","timestamp":"2026-01-02T03:04:05Z",)"
    R"("properties":{"token":"phc_project","$set":{"email":"ann@example.com"}}})";
constexpr const char* kSignup =
    R"({"event":"signup","distinct_id":42,"uuid":"0190a1b2-c3d4-7e5f-8a9b-000000000002",)"
    R"("timestamp":1767323045,"properties":{"plan":"pro"}})";

TEST_F(QueueImportTest, NdjsonThroughIngestRules) {
  std::string path = WriteFile("events.ndjson", std::string(kIdentify) + "\n\n" + kSignup + "\n");
  RunResult result = Queue({"import", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("imported 2 events (0 already queued, 0 invalid)"));

  SQLite::Statement rows(*db_,
                         "SELECT uuid, event, distinct_id, coalesce(project_token, ''), "
                         "created_at, state FROM events ORDER BY id");
  ASSERT_TRUE(rows.executeStep());
  EXPECT_EQ(rows.getColumn(0).getString(), "0190a1b2-c3d4-7e5f-8a9b-000000000001");  // lower-cased
  EXPECT_EQ(rows.getColumn(1).getString(), "$identify");
  EXPECT_EQ(rows.getColumn(3).getString(), "phc_project");
  EXPECT_EQ(rows.getColumn(4).getInt64(), 1767323045);
  EXPECT_EQ(rows.getColumn(5).getString(), "pending");
  ASSERT_TRUE(rows.executeStep());
  EXPECT_EQ(rows.getColumn(2).getString(), "42");  // numeric distinct_id as text
  EXPECT_EQ(rows.getColumn(4).getInt64(), 1767323045);
  EXPECT_FALSE(rows.executeStep());
}

TEST_F(QueueImportTest, JsonArrayExport) {
  std::string path =
      WriteFile("export.json", "[\n  " + std::string(kIdentify) + ",\n  " + kSignup + "\n]\n");
  RunResult result = Queue({"import", path, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_EQ(json->getValue<int64_t>("read"), 2);
  EXPECT_EQ(json->getValue<int64_t>("added"), 2);
  EXPECT_EQ(json->getValue<int64_t>("invalid"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 2);
  // The payload keeps the file's key order.
  EXPECT_EQ(db_->execAndGet("SELECT payload FROM events WHERE event = 'signup'").getString(),
            kSignup);
}

TEST_F(QueueImportTest, JsonArrayKeepsLargeIntegersExact) {
  std::string path = WriteFile(
      "export.json",
      R"([{"event":"signup","distinct_id":"ann@example.com","timestamp":1767323045,)"
      R"("properties":{"low":-9223372036854775807,"high":18446744073709551616}}])");
  RunResult result = Queue({"import", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::string payload = db_->execAndGet("SELECT payload FROM events").getString();
  EXPECT_THAT(payload, HasSubstr(R"("low":-9223372036854775807)"));
  // Beyond uint64: kept as the nearest double, as ingest stores it.
  EXPECT_THAT(payload, HasSubstr(R"("high":1.8446744073709552e+19)"));
}

TEST_F(QueueImportTest, StandardInput) {
  std::string path = WriteFile("events.ndjson", std::string(kSignup) + "\n");
  RunResult result = Queue({"import", "-"}, path);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 1);
}

TEST_F(QueueImportTest, SecondImportAddsNothing) {
  std::string path = WriteFile("events.ndjson", std::string(kIdentify) + "\n" + kSignup + "\n");
  ASSERT_EQ(Queue({"import", path}).exit_code, 0);
  RunResult again = Queue({"import", path});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.out, HasSubstr("imported 0 events (2 already queued, 0 invalid)"));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 2);
}

TEST_F(QueueImportTest, InvalidEventImportsNothing) {
  std::string path = WriteFile(
      "events.ndjson", std::string(kIdentify) + "\n" + R"({"event":"no distinct id"})" + "\n");
  RunResult result = Queue({"import", path});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("line 2: "));
  EXPECT_THAT(result.err, HasSubstr("distinct_id"));
  EXPECT_THAT(result.err, HasSubstr("1 of 2 events is invalid, so nothing was imported"));
  EXPECT_THAT(result.err, HasSubstr("--skip-invalid"));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

TEST_F(QueueImportTest, SkipInvalidImportsTheRest) {
  std::string path = WriteFile("export.json", "[" + std::string(kIdentify) +
                                                  R"(, {"distinct_id":"x"}, "text"])");
  RunResult result = Queue({"import", path, "--skip-invalid"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("element 2: "));
  EXPECT_THAT(result.err, HasSubstr("element 3: "));
  EXPECT_THAT(result.out, HasSubstr("imported 1 event (0 already queued, 2 invalid)"));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 1);
}

TEST_F(QueueImportTest, MalformedJsonLineNamed) {
  std::string path = WriteFile("events.ndjson", "{\"event\": \n");
  RunResult result = Queue({"import", path});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("line 1: "));
}

TEST_F(QueueImportTest, DryRunCountsWithoutWriting) {
  std::string path = WriteFile("events.ndjson", std::string(kIdentify) + "\n" + kSignup + "\n");
  ASSERT_EQ(Queue({"import", WriteFile("one.ndjson", std::string(kSignup) + "\n")}).exit_code, 0);
  std::string before = DumpTables(*db_);

  RunResult result = Queue({"import", path, "--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("dry run: would have imported 1 event (1 already queued"));
  EXPECT_EQ(DumpTables(*db_), before);
}

TEST_F(QueueImportTest, UnknownTokenRejectedLikeIngest) {
  std::string config = WriteFile("connector.toml", "[ingest]\napi_keys = [\"phc_other\"]\n");
  std::string path = WriteFile("events.ndjson", std::string(kIdentify) + "\n");
  RunResult result = Queue({"--config", config, "import", path});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("line 1: "));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

TEST_F(QueueImportTest, MissingTokenNamesTokenOption) {
  std::string config = WriteFile("connector.toml", "[ingest]\napi_keys = [\"phc_project\"]\n");
  std::string path = WriteFile("events.ndjson", std::string(kSignup) + "\n");
  RunResult result = Queue({"--config", config, "import", path});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("line 1: project token is missing; "));
  EXPECT_THAT(result.err, HasSubstr("or pass --token for events that carry none"));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

TEST_F(QueueImportTest, FallbackTokenApplied) {
  std::string path = WriteFile("events.ndjson", std::string(kSignup) + "\n");
  RunResult result = Queue({"import", path, "--token", "phc_given"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(db_->execAndGet("SELECT project_token FROM events").getString(), "phc_given");
}

TEST_F(QueueImportTest, MissingFileNamed) {
  RunResult result = Queue({"import", dir_.File("absent.ndjson")});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("absent.ndjson"));
}

TEST_F(QueueImportTest, CreatesMissingDatabase) {
  std::string path = WriteFile("events.ndjson", std::string(kSignup) + "\n");
  std::string fresh = dir_.File("fresh.db");
  RunResult result = RunProgram(BuiltBinary("tools/intercom-queue"), {"--db", fresh, "import", path});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  RunResult stats = RunProgram(BuiltBinary("tools/intercom-queue"), {"--db", fresh, "stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(ParseJsonOrFail(stats.out).extract<Object::Ptr>()->getValue<int64_t>("events"), 1);
}

TEST_F(QueueImportTest, EmptyFileExitsOne) {
  EXPECT_EQ(Queue({"import", WriteFile("empty.ndjson", "\n")}).exit_code, 1);
}

TEST_F(QueueImportTest, DirectoryExitsThree) {
  RunResult result = Queue({"import", dir_.path()});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr(dir_.path() + ": it is a directory"));
}

// Elements and lines that are not event objects are named with their
// position, not described as a whole request body, as ingest does.
TEST_F(QueueImportTest, NonObjectElementsNamed) {
  std::string array = WriteFile(
      "export.json", "[" + std::string(kIdentify) + R"(, "text", [{"event":"e"}], 5, null])");
  RunResult result = Queue({"import", array});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("element 2: \"text\" is not an event object; each element"));
  EXPECT_THAT(result.err, HasSubstr("element 3: [{\"event\":\"e\"}] is not an event object"));
  EXPECT_THAT(result.err, HasSubstr("element 4: 5 is not an event object"));
  EXPECT_THAT(result.err, HasSubstr("element 5: null is not an event object"));
  EXPECT_THAT(result.err, Not(HasSubstr("send an event object")));
  EXPECT_THAT(result.err, Not(HasSubstr("body")));

  std::string lines = WriteFile("events.ndjson", std::string(kIdentify) + "\n\"text\"\n" +
                                                     R"([{"event":"e","distinct_id":"d"}])" +
                                                     "\n{\"event\": \n");
  result = Queue({"import", lines});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr("line 2: \"text\" is not an event object; put one JSON "
                                    "object with event and distinct_id on each line"));
  EXPECT_THAT(result.err, HasSubstr("line 3: [{\"event\":\"e\",\"distinct_id\":\"d\"}] is not an "
                                    "event object"));
  EXPECT_THAT(result.err, HasSubstr("line 4: not valid JSON ("));
  EXPECT_THAT(result.err, Not(HasSubstr("send an event object")));
  EXPECT_THAT(result.err, Not(HasSubstr("body")));
  EXPECT_EQ(Count("SELECT count(*) FROM events"), 0);
}

// Exit code 3 for invalid events is the one --help defines for them.
TEST_F(QueueImportTest, HelpDefinesInvalidEventsExitCode) {
  RunResult help = Queue({"--help"});
  EXPECT_THAT(help.out, HasSubstr("3 the database or a file could not be read or written, the "
                                  "database is not a\nqueue, a file to import has invalid events"));
}

}  // namespace
}  // namespace connector::testing

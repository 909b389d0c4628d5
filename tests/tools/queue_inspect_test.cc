// Runs the read-only intercom-queue commands (stats, list, show, check) and
// the command-line handling against real database files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/tools/queue_fixture.h"

namespace connector::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Poco::JSON::Array;
using Poco::JSON::Object;

class QueueInspectTest : public QueueToolTest {};

std::vector<int64_t> Ids(const Poco::Dynamic::Var& json) {
  std::vector<int64_t> ids;
  Array::Ptr array = json.extract<Array::Ptr>();
  for (size_t i = 0; i < array->size(); ++i) {
    ids.push_back(array->getObject(static_cast<unsigned>(i))->getValue<int64_t>("id"));
  }
  return ids;
}

TEST_F(QueueInspectTest, NoCommandIsUsageError) {
  RunResult result = Queue({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("missing command"));
}

TEST_F(QueueInspectTest, UnknownCommandNamed) {
  RunResult result = Queue({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("\"frobnicate\""));
}

TEST_F(QueueInspectTest, UnknownOptionNamedWithUsage) {
  RunResult result = Queue({"list", "--colour", "red"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--colour"));
  EXPECT_THAT(result.err, HasSubstr("usage: intercom-queue list"));
}

TEST_F(QueueInspectTest, HelpListsCommandsAndExitCodes) {
  RunResult result = Queue({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* name : {"stats", "list", "show", "retry", "skip", "cancel", "replay", "purge",
                           "import", "check"}) {
    EXPECT_THAT(result.out, HasSubstr("  " + std::string(name) + " ")) << name;
  }
  EXPECT_THAT(result.out, HasSubstr("exit codes: 0 done, 1 nothing matched, 2 invalid"));
}

TEST_F(QueueInspectTest, CommandHelpShowsOptions) {
  RunResult result = Queue({"purge", "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("--older-than AGE"));
  EXPECT_THAT(result.out, HasSubstr("--include-failed"));
}

TEST_F(QueueInspectTest, MissingDatabaseNotCreated) {
  std::string missing = dir_.File("typo.db");
  RunResult result = RunProgram(BuiltBinary("tools/intercom-queue"), {"--db", missing, "stats"});
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_THAT(result.err, HasSubstr(missing));
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(QueueInspectTest, InvalidConfigIsUsageError) {
  RunResult result = Queue({"--config", dir_.File("absent.toml"), "stats"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("absent.toml"));
}

TEST_F(QueueInspectTest, StatsCountsStatesAndAttempts) {
  Seed("p1", "pending", 90'000);
  Seed("p2", "pending", 1'000);
  int64_t delivered = Seed("d1", "delivered");
  int64_t failed = Seed("f1", "failed");
  Seed("s1", "skipped");
  SeedAttempt(*db_, delivered, 1, now_ms_ - 10'000, "delivered", 202);
  SeedAttempt(*db_, failed, 1, now_ms_ - 30'000, "retry", 503);
  SeedAttempt(*db_, failed, 2, now_ms_ - 20 * 60'000, "failed", 400, "parameter_invalid");
  SeedAttempt(*db_, failed, 3, now_ms_ - 2 * 3'600'000, "delivered", 202);  // outside both

  RunResult result = Queue({"stats", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  Object::Ptr states = json->getObject("states");
  EXPECT_EQ(states->getValue<int64_t>("pending"), 2);
  EXPECT_EQ(states->getValue<int64_t>("leased"), 0);
  EXPECT_EQ(states->getValue<int64_t>("delivered"), 1);
  EXPECT_EQ(states->getValue<int64_t>("skipped"), 1);
  EXPECT_EQ(states->getValue<int64_t>("failed"), 1);
  EXPECT_EQ(json->getValue<int64_t>("events"), 5);
  EXPECT_GE(json->getValue<int64_t>("oldest_pending_age_ms"), 90'000);
  EXPECT_LT(json->getValue<int64_t>("oldest_pending_age_ms"), 90'000 + 60'000);

  Object::Ptr minute = json->getObject("attempts_last_minute");
  EXPECT_EQ(minute->getValue<int64_t>("delivered"), 1);
  EXPECT_EQ(minute->getValue<int64_t>("retried"), 1);
  EXPECT_EQ(minute->getValue<int64_t>("failed"), 0);
  Object::Ptr hour = json->getObject("attempts_last_hour");
  EXPECT_EQ(hour->getValue<int64_t>("delivered"), 1);
  EXPECT_EQ(hour->getValue<int64_t>("retried"), 1);
  EXPECT_EQ(hour->getValue<int64_t>("failed"), 1);
  EXPECT_GT(json->getValue<int64_t>("database_bytes"), 0);
  EXPECT_TRUE(json->has("wal_bytes"));
}

TEST_F(QueueInspectTest, StatsTableNamesEveryState) {
  Seed("p1", "pending", 5'000);
  RunResult result = Queue({"stats"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* line : {"pending\t1\n", "leased\t0\n", "delivered\t0\n", "skipped\t0\n",
                           "failed\t0\n"}) {
    EXPECT_THAT(result.out, HasSubstr(line));
  }
  EXPECT_THAT(result.out, HasSubstr("oldest pending:  5s old"));
  EXPECT_THAT(result.out, HasSubstr("wal:"));
}

TEST_F(QueueInspectTest, StatsOnEmptyQueue) {
  RunResult result = Queue({"stats", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_TRUE(json->isNull("oldest_pending_age_ms"));
}

TEST_F(QueueInspectTest, ListFiltersByState) {
  int64_t failed = Seed("f1", "failed");
  Seed("p1", "pending");
  int64_t skipped = Seed("s1", "skipped");
  RunResult result = Queue({"list", "--state", "failed,skipped", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)), (std::vector<int64_t>{failed, skipped}));
}

TEST_F(QueueInspectTest, ListFiltersByEventAndDistinctId) {
  SeedRow row;
  row.uuid = "a";
  row.event = "signup";
  row.distinct_id = "alice";
  int64_t alice_signup = SeedEvent(*db_, row);
  row.uuid = "b";
  row.event = "$identify";
  SeedEvent(*db_, row);
  row.uuid = "c";
  row.event = "signup";
  row.distinct_id = "bob";
  SeedEvent(*db_, row);

  RunResult result = Queue({"list", "--event", "signup", "--distinct-id", "alice", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)), std::vector<int64_t>{alice_signup});
}

TEST_F(QueueInspectTest, ListFiltersByEmailAnywhere) {
  SeedRow row;
  row.uuid = "resolved";
  row.email = "Ann@Example.com";
  int64_t resolved = SeedEvent(*db_, row);
  row = SeedRow{};
  row.uuid = "in-properties";
  row.payload = R"({"properties":{"email":"ann@example.com"}})";
  int64_t in_properties = SeedEvent(*db_, row);
  row.uuid = "in-set";
  row.payload = R"({"properties":{"$set":{"email":"ANN@example.com"}}})";
  int64_t in_set = SeedEvent(*db_, row);
  row.uuid = "in-person";
  row.payload = "{}";
  row.person = R"({"properties":{"email":"ann@example.com"}})";
  int64_t in_person = SeedEvent(*db_, row);
  row = SeedRow{};
  row.uuid = "as-distinct-id";
  row.distinct_id = "ann@example.com";
  int64_t as_distinct_id = SeedEvent(*db_, row);
  row = SeedRow{};
  row.uuid = "in-set-once";
  row.payload = R"({"$set_once":{"email":"ann@example.com"}})";
  int64_t in_set_once = SeedEvent(*db_, row);
  row = SeedRow{};
  row.uuid = "other";
  row.email = "bob@example.com";
  row.payload = R"({"properties":{"email":"bob@example.com"}})";
  SeedEvent(*db_, row);

  RunResult result = Queue({"list", "--email", "ann@example.com", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)),
            (std::vector<int64_t>{resolved, in_properties, in_set, in_person, as_distinct_id,
                                  in_set_once}));
}

TEST_F(QueueInspectTest, ListFiltersByTimeRange) {
  Seed("old", "pending", 3 * 3'600'000);
  int64_t middle = Seed("middle", "pending", 90 * 60'000);
  Seed("new", "pending", 60'000);
  RunResult result = Queue({"list", "--since", "2h", "--until", "1h", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)), std::vector<int64_t>{middle});
}

TEST_F(QueueInspectTest, ListHonoursLimit) {
  int64_t first = Seed("a", "pending");
  int64_t second = Seed("b", "pending");
  Seed("c", "pending");
  RunResult result = Queue({"list", "--limit", "2", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)), (std::vector<int64_t>{first, second}));
}

TEST_F(QueueInspectTest, ListDefaultLimitIsAnnounced) {
  for (int i = 0; i < 101; ++i) Seed("u" + std::to_string(i), "pending");
  RunResult result = Queue({"list", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(Ids(ParseJsonOrFail(result.out)).size(), 100u);
  EXPECT_THAT(result.err, HasSubstr("--limit"));
}

TEST_F(QueueInspectTest, ListTableHasHeaderAndRows) {
  Seed("a", "failed");
  RunResult result = Queue({"list"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("id\tstate\tevent\tdistinct_id\temail\t"));
  EXPECT_THAT(result.out, HasSubstr("\tfailed\t$identify\tuser-1\t"));
}

TEST_F(QueueInspectTest, ListAlignedOnTerminal) {
  SeedRow row;
  row.uuid = "short";
  row.distinct_id = "a";
  SeedEvent(*db_, row);
  row.uuid = "long";
  row.distinct_id = "a-much-longer-distinct-id";
  SeedEvent(*db_, row);

  RunResult result = RunOnTerminal(BuiltBinary("tools/intercom-queue"),
                                   {"--db", db_path_, "list", "--state", "pending"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find('\t'), std::string::npos) << result.out;
  std::vector<std::string> lines;
  std::istringstream text(result.out);
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  // The email column starts at the same offset in the header and every row.
  size_t email_column = lines[0].find("email");
  ASSERT_NE(email_column, std::string::npos);
  EXPECT_EQ(lines[1].substr(email_column - 2, 2), "  ") << result.out;
  EXPECT_EQ(lines[2].find("a-much-longer-distinct-id"), lines[0].find("distinct_id"));
}

TEST_F(QueueInspectTest, ListNothingMatchedExitsOne) {
  Seed("a", "pending");
  RunResult result = Queue({"list", "--state", "failed"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  RunResult json = Queue({"list", "--state", "failed", "--json"});
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_EQ(ParseJsonOrFail(json.out).extract<Array::Ptr>()->size(), 0u);
}

TEST_F(QueueInspectTest, ListInvalidStateExitsTwo) {
  RunResult result = Queue({"list", "--state", "sent"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("\"sent\""));
}

TEST_F(QueueInspectTest, ListInvalidTimeExitsTwo) {
  RunResult result = Queue({"list", "--since", "last tuesday"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--since"));
}

TEST_F(QueueInspectTest, ShowByIdAndUuid) {
  SeedRow row;
  row.uuid = "0190a1b2-c3d4-7e5f-8a9b-000000000001";
  row.state = "failed";
  row.reason = "HTTP 400 parameter_invalid";
  row.payload = R"({"event":"$identify","properties":{"plan":"pro"}})";
  row.received_at_ms = now_ms_;
  row.updated_at_ms = now_ms_;
  int64_t id = SeedEvent(*db_, row);
  SeedAttempt(*db_, id, 1, now_ms_ - 5'000, "retry", 503);
  SeedAttempt(*db_, id, 2, now_ms_ - 1'000, "failed", 400, "parameter_invalid");
  db_->exec("INSERT INTO event_history (event_id, at_ms, action, detail) VALUES (" +
            std::to_string(id) + ", " + std::to_string(now_ms_) + ", 'failed', 'gave up')");

  for (const std::string& key : {std::to_string(id), row.uuid}) {
    RunResult result = Queue({"show", key, "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
    EXPECT_EQ(json->getValue<int64_t>("id"), id) << key;
    EXPECT_EQ(json->getValue<std::string>("state"), "failed");
    EXPECT_EQ(json->getObject("payload")->getObject("properties")->getValue<std::string>("plan"),
              "pro");
    Array::Ptr attempts = json->getArray("attempts");
    ASSERT_EQ(attempts->size(), 2u);
    EXPECT_EQ(attempts->getObject(1)->getValue<std::string>("intercom_error_code"),
              "parameter_invalid");
    Array::Ptr history = json->getArray("history");
    ASSERT_EQ(history->size(), 1u);
    EXPECT_EQ(history->getObject(0)->getValue<std::string>("action"), "failed");
  }

  RunResult text = Queue({"show", std::to_string(id)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("reason:              HTTP 400 parameter_invalid"));
  EXPECT_THAT(text.out, HasSubstr("created_at:          1767225600 (2026-01-01 00:00:00 UTC)"));
  EXPECT_THAT(text.out, HasSubstr("event_history ("));
  EXPECT_THAT(text.out, HasSubstr("\tfailed\tgave up"));
  EXPECT_THAT(text.out, HasSubstr("\tparameter_invalid\t"));
  EXPECT_THAT(text.out, HasSubstr("payload:\n{\n  \"event\": \"$identify\",\n  \"properties\": {\n"
                                  "    \"plan\": \"pro\"\n"));
}

TEST_F(QueueInspectTest, ShowFailureOnlyInAttempts) {
  // The worker records a failure in the row and in delivery_attempts, and
  // leaves event_history empty.
  SeedRow row;
  row.state = "failed";
  row.reason = "HTTP 400 parameter_invalid";
  row.received_at_ms = now_ms_;
  row.updated_at_ms = now_ms_;
  int64_t id = SeedEvent(*db_, row);
  SeedAttempt(*db_, id, 1, now_ms_ - 1'000, "failed", 400, "parameter_invalid");

  RunResult text = Queue({"show", std::to_string(id)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  // "decisions: none" read as if nothing had been decided about a failed event.
  EXPECT_THAT(text.out, Not(HasSubstr("decisions")));
  EXPECT_THAT(text.out,
              HasSubstr("\nevent_history (filter skips, expired leases, intercom-queue commands):\n"
                        "  none\n"));
  EXPECT_THAT(text.out, HasSubstr("\tparameter_invalid\t"));

  RunResult json = Queue({"show", std::to_string(id), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Object::Ptr object = ParseJsonOrFail(json.out).extract<Object::Ptr>();
  EXPECT_EQ(object->getArray("history")->size(), 0u);
  EXPECT_EQ(object->getArray("attempts")->size(), 1u);
}

TEST_F(QueueInspectTest, ShowKeepsLargeIntegersExact) {
  SeedRow row;
  row.payload = R"({"properties":{"low":-9223372036854775807,"high":18446744073709551615}})";
  row.received_at_ms = now_ms_;
  row.updated_at_ms = now_ms_;
  int64_t id = SeedEvent(*db_, row);

  RunResult json = Queue({"show", std::to_string(id), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("-9223372036854775807"));
  EXPECT_THAT(json.out, HasSubstr("18446744073709551615"));
  RunResult text = Queue({"show", std::to_string(id)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("-9223372036854775807"));
  EXPECT_THAT(text.out, HasSubstr("18446744073709551615"));
}

TEST_F(QueueInspectTest, ShowUnknownExitsOne) {
  RunResult result = Queue({"show", "42"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("no event with id 42"));
}

TEST_F(QueueInspectTest, ShowNeedsOneKey) {
  EXPECT_EQ(Queue({"show"}).exit_code, 2);
  EXPECT_EQ(Queue({"show", "1", "2"}).exit_code, 2);
}

TEST_F(QueueInspectTest, CheckReportsHealthyDatabase) {
  Seed("a", "pending");
  RunResult result = Queue({"check", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_TRUE(json->getValue<bool>("ok"));
  EXPECT_EQ(json->getArray("integrity_problems")->size(), 0u);
  EXPECT_EQ(json->getValue<int>("schema_version"), LatestSchemaVersion());
  EXPECT_EQ(json->getValue<std::string>("checkpoint_mode"), "passive");

  RunResult text = Queue({"check"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("integrity:       ok"));
  EXPECT_THAT(text.out, HasSubstr("schema version:  " + std::to_string(LatestSchemaVersion())));
}

TEST_F(QueueInspectTest, CheckTruncateEmptiesWal) {
  // This fixture's open connection keeps the WAL file in place between runs.
  for (int i = 0; i < 50; ++i) Seed("u" + std::to_string(i), "pending");
  ASSERT_GT(std::filesystem::file_size(db_path_ + "-wal"), 0u);

  RunResult result = Queue({"check", "--truncate", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Object::Ptr json = ParseJsonOrFail(result.out).extract<Object::Ptr>();
  EXPECT_GT(json->getValue<int64_t>("wal_bytes_before"), 0);
  EXPECT_EQ(json->getValue<int64_t>("wal_bytes_after"), 0);
  EXPECT_FALSE(json->getValue<bool>("checkpoint_busy"));
}

TEST_F(QueueInspectTest, StrayArgumentExitsTwo) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"stats", "extra"}, {"list", "extra"}, {"check", "extra"},
        {"purge", "--older-than", "30d", "extra"}}) {
    RunResult result = Queue(args);
    EXPECT_EQ(result.exit_code, 2) << args[0];
    EXPECT_THAT(result.err, HasSubstr("unexpected argument \"extra\"")) << args[0];
  }
}

TEST_F(QueueInspectTest, EmptyDbPathExitsTwo) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--db", "", "stats"}, {"--db=", "stats"}}) {
    RunResult result = RunProgram(BuiltBinary("tools/intercom-queue"), args);
    EXPECT_EQ(result.exit_code, 2) << args[0];
    EXPECT_THAT(result.err, HasSubstr("--db needs a file path")) << args[0];
  }
}

// Another application's SQLite file: every command leaves it as it was,
// including import, the one command that may create a queue.
TEST_F(QueueInspectTest, ForeignDatabaseRefusedUnchanged) {
  std::string other = dir_.File("other.db");
  {
    SQLite::Database foreign(other, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    foreign.exec("CREATE TABLE foo (x)");
  }
  std::string events = dir_.File("events.ndjson");
  std::ofstream(events) << R"({"event":"e","distinct_id":"d"})" << "\n";
  for (std::vector<std::string> args :
       {std::vector<std::string>{"stats"}, {"list"}, {"show", "1"}, {"check"},
        {"retry", "--all"}, {"import", events}}) {
    args.insert(args.begin(), {"--db", other});
    RunResult result = RunProgram(BuiltBinary("tools/intercom-queue"), args);
    EXPECT_EQ(result.exit_code, 3) << args[2];
    EXPECT_THAT(result.err, HasSubstr(other)) << args[2];
    EXPECT_THAT(result.err, HasSubstr("is not an Intercom Connector queue")) << args[2];
  }

  SQLite::Database foreign(other, SQLite::OPEN_READONLY);
  EXPECT_EQ(foreign.execAndGet("SELECT group_concat(name) FROM sqlite_master").getString(), "foo");
  EXPECT_EQ(foreign.execAndGet("PRAGMA user_version").getInt(), 0);
  EXPECT_EQ(foreign.execAndGet("PRAGMA journal_mode").getString(), "delete");
}

// An empty file is treated like a missing one: only import makes it a queue.
TEST_F(QueueInspectTest, EmptyFileRefusedLikeMissing) {
  std::string empty = dir_.File("empty.db");
  std::ofstream{empty};
  for (std::vector<std::string> args :
       {std::vector<std::string>{"stats"}, {"list"}, {"check"}, {"retry", "--all"}}) {
    args.insert(args.begin(), {"--db", empty});
    RunResult result = RunProgram(BuiltBinary("tools/intercom-queue"), args);
    EXPECT_EQ(result.exit_code, 3) << args[2];
    EXPECT_THAT(result.err, HasSubstr(empty + " is empty")) << args[2];
  }
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);

  std::string events = dir_.File("events.ndjson");
  std::ofstream(events) << R"({"event":"e","distinct_id":"d"})" << "\n";
  RunResult import =
      RunProgram(BuiltBinary("tools/intercom-queue"), {"--db", empty, "import", events});
  EXPECT_EQ(import.exit_code, 0) << import.err;
}

// Reading needs no write lock: with another connection in BEGIN IMMEDIATE
// the inspection commands (and a dry run) finish within the busy timeout.
TEST_F(QueueInspectTest, InspectionWhileWriteLockHeld) {
  int64_t id = Seed("a", "failed");
  std::string config = dir_.File("connector.toml");
  std::ofstream(config) << "[queue]\nbusy_timeout = \"300ms\"\n";
  db_->exec("BEGIN IMMEDIATE");
  db_->exec("UPDATE events SET reason = 'held' WHERE id = " + std::to_string(id));

  for (std::vector<std::string> args :
       {std::vector<std::string>{"stats"}, {"list"}, {"show", std::to_string(id)}, {"check"},
        {"retry", "--all", "--dry-run"}}) {
    args.insert(args.begin(), {"--config", config});
    RunResult result = Queue(args);
    EXPECT_EQ(result.exit_code, 0) << args[2] << ": " << result.err;
    EXPECT_THAT(result.err, Not(HasSubstr("locked"))) << args[2];
  }
  db_->exec("ROLLBACK");
}

// Returns whether every directory above `path` lets other users through.
bool OthersCanReach(const std::string& path) {
  for (std::filesystem::path parent = std::filesystem::path(path).parent_path();
       !parent.empty(); parent = parent.parent_path()) {
    struct stat info {};
    if (::stat(parent.c_str(), &info) != 0 || (info.st_mode & S_IXOTH) == 0) return false;
    if (parent == parent.root_path()) break;
  }
  return true;
}

// Restores the permissions a test took away, so TempDir can delete the files.
class PermissionRestorer {
 public:
  explicit PermissionRestorer(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  ~PermissionRestorer() {
    for (const std::string& path : paths_) ::chmod(path.c_str(), 0700);
  }

 private:
  std::vector<std::string> paths_;
};

// A user who may read but not write the queue and its directory can inspect
// it while the -wal and -shm files exist (while ingest or the worker has it
// open). Without them SQLite cannot open a WAL database read-only there, and
// the error explains what to do.
TEST_F(QueueInspectTest, InspectionOfReadOnlyQueue) {
  std::string queue = BuiltBinary("tools/intercom-queue");
  if (::geteuid() == 0) {
    for (const std::string& path : {dir_.path(), queue}) {
      if (!OthersCanReach(path)) GTEST_SKIP() << "uid 65534 cannot reach " << path;
    }
  }
  int64_t id = Seed("a", "failed");
  ASSERT_TRUE(std::filesystem::exists(db_path_ + "-shm"));
  PermissionRestorer restore({dir_.path(), db_path_, db_path_ + "-wal", db_path_ + "-shm"});
  for (const std::string& file : {db_path_, db_path_ + "-wal", db_path_ + "-shm"}) {
    ASSERT_EQ(::chmod(file.c_str(), 0444), 0) << file;
  }
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0555), 0);

  for (std::vector<std::string> args :
       {std::vector<std::string>{"stats"}, {"list"}, {"show", std::to_string(id)}, {"check"}}) {
    args.insert(args.begin(), {"--db", db_path_});
    RunResult result = RunProgramAsNobody(queue, args);
    EXPECT_EQ(result.exit_code, 0) << args[2] << ": " << result.err;
  }
  RunResult check = RunProgramAsNobody(queue, {"--db", db_path_, "check"});
  EXPECT_THAT(check.out, HasSubstr("checkpoint:      skipped"));
  RunResult truncate = RunProgramAsNobody(queue, {"--db", db_path_, "check", "--truncate"});
  EXPECT_EQ(truncate.exit_code, 3);
  EXPECT_THAT(truncate.err, HasSubstr("read-only for this user"));

  // Closing the last connection removes the -wal and -shm files, which needs
  // write access to the directory.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  db_.reset();
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0555), 0);
  ASSERT_FALSE(std::filesystem::exists(db_path_ + "-shm"));
  RunResult stats = RunProgramAsNobody(queue, {"--db", db_path_, "stats"});
  EXPECT_EQ(stats.exit_code, 3);
  EXPECT_THAT(stats.err, HasSubstr(db_path_));
  EXPECT_THAT(stats.err, HasSubstr("-shm"));
}

// Client data reaches the terminal escaped: no ESC, BEL or raw line break
// from an event name, a distinct_id or Intercom's error message.
TEST_F(QueueInspectTest, ClientControlCharactersEscaped) {
  SeedRow row;
  row.uuid = "hostile";
  row.event = "sig\x1b[2J\x1b]0;pwned\x07";
  row.distinct_id = "user\x1b[31m\r\nforged: line";
  row.state = "failed";
  row.reason = "HTTP 400 parameter_invalid: bad\nstate:               delivered";
  row.payload = "{\"event\":\"sig\\u001b[2J\"}";
  int64_t id = SeedEvent(*db_, row);
  SeedAttempt(*db_, id, 1, now_ms_, "failed", 400, "parameter_invalid");
  db_->exec("UPDATE delivery_attempts SET intercom_error_message = 'bad\nforged line'");

  auto expect_escaped = [](const RunResult& result, const std::string& what) {
    EXPECT_EQ(result.out.find('\x1b'), std::string::npos) << what << ":\n" << result.out;
    EXPECT_EQ(result.out.find('\x07'), std::string::npos) << what;
    EXPECT_EQ(result.out.find('\r'), std::string::npos) << what;
    EXPECT_EQ(result.out.find("\nforged"), std::string::npos) << what << ":\n" << result.out;
    EXPECT_EQ(result.out.find("\nstate:               delivered"), std::string::npos) << what;
  };
  RunResult list = Queue({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  expect_escaped(list, "list");
  EXPECT_THAT(list.out,
              HasSubstr("\tsig\\x1b[2J\\x1b]0;pwned\\x07\tuser\\x1b[31m\\r\\nforged: line\t"));

  RunResult aligned =
      RunOnTerminal(BuiltBinary("tools/intercom-queue"), {"--db", db_path_, "list"});
  ASSERT_EQ(aligned.exit_code, 0) << aligned.err;
  expect_escaped(aligned, "list on a terminal");

  RunResult show = Queue({"show", std::to_string(id)});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  expect_escaped(show, "show");
  EXPECT_THAT(show.out, HasSubstr("event:               sig\\x1b[2J\\x1b]0;pwned\\x07\n"));
  EXPECT_THAT(show.out, HasSubstr("reason:              HTTP 400 parameter_invalid: bad\\nstate:"));
  EXPECT_THAT(show.out, HasSubstr("\tbad\\nforged line\t"));

  RunResult dry_run = Queue({"retry", "--all", "--dry-run"});
  ASSERT_EQ(dry_run.exit_code, 0) << dry_run.err;
  expect_escaped(dry_run, "retry --dry-run");

  // JSON escapes them its own way and keeps every value exact.
  RunResult json = Queue({"show", std::to_string(id), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find('\x1b'), std::string::npos) << json.out;
  Object::Ptr parsed = ParseJsonOrFail(json.out).extract<Object::Ptr>();
  EXPECT_EQ(parsed->getValue<std::string>("event"), row.event);
  EXPECT_EQ(parsed->getValue<std::string>("distinct_id"), row.distinct_id);
  EXPECT_EQ(parsed->getValue<std::string>("reason"), *row.reason);
}

}  // namespace
}  // namespace connector::testing

#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using ::testing::HasSubstr;

std::string ErrorFor(const std::string& toml) {
  try {
    ParseConfig(toml, "test.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  Config config = ParseConfig("", "test.toml");
  EXPECT_EQ(config.queue.path, "intercom-queue.db");
  EXPECT_EQ(config.queue.synchronous, Synchronous::kFull);
  EXPECT_EQ(config.ingest.listen, "127.0.0.1:8000");
  EXPECT_EQ(config.intercom.region, "us");
  EXPECT_EQ(config.intercom.base_url, "https://api.intercom.io");
  EXPECT_EQ(config.intercom.triggering_events, std::vector<std::string>{"$identify"});
  EXPECT_TRUE(config.intercom.api_key.empty());
  EXPECT_EQ(config.worker.retry_schedule.size(), 7u);
  EXPECT_EQ(config.worker.retention, std::chrono::hours(24 * 7));
}

TEST(ConfigTest, ReadsEveryDocumentedSection) {
  Config config = ParseConfig(R"(
[queue]
path = "/var/lib/q.db"
synchronous = "normal"
[ingest]
listen = "0.0.0.0:9000"
max_body_bytes = 4096
api_keys = ["phc_a", "phc_b"]
[intercom]
api_key = "tok"
region = "au"
triggering_events = " signup , $identify ,, "
ignored_email_domains = ["Example.COM", " test.io "]
[worker]
retry_schedule = ["1s", "30s"]
jitter = 0
)", "test.toml");
  EXPECT_EQ(config.queue.path, "/var/lib/q.db");
  EXPECT_EQ(config.queue.synchronous, Synchronous::kNormal);
  EXPECT_EQ(config.ingest.listen, "0.0.0.0:9000");
  EXPECT_EQ(config.ingest.max_body_bytes, 4096);
  EXPECT_EQ(config.ingest.api_keys, (std::vector<std::string>{"phc_a", "phc_b"}));
  EXPECT_EQ(config.intercom.base_url, "https://api.au.intercom.io");
  EXPECT_EQ(config.intercom.triggering_events,
            (std::vector<std::string>{"signup", "$identify"}));
  EXPECT_EQ(config.intercom.ignored_email_domains,
            (std::vector<std::string>{"example.com", "test.io"}));
  EXPECT_EQ(config.worker.retry_schedule,
            (std::vector<Milliseconds>{std::chrono::seconds(1), std::chrono::seconds(30)}));
  EXPECT_EQ(config.worker.jitter, 0.0);
}

TEST(ConfigTest, EuropeanFlagSelectsEuHost) {
  Config config = ParseConfig("[intercom]\nuse_european_data_storage = true\n", "test.toml");
  EXPECT_EQ(config.intercom.region, "eu");
  EXPECT_EQ(config.intercom.base_url, "https://api.eu.intercom.io");
}

TEST(ConfigTest, BaseUrlOverridesRegion) {
  Config config =
      ParseConfig("[intercom]\nregion = \"eu\"\nbase_url = \"http://127.0.0.1:4010/\"\n", "t");
  EXPECT_EQ(config.intercom.base_url, "http://127.0.0.1:4010");
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  std::string error = ErrorFor("[intercom]\nreigon = \"eu\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:2"));
  EXPECT_THAT(error, HasSubstr("intercom.reigon"));
  EXPECT_THAT(error, HasSubstr("unknown key"));
}

TEST(ConfigTest, UnknownSectionRejected) {
  EXPECT_THAT(ErrorFor("[intercomm]\n"), HasSubstr("unknown section"));
}

TEST(ConfigTest, WrongTypeNamesValueAndExpectation) {
  std::string error = ErrorFor("[ingest]\nmax_body_bytes = \"big\"\n");
  EXPECT_THAT(error, HasSubstr("ingest.max_body_bytes"));
  EXPECT_THAT(error, HasSubstr("\"big\""));
  EXPECT_THAT(error, HasSubstr("expected an integer"));
}

TEST(ConfigTest, InvalidValuesRejected) {
  EXPECT_THAT(ErrorFor("[intercom]\nregion = \"mars\"\n"), HasSubstr("\"us\", \"eu\" or \"au\""));
  EXPECT_THAT(ErrorFor("[queue]\nsynchronous = \"off\"\n"), HasSubstr("\"full\" or \"normal\""));
  EXPECT_THAT(ErrorFor("[worker]\nretry_schedule = [\"5 minutes\"]\n"),
              HasSubstr("duration string"));
  EXPECT_THAT(ErrorFor("[worker]\nconcurrency = 0\n"), HasSubstr("from 1 to 256"));
  EXPECT_THAT(ErrorFor("[ingest]\nlisten = \"8000\"\n"), HasSubstr("HOST:PORT"));
  EXPECT_THAT(ErrorFor("[intercom]\nbase_url = \"api.intercom.io\"\n"), HasSubstr("https://"));
  EXPECT_THAT(ErrorFor("[intercom]\ntriggering_events = [1]\n"), HasSubstr("array of strings"));
}

TEST(ConfigTest, ValueErrorNamesLine) {
  EXPECT_THAT(ErrorFor("[intercom]\n\nregion = \"europe\"\n"), HasSubstr("test.toml:3: key intercom.region"));
  EXPECT_THAT(ErrorFor("[ingest]\nlisten = \"localhost\"\n"), HasSubstr("test.toml:2: key ingest.listen"));
}

TEST(ConfigTest, EuropeanFlagConflictsWithOtherRegion) {
  std::string error = ErrorFor("[intercom]\nregion = \"au\"\nuse_european_data_storage = true\n");
  EXPECT_THAT(error, HasSubstr("test.toml:3: key intercom.use_european_data_storage"));
  EXPECT_THAT(error, HasSubstr("region = \"au\""));
}

TEST(ConfigTest, DirectoryIsNotAConfigFile) {
  testing::TempDir dir;
  try {
    LoadConfigFile(dir.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("is a directory"));
  }
}

TEST(ConfigTest, InvalidTomlNamesLine) {
  EXPECT_THAT(ErrorFor("[queue]\npath = \n"), HasSubstr("test.toml:2: invalid TOML"));
}

TEST(ConfigTest, EnvironmentTokenWinsOverFile) {
  testing::TempDir dir;
  std::string path = dir.File("c.toml");
  std::ofstream(path) << "[intercom]\napi_key = \"from-file\"\n";
  ::setenv("INTERCOM_API_KEY", "from-env", 1);
  Config config = LoadConfigFile(path);
  ::unsetenv("INTERCOM_API_KEY");
  EXPECT_EQ(config.intercom.api_key, "from-env");
  EXPECT_EQ(LoadConfigFile(path).intercom.api_key, "from-file");
}

TEST(ConfigTest, MissingFileNamesPath) {
  try {
    LoadConfigFile("/nonexistent/c.toml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("/nonexistent/c.toml"));
    EXPECT_THAT(error.what(), HasSubstr("No such file"));
  }
}

TEST(ConfigTest, ReadsWorkerPauseAndPruneKeys) {
  Config config = ParseConfig(R"(
[intercom]
metadata_separator = "__"
[worker]
pause_probe_interval = "2s"
pause_log_interval = "1m"
prune_interval = "500ms"
)", "test.toml");
  EXPECT_EQ(config.intercom.metadata_separator, "__");
  EXPECT_EQ(config.worker.pause_probe_interval, Milliseconds(2000));
  EXPECT_EQ(config.worker.pause_log_interval, Milliseconds(60000));
  EXPECT_EQ(config.worker.prune_interval, Milliseconds(500));
}

TEST(ConfigTest, DefaultsForWorkerPauseAndPruneKeys) {
  Config config = ParseConfig("", "test.toml");
  EXPECT_EQ(config.intercom.metadata_separator, "_");
  EXPECT_EQ(config.worker.pause_probe_interval, Milliseconds(30000));
  EXPECT_EQ(config.worker.pause_log_interval, Milliseconds(300000));
  EXPECT_EQ(config.worker.prune_interval, Milliseconds(60000));
}

TEST(ConfigTest, RejectsMetadataSeparatorWithDot) {
  EXPECT_THAT(ErrorFor("[intercom]\nmetadata_separator = \".\"\n"),
              HasSubstr("intercom.metadata_separator"));
  EXPECT_THAT(ErrorFor("[intercom]\nmetadata_separator = \"$\"\n"),
              HasSubstr("without '.' or '$'"));
  EXPECT_THAT(ErrorFor("[intercom]\nmetadata_separator = \"\"\n"),
              HasSubstr("non-empty"));
}

TEST(ConfigTest, RejectsZeroProbeInterval) {
  EXPECT_THAT(ErrorFor("[worker]\npause_probe_interval = \"0s\"\n"),
              HasSubstr("worker.pause_probe_interval"));
}

TEST(DurationTest, ParsesAndFormatsUnits) {
  EXPECT_EQ(ParseDuration("250ms"), Milliseconds(250));
  EXPECT_EQ(ParseDuration("5s"), Milliseconds(5000));
  EXPECT_EQ(ParseDuration("30m"), Milliseconds(1'800'000));
  EXPECT_EQ(ParseDuration("2h"), Milliseconds(7'200'000));
  EXPECT_EQ(ParseDuration("7d"), Milliseconds(604'800'000));
  EXPECT_FALSE(ParseDuration("5"));
  EXPECT_FALSE(ParseDuration("s"));
  EXPECT_FALSE(ParseDuration("-5s"));
  EXPECT_FALSE(ParseDuration("5 s"));
  EXPECT_EQ(FormatDuration(Milliseconds(90'000)), "90s");
  EXPECT_EQ(FormatDuration(Milliseconds(7'200'000)), "2h");
  EXPECT_EQ(FormatDuration(Milliseconds(1500)), "1500ms");
}

TEST(ConfigTest, ExampleFileParsesToDefaults) {
  std::string path = std::string(CONNECTOR_SOURCE_DIR) + "/config/intercom-connector.example.toml";
  ::unsetenv("INTERCOM_API_KEY");
  Config example = LoadConfigFile(path);
  Config defaults = ParseConfig("", "defaults");
  EXPECT_EQ(example.queue.path, defaults.queue.path);
  EXPECT_EQ(example.queue.busy_timeout, defaults.queue.busy_timeout);
  EXPECT_EQ(example.ingest.listen, defaults.ingest.listen);
  EXPECT_EQ(example.ingest.max_body_bytes, defaults.ingest.max_body_bytes);
  EXPECT_EQ(example.ingest.max_decompressed_bytes, defaults.ingest.max_decompressed_bytes);
  EXPECT_EQ(example.intercom.base_url, defaults.intercom.base_url);
  EXPECT_EQ(example.intercom.api_version, defaults.intercom.api_version);
  EXPECT_EQ(example.intercom.triggering_events, defaults.intercom.triggering_events);
  EXPECT_EQ(example.worker.retry_schedule, defaults.worker.retry_schedule);
  EXPECT_EQ(example.worker.contact_missing_schedule, defaults.worker.contact_missing_schedule);
  EXPECT_EQ(example.worker.lease, defaults.worker.lease);
  EXPECT_EQ(example.worker.retention, defaults.worker.retention);
  EXPECT_EQ(example.worker.rate_limit_per_minute, defaults.worker.rate_limit_per_minute);
  EXPECT_EQ(example.intercom.metadata_separator, defaults.intercom.metadata_separator);
  EXPECT_EQ(example.worker.pause_probe_interval, defaults.worker.pause_probe_interval);
  EXPECT_EQ(example.worker.pause_log_interval, defaults.worker.pause_log_interval);
  EXPECT_EQ(example.worker.prune_interval, defaults.worker.prune_interval);
}

}  // namespace
}  // namespace connector

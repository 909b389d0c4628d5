#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ErrorFor(const std::string& toml) {
  try {
    ParseConfig(toml, "test.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// Sets INTERCOM_API_KEY for one test and unsets it when the test ends, even
// when an assertion fails.
class ScopedApiKey {
 public:
  explicit ScopedApiKey(const std::string& value) { ::setenv("INTERCOM_API_KEY", value.c_str(), 1); }
  ~ScopedApiKey() { ::unsetenv("INTERCOM_API_KEY"); }
  ScopedApiKey(const ScopedApiKey&) = delete;
  ScopedApiKey& operator=(const ScopedApiKey&) = delete;
};

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

TEST(ConfigTest, ApiVersionWithLineBreakRejected) {
  std::string error = ErrorFor("[intercom]\napi_version = \"2.11\\r\\nX-Evil: 1\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:2: key intercom.api_version"));
  EXPECT_THAT(error, HasSubstr("\"2.11\\r\\nX-Evil: 1\""));  // escaped, on one line
  EXPECT_THAT(error, Not(HasSubstr("\r")));
  EXPECT_THAT(error, Not(HasSubstr("\n")));
  EXPECT_THAT(error, HasSubstr("such as \"2.11\""));
}

TEST(ConfigTest, ApiVersionMustLookLikeVersion) {
  for (const char* version : {"", "2", "2.", ".11", "v2.11", "2.11 ", "2.11.1", "2.x", "unstable",
                              "1234.1", "2.11\\t"}) {
    EXPECT_THAT(ErrorFor(std::string("[intercom]\napi_version = \"") + version + "\"\n"),
                HasSubstr("key intercom.api_version"))
        << version;
  }
  for (const char* version : {"1.0", "2.11", "2.16", "Unstable"}) {
    Config config =
        ParseConfig(std::string("[intercom]\napi_version = \"") + version + "\"\n", "test.toml");
    EXPECT_EQ(config.intercom.api_version, version);
  }
}

TEST(ConfigTest, FileTokenWithLineBreakRejected) {
  std::string error = ErrorFor("[intercom]\napi_key = \"SECRETtok\\r\\nX-Evil: 2\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:2: key intercom.api_key"));
  EXPECT_THAT(error, HasSubstr("a carriage return at position 10"));
  EXPECT_THAT(error, HasSubstr("not shown: secret"));
  EXPECT_THAT(error, Not(HasSubstr("SECRET")));
  EXPECT_THAT(error, Not(HasSubstr("X-Evil")));

  EXPECT_THAT(ErrorFor("[intercom]\napi_key = \"tok en\"\n"), HasSubstr("a space at position 4"));
  EXPECT_THAT(ErrorFor("[intercom]\napi_key = \"tok\\u007F\"\n"),
              HasSubstr("a control character at position 4"));
  EXPECT_THAT(ErrorFor("[intercom]\napi_key = \"tok\u00e9\"\n"),
              HasSubstr("a non-ASCII byte at position 4"));
  EXPECT_EQ(ParseConfig("[intercom]\napi_key = \"dG9rOmFi+/Y2Rl_-~.==\"\n", "test.toml")
                .intercom.api_key,
            "dG9rOmFi+/Y2Rl_-~.==");
}

TEST(ConfigTest, EnvironmentTokenWithLineBreakRejected) {
  testing::TempDir dir;
  std::string path = dir.File("c.toml");
  std::ofstream(path) << "[intercom]\napi_key = \"from-file\"\n";
  ScopedApiKey api_key("SECRETtok\r\nX-Evil: 2");
  for (const std::function<Config()>& load :
       std::vector<std::function<Config()>>{[] { return DefaultConfig(); },
                                            [&path] { return LoadConfigFile(path); }}) {
    try {
      load();
      ADD_FAILURE() << "expected ConfigError";
    } catch (const ConfigError& error) {
      EXPECT_THAT(error.what(), HasSubstr("INTERCOM_API_KEY"));
      EXPECT_THAT(error.what(), HasSubstr("a carriage return at position 10"));
      EXPECT_THAT(error.what(), Not(HasSubstr("SECRET")));
      EXPECT_THAT(error.what(), Not(HasSubstr("X-Evil")));
    }
  }
}

TEST(ConfigTest, CaFileMustExist) {
  testing::TempDir dir;
  std::string missing = dir.File("missing.pem");
  std::string error = ErrorFor("[intercom]\n\nca_file = \"" + missing + "\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:3: key intercom.ca_file"));
  EXPECT_THAT(error, HasSubstr("\"" + missing + "\""));
  EXPECT_THAT(error, HasSubstr("the path does not exist"));

  std::string relative = ErrorFor("[intercom]\nca_file = \"no-such-dir/ca.pem\"\n");
  EXPECT_THAT(relative, HasSubstr("the path does not exist"));
  EXPECT_THAT(relative, HasSubstr("relative to the working directory " +
                                  std::filesystem::current_path().string()));
}

TEST(ConfigTest, CaFileMustBeRegularFile) {
  testing::TempDir dir;
  std::string error = ErrorFor("[intercom]\nca_file = \"" + dir.path() + "\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:2: key intercom.ca_file"));
  EXPECT_THAT(error, HasSubstr("the path is a directory"));

  std::string fifo = dir.File("ca.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(ErrorFor("[intercom]\nca_file = \"" + fifo + "\"\n"),
              HasSubstr("the path is not a regular file"));

  std::string pem = dir.File("ca.pem");
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_EQ(ParseConfig("[intercom]\nca_file = \"" + pem + "\"\n", "test.toml").intercom.ca_file,
            pem);
}

// Returns ErrorFor(toml) as computed by uid and gid 65534 in a child
// process, or "child failed: ..." when that child could not run. Root reads
// a file whatever its mode, so a permission check must run as another user.
std::string ErrorForAsOtherUser(const std::string& toml) {
  int fds[2];
  if (::pipe(fds) != 0) return "child failed: pipe";
  pid_t child = ::fork();
  if (child < 0) return "child failed: fork";
  if (child == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    std::string error = ErrorFor(toml);
    ssize_t written = ::write(fds[1], error.data(), error.size());
    ::_exit(written == static_cast<ssize_t>(error.size()) ? 0 : 11);
  }
  ::close(fds[1]);
  std::string error;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) error.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "child failed: exit status " + std::to_string(status);
  }
  return error;
}

TEST(ConfigTest, UnreadableCaFileRejected) {
  testing::TempDir dir;
  // The other user may enter the directory, so only the file's mode stops it.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  std::string pem = dir.File("ca.pem");
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n";
  ASSERT_EQ(::chmod(pem.c_str(), 0), 0);
  std::string toml = "[intercom]\nca_file = \"" + pem + "\"\n";
  std::string error = ::geteuid() == 0 ? ErrorForAsOtherUser(toml) : ErrorFor(toml);
  EXPECT_THAT(error, HasSubstr("test.toml:2: key intercom.ca_file"));
  EXPECT_THAT(error, HasSubstr("the path cannot be opened (Permission denied)"));
}

// One file configures ingest and the worker, so two listen keys on one port
// would make the second bind fail at start.
TEST(ConfigTest, ListenAddressesOnOnePortRejected) {
  std::string error = ErrorFor("[ingest]\nlisten = \"127.0.0.1:9000\"\n"
                               "metrics_listen = \"127.0.0.1:9000\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:3: key ingest.metrics_listen: invalid value "
                               "\"127.0.0.1:9000\""));
  EXPECT_THAT(error, HasSubstr("expected a port that [ingest] listen (\"127.0.0.1:9000\") "
                               "does not also use"));

  // The worker's default metrics port, taken by ingest on every address.
  EXPECT_THAT(ErrorFor("[ingest]\nlisten = \"0.0.0.0:9465\"\n"),
              HasSubstr("key worker.metrics_listen: invalid value \"127.0.0.1:9465\""));
  EXPECT_THAT(ErrorFor("[ingest]\nmetrics_listen = \"[::]:09465\"\n"),
              HasSubstr("key worker.metrics_listen"));

  // Port 0 picks a free port each time, different hosts do not collide, ""
  // serves no metrics, and 0.0.0.0 does not cover an IPv6 host.
  for (const char* toml :
       {"[ingest]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n",
        "[ingest]\nlisten = \"127.0.0.1:9465\"\n[worker]\nmetrics_listen = \"127.0.0.2:9465\"\n",
        "[ingest]\nmetrics_listen = \"\"\n[worker]\nmetrics_listen = \"\"\n",
        "[ingest]\nlisten = \"0.0.0.0:9000\"\nmetrics_listen = \"[::1]:9000\"\n"}) {
    EXPECT_EQ(ErrorFor(toml), "") << toml;
  }
}

TEST(ConfigTest, ListenAddressesCheckPortRange) {
  const char* keys[][2] = {{"ingest", "listen"}, {"ingest", "metrics_listen"},
                           {"worker", "metrics_listen"}};
  for (const auto& [section, key] : keys) {
    std::string prefix = std::string("[") + section + "]\n" + key + " = ";
    for (const char* address : {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:-1",
                                "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:", ":8000",
                                "::1:8000", "[::1]8000", "[]:8000", "127.0.0.1:http",
                                "127.0.0.1:1000000", "local host:80"}) {
      std::string error = ErrorFor(prefix + "\"" + address + "\"\n");
      EXPECT_THAT(error, HasSubstr(std::string("test.toml:2: key ") + section + "." + key))
          << address;
      EXPECT_THAT(error, HasSubstr("a port from 0 to 65535")) << address;
    }
    for (const char* address : {"127.0.0.1:0", "127.0.0.1:65535", "0.0.0.0:9000", "[::1]:8000",
                                "localhost:1"}) {
      EXPECT_EQ(ErrorFor(prefix + "\"" + address + "\"\n"), "") << section << "." << key;
    }
  }
}

TEST(ConfigTest, DuplicateKeyGetsDuplicateHint) {
  std::string error = ErrorFor("[intercom]\nregion = \"eu\"\nregion = \"us\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:3: invalid TOML"));
  EXPECT_THAT(error, HasSubstr("'region'"));
  EXPECT_THAT(error, HasSubstr("remove the duplicate"));
  EXPECT_THAT(error, Not(HasSubstr("double quotes")));

  std::string table = ErrorFor("[worker]\njitter = 0.1\n\n[worker]\nlease = \"60s\"\n");
  EXPECT_THAT(table, HasSubstr("test.toml:4: invalid TOML"));
  EXPECT_THAT(table, HasSubstr("remove the duplicate"));
}

TEST(ConfigTest, FloatShownAsWritten) {
  std::string error = ErrorFor("[worker]\njitter = -0.1\n");
  EXPECT_THAT(error, HasSubstr("test.toml:2: key worker.jitter: invalid value -0.1 (a float)"));
  EXPECT_THAT(error, Not(HasSubstr("0.10000000000000001")));
  EXPECT_THAT(ErrorFor("[worker]\njitter = 1.1\n"), HasSubstr("invalid value 1.1 (a float)"));
  EXPECT_THAT(ErrorFor("[worker]\njitter = 2.0\n"), HasSubstr("invalid value 2.0 (a float)"));
  EXPECT_THAT(ErrorFor("[worker]\njitter = 1e300\n"), HasSubstr("invalid value 1e+300 (a float)"));
  EXPECT_THAT(ErrorFor("[worker]\njitter = -inf\n"), HasSubstr("invalid value -inf (a float)"));
}

// A request can last request_timeout and starts only while half the lease is
// left, so a shorter lease lets another worker claim an event in flight.
TEST(ConfigTest, LeaseUnderTwiceRequestTimeoutRejected) {
  std::string error =
      ErrorFor("[intercom]\nrequest_timeout = \"10s\"\n[worker]\nlease = \"15s\"\n");
  EXPECT_THAT(error, HasSubstr("test.toml:4: key worker.lease: invalid value \"15s\""));
  EXPECT_THAT(error, HasSubstr("at least twice [intercom] request_timeout (10s)"));
  EXPECT_THAT(error, HasSubstr("set lease to 20s or more, or lower request_timeout"));

  // The default lease (60s) is checked too when only request_timeout is set.
  EXPECT_THAT(ErrorFor("[intercom]\nrequest_timeout = \"31s\"\n"),
              HasSubstr("key worker.lease: invalid value \"1m\""));

  Config exact = ParseConfig("[intercom]\nrequest_timeout = \"10s\"\n[worker]\nlease = \"20s\"\n",
                             "test.toml");
  EXPECT_EQ(exact.worker.lease, Milliseconds(20000));
}

TEST(ConfigTest, EmptyTriggeringEventsRejected) {
  // Blank items are dropped, so each of these lists names no event.
  for (const char* value : {"[]", "\"\"", "\" , \"", "[\" \"]"}) {
    std::string error = ErrorFor(std::string("[intercom]\ntriggering_events = ") + value + "\n");
    EXPECT_THAT(error, HasSubstr("test.toml:2: key intercom.triggering_events")) << value;
    EXPECT_THAT(error, HasSubstr("at least one event name")) << value;
  }
  EXPECT_THAT(ErrorFor("[intercom]\ntriggering_events = []\n"), HasSubstr("invalid value []"));
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

TEST(ConfigTest, IngestRequestTimeout) {
  EXPECT_EQ(ParseConfig("", "test.toml").ingest.request_timeout, Milliseconds(30000));
  Config config = ParseConfig("[ingest]\nrequest_timeout = \"5s\"\n", "test.toml");
  EXPECT_EQ(config.ingest.request_timeout, Milliseconds(5000));
  EXPECT_THAT(ErrorFor("[ingest]\nrequest_timeout = \"0s\"\n"),
              HasSubstr("test.toml:2: key ingest.request_timeout"));
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
  EXPECT_EQ(example.ingest.request_timeout, defaults.ingest.request_timeout);
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

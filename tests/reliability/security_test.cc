// Secrets and exposure: the Intercom token must not appear in the worker's
// log, in the database or in intercom-queue's output, even after errors, and
// configuration errors must not echo it. Ingest listens on loopback unless
// configured otherwise. (tests/ingest covers [ingest] api_keys: unknown and
// missing project tokens get a 401 that does not repeat the token.)

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "common/config.h"
#include "tests/reliability/process.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::FakeResponse;

// Distinctive enough that a match cannot be a coincidence.
const std::string kToken = "tok_SECRETc0ffee5ecre7";

class Security : public testing::WorkerFixture {
 protected:
  // Runs intercom-queue with `args` on the test database and returns its output.
  std::string RunQueueTool(const std::vector<std::string>& args) {
    std::vector<std::string> command{testing::BuiltBinary("tools/intercom-queue"), "--db",
                                     config_.queue.path};
    command.insert(command.end(), args.begin(), args.end());
    std::string log_path = dir_.File("queue-tool.log");
    std::remove(log_path.c_str());
    ChildProcess tool(command, log_path);
    EXPECT_GE(tool.WaitForExit(std::chrono::seconds(10)), 0);
    return testing::ReadWholeFile(log_path);
  }
};

TEST_F(Security, TokenNeverStoredOrLogged) {
  config_.intercom.api_key = kToken;
  config_.worker.concurrency = 1;
  // One error of each kind, the 401 last because it pauses delivery.
  fake_.Enqueue(FakeResponse::Error(500, "server_error", "boom"));
  FakeResponse reset;
  reset.reset_connection = true;
  fake_.Enqueue(reset);
  fake_.Enqueue(FakeResponse::Error(422, "parameter_invalid", "bad metadata"));
  fake_.Enqueue(FakeResponse::Error(401, "unauthorized", "Access Token Invalid"));
  for (int i = 0; i < 4; ++i) {
    testing::TestEvent event;
    event.distinct_id = "user" + std::to_string(i) + "@example.com";
    Insert(event);
  }

  std::string log_path = dir_.File("worker.log");
  ChildProcess worker({testing::BuiltBinary("worker/intercom-worker"), "--config",
                       WriteConfigFile(), "--log-level", "debug"},
                      log_path);
  ASSERT_TRUE(WaitFor(
      [&] { return Count("SELECT COUNT(*) FROM delivery_attempts WHERE outcome = 'paused'") > 0; },
      std::chrono::seconds(20)))
      << testing::ReadWholeFile(log_path);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM events WHERE state = 'failed'"), 1);
  EXPECT_EQ(worker.Terminate(std::chrono::seconds(5)), 0);

  // The token was used, so its absence below means something.
  ASSERT_FALSE(fake_.Requests().empty());
  EXPECT_EQ(fake_.Requests()[0].Header("Authorization"), "Bearer " + kToken);

  std::string log = testing::ReadWholeFile(log_path);
  EXPECT_NE(log.find("401"), std::string::npos) << "the 401 should be logged:\n" << log;
  EXPECT_EQ(log.find(kToken), std::string::npos) << log;

  db_.reset();  // closing the last connection checkpoints the WAL into the file
  std::string database = testing::ReadWholeFile(config_.queue.path) +
                         testing::ReadWholeFile(config_.queue.path + "-wal");
  EXPECT_GT(database.size(), 0u);
  EXPECT_EQ(database.find(kToken), std::string::npos);

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"stats"}, {"list", "--state", "failed"},
                                             {"show", "1"}, {"show", "1", "--json"}, {"check"}}) {
    std::string output = RunQueueTool(args);
    EXPECT_EQ(output.find(kToken), std::string::npos) << args[0] << ":\n" << output;
  }
}

TEST(SecurityConfig, ErrorsDoNotEchoToken) {
  const std::string files[] = {
      "[intercom]\napi_key = [\"" + kToken + "\"]\n",
      "[intercom]\napi_key = \"" + kToken + "\"\nregion = \"mars\"\n",
      "[intercom]\napi_key = \"" + kToken + "\"\nunknown_key = 1\n",
      "[intercom]\napi_key = \"" + kToken + "\n",  // unterminated string
  };
  for (const std::string& text : files) {
    try {
      ParseConfig(text, "test.toml");
      ADD_FAILURE() << "no ConfigError for:\n" << text;
    } catch (const ConfigError& error) {
      EXPECT_EQ(std::string(error.what()).find(kToken), std::string::npos) << error.what();
      EXPECT_EQ(std::string(error.what()).find("SECRET"), std::string::npos) << error.what();
    }
  }
}

TEST(SecurityConfig, IngestListensOnLoopbackByDefault) {
  EXPECT_EQ(ParseConfig("", "test.toml").ingest.listen, "127.0.0.1:8000");
  EXPECT_EQ(ParseConfig("[ingest]\nthreads = 4\n", "test.toml").ingest.listen, "127.0.0.1:8000");
  EXPECT_TRUE(ParseConfig("", "test.toml").ingest.api_keys.empty());
  EXPECT_EQ(ParseConfig("", "test.toml").worker.metrics_listen.rfind("127.0.0.1:", 0), 0u);
}

}  // namespace
}  // namespace connector

// intercom-queue on a database that the real intercom-ingest and
// intercom-worker fill: a delivery that Intercom rejects fails, the tool
// retries it, and the worker then delivers it to the fake Intercom with the
// same created_at. Replay, stats, list, show, check and purge run against the
// same live database.

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/fake_intercom.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/tool_runner.h"

extern char** environ;

namespace connector::testing {
namespace {

using ::testing::HasSubstr;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string ReadText(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A binary of this project running in the background with stdout and stderr
// in `log_path`. Stopped with SIGTERM, or SIGKILL when the test ends first.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::string& log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool started() const { return pid_ > 0; }

  // Sends SIGTERM and returns the exit code, or -1 when the process did not
  // exit within 10 s.
  int Terminate() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

// Returns the port from ingest's msg=listening line, waiting up to 10 s.
int WaitForIngestPort(const std::string& log_path) {
  std::regex listening(R"(msg=listening address=127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 500; ++i) {
    std::smatch match;
    std::string log = ReadText(log_path);
    if (std::regex_search(log, match, listening)) return std::stoi(match[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

// Posts a capture body to ingest on 127.0.0.1 and returns the HTTP status.
int PostCapture(int port, const std::string& body) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/batch/",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentType("application/json");
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(request) << body;
  Poco::Net::HTTPResponse response;
  std::istream& answer = session.receiveResponse(response);
  std::string ignored((std::istreambuf_iterator<char>(answer)), std::istreambuf_iterator<char>());
  return static_cast<int>(response.getStatus());
}

class QueuePipelineTest : public ::testing::Test {
 protected:
  QueuePipelineTest() {
    db_path_ = dir_.File("queue.db");
    config_path_ = dir_.File("connector.toml");
    std::ofstream(config_path_)
        << "[queue]\npath = \"" << db_path_ << "\"\nsynchronous = \"normal\"\n"
        << "[ingest]\nlisten = \"127.0.0.1:0\"\n"
        << "[intercom]\napi_key = \"test-token\"\nbase_url = \"" << fake_.base_url() << "\"\n"
        << "connect_timeout = \"1s\"\nrequest_timeout = \"2s\"\n"
        << "[worker]\nconcurrency = 1\nretry_schedule = [\"100ms\"]\njitter = 0\n"
        << "rate_limit_per_minute = 0\nidle_poll = \"5ms\"\nshutdown_timeout = \"3s\"\n"
        << "dry_run_file = \"" << dir_.File("requests.ndjson") << "\"\n";
  }

  RunResult Queue(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config_path_});
    return RunProgram(BuiltBinary("tools/intercom-queue"), args);
  }

  Object::Ptr QueueJson(const std::vector<std::string>& args) {
    RunResult result = Queue(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    Poco::Dynamic::Var json = ParseJsonOrFail(result.out);
    return json.isEmpty() ? Object::Ptr(new Object) : json.extract<Object::Ptr>();
  }

  // Polls `stats --json` until the state counts match, up to 15 s.
  bool WaitForStates(int64_t delivered, int64_t failed) {
    for (int i = 0; i < 300; ++i) {
      RunResult result = Queue({"stats", "--json"});
      if (result.exit_code == 0) {
        Object::Ptr states = ParseJsonOrFail(result.out).extract<Object::Ptr>()->getObject("states");
        if (states->getValue<int64_t>("delivered") == delivered &&
            states->getValue<int64_t>("failed") == failed) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Returns the bodies the fake received on POST /events for `email`.
  std::vector<Object::Ptr> EventsSentFor(const std::string& email) {
    std::vector<Object::Ptr> bodies;
    for (const RecordedRequest& request : fake_.RequestsTo("/events")) {
      Object::Ptr body = request.Json();
      if (body->getValue<std::string>("email") == email) bodies.push_back(body);
    }
    return bodies;
  }

  TempDir dir_;
  FakeIntercom fake_;
  std::string db_path_;
  std::string config_path_;
};

TEST_F(QueuePipelineTest, FailedDeliveryRetriedThenDelivered) {
  // Intercom rejects events for bob until the operator has fixed the cause.
  std::atomic<bool> reject_bob{true};
  fake_.SetHandler([&reject_bob](const RecordedRequest& request) {
    if (request.path == "/events" && reject_bob.load() &&
        request.Json()->getValue<std::string>("email") == "bob@example.com") {
      return FakeResponse::Error(422, "parameter_invalid", "Event name limit reached", "req-1");
    }
    return FakeResponse{};
  });

  Process ingest({BuiltBinary("ingest/intercom-ingest"), "--config", config_path_},
                 dir_.File("ingest.log"));
  ASSERT_TRUE(ingest.started());
  int port = WaitForIngestPort(dir_.File("ingest.log"));
  ASSERT_GT(port, 0) << ReadText(dir_.File("ingest.log"));
  Process worker({BuiltBinary("worker/intercom-worker"), "--config", config_path_},
                 dir_.File("worker.log"));
  ASSERT_TRUE(worker.started());

  // Three identified users and one event that no filter lets through.
  std::string batch = R"({"api_key":"phc_test","batch":[
    {"event":"$identify","distinct_id":"ann@example.com","uuid":"0190a1b2-c3d4-7e5f-8a9b-00000000000a","timestamp":"2026-01-02T03:04:05Z"},
    {"event":"$identify","distinct_id":"bob@example.com","uuid":"0190a1b2-c3d4-7e5f-8a9b-00000000000b","timestamp":"2026-01-02T03:04:06Z"},
    {"event":"$identify","distinct_id":"cat@example.com","uuid":"0190a1b2-c3d4-7e5f-8a9b-00000000000c","timestamp":"2026-01-02T03:04:07Z"},
    {"event":"$pageview","distinct_id":"ann@example.com","uuid":"0190a1b2-c3d4-7e5f-8a9b-00000000000d"}]})";
  ASSERT_EQ(PostCapture(port, batch), 200) << ReadText(dir_.File("ingest.log"));
  ASSERT_TRUE(WaitForStates(/*delivered=*/2, /*failed=*/1)) << ReadText(dir_.File("worker.log"));

  // stats and list see what ingest and the worker wrote.
  Object::Ptr stats = QueueJson({"stats", "--json"});
  EXPECT_EQ(stats->getObject("states")->getValue<int64_t>("skipped"), 1);
  EXPECT_EQ(stats->getObject("attempts_last_minute")->getValue<int64_t>("delivered"), 2);
  EXPECT_EQ(stats->getObject("attempts_last_minute")->getValue<int64_t>("failed"), 1);

  RunResult failed_list = Queue({"list", "--state", "failed", "--json"});
  ASSERT_EQ(failed_list.exit_code, 0) << failed_list.err;
  Array::Ptr failed = ParseJsonOrFail(failed_list.out).extract<Array::Ptr>();
  ASSERT_EQ(failed->size(), 1u);
  Object::Ptr bob = failed->getObject(0);
  EXPECT_EQ(bob->getValue<std::string>("distinct_id"), "bob@example.com");
  EXPECT_THAT(bob->getValue<std::string>("reason"), HasSubstr("parameter_invalid"));
  std::string bob_id = std::to_string(bob->getValue<int64_t>("id"));

  RunResult by_email = Queue({"list", "--email", "BOB@example.com", "--json"});
  EXPECT_EQ(by_email.exit_code, 0) << by_email.err;

  Object::Ptr bob_event = QueueJson({"show", bob_id, "--json"});
  ASSERT_EQ(bob_event->getArray("attempts")->size(), 1u);
  EXPECT_EQ(bob_event->getArray("attempts")->getObject(0)->getValue<int>("http_status"), 422);

  // A dry run changes nothing; the worker would otherwise send bob again.
  RunResult dry_run = Queue({"retry", bob_id, "--dry-run"});
  EXPECT_EQ(dry_run.exit_code, 0) << dry_run.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(EventsSentFor("bob@example.com").size(), 1u);

  // The operator fixes the cause at Intercom and retries.
  reject_bob = false;
  RunResult retry = Queue({"retry", bob_id});
  ASSERT_EQ(retry.exit_code, 0) << retry.err;
  EXPECT_THAT(retry.out, HasSubstr("retried 1 event (failed -> pending)"));
  ASSERT_TRUE(WaitForStates(/*delivered=*/3, /*failed=*/0)) << ReadText(dir_.File("worker.log"));

  std::vector<Object::Ptr> sent = EventsSentFor("bob@example.com");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]->getValue<int64_t>("created_at"), sent[1]->getValue<int64_t>("created_at"));

  bob_event = QueueJson({"show", bob_id, "--json"});
  Array::Ptr attempts = bob_event->getArray("attempts");
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ(attempts->getObject(0)->getValue<std::string>("outcome"), "failed");
  EXPECT_EQ(attempts->getObject(1)->getValue<std::string>("outcome"), "delivered");
  EXPECT_EQ(attempts->getObject(1)->getValue<int>("attempt"), 2);  // numbering continues
  bool retried = false;
  Array::Ptr history = bob_event->getArray("history");
  for (size_t i = 0; i < history->size(); ++i) {
    if (history->getObject(static_cast<unsigned>(i))->getValue<std::string>("action") ==
        "retried") {
      retried = true;
    }
  }
  EXPECT_TRUE(retried);

  // Replay sends every delivered event again with its original created_at.
  size_t events_before_replay = fake_.RequestsTo("/events").size();
  Object::Ptr replay = QueueJson({"replay", "--since", "10m", "--json"});
  EXPECT_EQ(replay->getValue<int64_t>("moved"), 3);
  for (int i = 0; i < 200 && fake_.RequestsTo("/events").size() < events_before_replay + 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(fake_.RequestsTo("/events").size(), events_before_replay + 3);
  ASSERT_TRUE(WaitForStates(/*delivered=*/3, /*failed=*/0));
  std::vector<Object::Ptr> ann = EventsSentFor("ann@example.com");
  ASSERT_EQ(ann.size(), 2u);
  EXPECT_EQ(ann[0]->getValue<int64_t>("created_at"), ann[1]->getValue<int64_t>("created_at"));

  // check and purge work while both processes hold the database open.
  Object::Ptr check = QueueJson({"check", "--json"});
  EXPECT_TRUE(check->getValue<bool>("ok"));
  RunResult purge = Queue({"purge", "--older-than", "1d"});
  EXPECT_EQ(purge.exit_code, 1) << purge.err;  // nothing is a day old yet

  EXPECT_EQ(worker.Terminate(), 0);
  EXPECT_EQ(ingest.Terminate(), 0);
}

}  // namespace
}  // namespace connector::testing

// The worker's status page rendered by headless Chromium against a running
// worker: the numbers it shows must be the ones in the database.

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/ops/ops_helpers.h"
#include "tests/worker/worker_fixture.h"

namespace connector {
namespace {

using testing::ChildProcess;
using testing::FakeResponse;
using testing::RecordedRequest;
using testing::TestEvent;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Returns the text content of the element with `id` in `dom`, or nullopt.
std::optional<std::string> ElementText(const std::string& dom, const std::string& id) {
  std::regex element("id=\"" + id + "\"[^>]*>([^<]*)<");
  std::smatch match;
  if (!std::regex_search(dom, match, element)) return std::nullopt;
  return match[1].str();
}

class StatusPageTest : public testing::WorkerFixture {
 protected:
  void SetUp() override {
    chromium_ = testing::FindChromium();
    if (chromium_.empty()) {
      GTEST_SKIP() << "chromium is not installed (Debian package \"chromium\"); "
                      "the status page was not rendered";
    }
  }

  int64_t InsertFor(const std::string& email, const std::string& name = "$identify") {
    TestEvent event;
    event.name = name;
    event.distinct_id = email;
    event.next_attempt_at_ms = NowMs();
    event.updated_at_ms = NowMs();
    return Insert(event);
  }

  int StartWorker() {
    worker_ = std::make_unique<ChildProcess>(
        "worker/intercom-worker", std::vector<std::string>{"--config", WriteConfigFile()},
        dir_.File("worker.log"));
    std::string port =
        worker_->WaitForLog(R"(msg=metrics_listening address=127\.0\.0\.1:(\d+))");
    EXPECT_FALSE(port.empty()) << worker_->Log();
    return port.empty() ? 0 : std::stoi(port);
  }

  // Loads the page in headless Chromium, lets its script fetch /status.json,
  // and returns the DOM it rendered.
  std::string RenderPage(int port) {
    std::string profile = dir_.File("chromium-profile");
    std::string output = dir_.File("dom.html");
    // --virtual-time-budget lets the page's fetch finish before the DOM is
    // dumped; the other flags keep Chromium from contacting any other host.
    std::string command =
        chromium_ +
        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
        " --disable-background-networking --disable-component-update --disable-sync"
        " --disable-dev-shm-usage --virtual-time-budget=4000 --user-data-dir=" + profile +
        " --dump-dom http://127.0.0.1:" + std::to_string(port) + "/ > " + output + " 2> " +
        dir_.File("chromium.log");
    int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status)) << "chromium did not exit normally";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "chromium failed; see " << dir_.File("chromium.log");
    std::ifstream file(output);
    std::stringstream dom;
    dom << file.rdbuf();
    return dom.str();
  }

  std::string chromium_;
  std::unique_ptr<ChildProcess> worker_;
};

TEST_F(StatusPageTest, ShowsQueueDepthRateAndFailures) {
  config_.worker.retry_schedule = {Milliseconds(3'600'000)};  // a retried event stays pending
  fake_.SetHandler([](const RecordedRequest& request) {
    std::string email = request.Json()->optValue<std::string>("email", "");
    if (email.rfind("bad", 0) == 0) {
      return FakeResponse::Error(422, "parameter_invalid", "Name too long for " + email);
    }
    if (email == "later@example.com") return FakeResponse::Error(503, "service_unavailable", "busy");
    return FakeResponse{};
  });
  for (int i = 0; i < 5; ++i) InsertFor("user" + std::to_string(i) + "@example.com");
  int64_t bad1 = InsertFor("bad1@example.com");
  int64_t bad2 = InsertFor("bad2@example.com");
  InsertFor("page@example.com", "page_view");
  int64_t later = InsertFor("later@example.com");
  int port = StartWorker();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT count(*) FROM events WHERE state IN ('delivered', 'skipped', 'failed')") ==
               8 &&
           Read(later).attempts == 1 && Read(later).state == "pending";
  })) << worker_->Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the status cache

  std::string dom = RenderPage(port);
  ASSERT_NE(dom.find("data-refreshed"), std::string::npos) << "the page script never ran:\n" << dom;
  // The error banner stays hidden when every fetch of status.json succeeded.
  EXPECT_NE(dom.find(R"(id="fetch-error" class="banner error hidden")"), std::string::npos)
      << ElementText(dom, "fetch-error").value_or("(no banner)");

  for (const char* state : {"pending", "leased", "delivered", "skipped", "failed"}) {
    int64_t expected =
        Count(std::string("SELECT count(*) FROM events WHERE state = '") + state + "'");
    EXPECT_EQ(ElementText(dom, std::string("depth-") + state), std::to_string(expected))
        << state;
  }
  EXPECT_EQ(ElementText(dom, "depth-delivered"), "5");
  EXPECT_EQ(ElementText(dom, "depth-failed"), "2");

  int64_t hour_start = (NowMs() / 60000 - 59) * 60000;
  auto attempts = [&](const std::string& where) {
    return std::to_string(Count("SELECT count(*) FROM delivery_attempts WHERE started_at_ms >= " +
                                std::to_string(hour_start) + " AND " + where));
  };
  EXPECT_EQ(ElementText(dom, "delivered-last-hour"), attempts("outcome = 'delivered'"));
  EXPECT_EQ(ElementText(dom, "failed-last-hour"), attempts("outcome = 'failed'"));
  EXPECT_EQ(ElementText(dom, "retried-last-hour"),
            attempts("outcome NOT IN ('delivered', 'failed')"));
  EXPECT_NE(dom.find("<rect"), std::string::npos) << "the chart has no bars";

  // The failures table lists both failed events with their reasons.
  for (int64_t id : {bad1, bad2}) {
    EXPECT_NE(dom.find("data-event-id=\"" + std::to_string(id) + "\""), std::string::npos) << id;
    EXPECT_NE(dom.find(*Read(id).reason), std::string::npos) << *Read(id).reason;
  }
  EXPECT_NE(dom.find("Name too long for bad1@example.com"), std::string::npos);
  EXPECT_NE(dom.find("data-paused=\"false\""), std::string::npos);
  EXPECT_EQ(worker_->Terminate(), 0);
}

TEST_F(StatusPageTest, ShowsPauseCause) {
  fake_.SetHandler([](const RecordedRequest&) {
    return FakeResponse::Error(401, "unauthorized", "Access Token Invalid");
  });
  InsertFor("ann@example.com");
  int port = StartWorker();
  ASSERT_GT(port, 0);
  ASSERT_TRUE(WaitFor([&] {
    return testing::HttpCall(port, "GET", "/healthz").status == 503;
  })) << worker_->Log();

  std::string dom = RenderPage(port);
  EXPECT_NE(dom.find("data-paused=\"true\""), std::string::npos) << dom;
  std::optional<std::string> banner = ElementText(dom, "pause-state");
  ASSERT_TRUE(banner.has_value()) << dom;
  EXPECT_EQ(banner->rfind("Paused: Intercom rejected the access token", 0), 0u) << *banner;
  EXPECT_EQ(worker_->Terminate(), 0);
}

}  // namespace
}  // namespace connector

// PocoTransport against a fake Intercom that misbehaves: bodies without end,
// responses sent a byte at a time, and connections closed mid-response.

#include "worker/http_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include "tests/support/fake_intercom.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::FakeIntercom;
using testing::FakeResponse;

class HttpTransportTest : public ::testing::Test {
 protected:
  HttpTransportTest() {
    config_.base_url = fake_.base_url();
    config_.connect_timeout = Milliseconds(1000);
    config_.request_timeout = Milliseconds(2000);
  }

  std::unique_ptr<PocoTransport> MakeTransport() {
    return std::make_unique<PocoTransport>(config_, MakeTlsContext(config_), clock_);
  }

  static HttpRequest Event() {
    HttpRequest request;
    request.method = "POST";
    request.path = "/events";
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = R"({"event_name":"signed_up","created_at":1,"email":"ann@example.com"})";
    return request;
  }

  // Sends one event to `server` and returns the response with how long
  // Send() took. A Send() still running after 10 s fails the test, and
  // stopping `server` then ends the response it waits for, so that a
  // request without a deadline does not hang the suite.
  std::pair<HttpResponse, std::chrono::milliseconds> TimedSend(PocoTransport& transport,
                                                               FakeIntercom& server) {
    auto started = std::chrono::steady_clock::now();
    std::future<HttpResponse> sending =
        std::async(std::launch::async, [&transport] { return transport.Send(Event()); });
    if (sending.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "Send() still running after 10 s";
      server.Stop();
    }
    HttpResponse response = sending.get();
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return {response, took};
  }

  FakeIntercom fake_;
  IntercomConfig config_;
  SystemClock clock_;
};

std::string ChunkedHead(int status) {
  return "HTTP/1.1 " + std::to_string(status) +
         " OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}

TEST_F(HttpTransportTest, StopsReadingBodyAtLimit) {
  std::string chunk(4096, 'x');
  const FakeResponse endless_bodies[] = {
      FakeResponse::Endless("HTTP/1.1 202 Accepted\r\nContent-Length: 2000000000\r\n\r\n", chunk),
      FakeResponse::Endless(ChunkedHead(500), "1000\r\n" + chunk + "\r\n"),
  };
  std::unique_ptr<PocoTransport> transport = MakeTransport();
  for (const FakeResponse& endless : endless_bodies) {
    fake_.Enqueue(endless);
    auto [response, took] = TimedSend(*transport, fake_);
    EXPECT_GT(response.status, 0) << response.error;
    EXPECT_TRUE(response.body_too_large);
    EXPECT_EQ(response.body.size(), kMaxResponseBodyBytes);
    EXPECT_EQ(response.body.substr(0, 4), "xxxx");
    EXPECT_LT(took, std::chrono::milliseconds(2000));
  }

  // Each oversized body closed its connection: the next request opens a new one.
  HttpResponse after = transport->Send(Event());
  EXPECT_EQ(after.status, 202);
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_NE(requests[0].client_address, requests[1].client_address);
  EXPECT_NE(requests[1].client_address, requests[2].client_address);
}

TEST_F(HttpTransportTest, BodyOfExactlyLimitIsWhole) {
  FakeResponse exact;
  exact.status = 200;
  exact.body = std::string(kMaxResponseBodyBytes, 'y');
  fake_.Enqueue(exact);
  std::unique_ptr<PocoTransport> transport = MakeTransport();
  HttpResponse response = transport->Send(Event());
  EXPECT_EQ(response.status, 200) << response.error;
  EXPECT_FALSE(response.body_too_large);
  EXPECT_EQ(response.body.size(), kMaxResponseBodyBytes);

  // A body within the limit keeps the connection.
  transport->Send(Event());
  std::vector<testing::RecordedRequest> requests = fake_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].client_address, requests[1].client_address);
}

// Each of these responses would take minutes or forever at its pace, but no
// single wait for a byte reaches request_timeout.
TEST_F(HttpTransportTest, TrickledResponsesEndAtDeadline) {
  config_.request_timeout = Milliseconds(300);
  const std::chrono::milliseconds interval(20);
  struct Case {
    std::string name;
    FakeResponse response;
  };
  const Case cases[] = {
      {"status line", FakeResponse::Trickle("HTTP/1.1", " ", interval)},
      {"header value", FakeResponse::Trickle("HTTP/1.1 202 Accepted\r\nX-Slow: ", "a", interval)},
      {"fixed-length body",
       FakeResponse::Trickle("HTTP/1.1 202 Accepted\r\nContent-Length: 100000\r\n\r\n", "x",
                             interval)},
      {"chunked body", FakeResponse::Trickle(ChunkedHead(202), "1\r\nx\r\n", interval)},
  };
  std::unique_ptr<PocoTransport> transport = MakeTransport();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fake_.Enqueue(c.response);
    auto [response, took] = TimedSend(*transport, fake_);
    EXPECT_EQ(response.status, 0);
    EXPECT_THAT(response.error, StartsWith("timed out"));
    EXPECT_THAT(response.error, HasSubstr("intercom.request_timeout (300 ms)"));
    EXPECT_GE(took, std::chrono::milliseconds(300));
    EXPECT_LT(took, std::chrono::milliseconds(2000));
  }
  // The transport still works after the cuts.
  EXPECT_EQ(transport->Send(Event()).status, 202);
}

TEST_F(HttpTransportTest, TrickleOverTlsEndsAtDeadline) {
  // The worker ignores SIGPIPE (worker/main.cc), and so must this process,
  // because OpenSSL may write its close alert on the connection that the
  // deadline cut.
  std::signal(SIGPIPE, SIG_IGN);
  FakeIntercom secure(FakeIntercom::Scheme::kHttps);
  config_.base_url = secure.base_url();
  config_.ca_file = secure.ca_file();
  config_.request_timeout = Milliseconds(300);
  secure.Enqueue(FakeResponse::Trickle("HTTP/1.1 202 Accepted\r\nX-Slow: ", "a",
                                       std::chrono::milliseconds(20)));
  std::unique_ptr<PocoTransport> transport = MakeTransport();
  auto [response, took] = TimedSend(*transport, secure);
  EXPECT_EQ(response.status, 0);
  EXPECT_THAT(response.error, StartsWith("timed out"));
  EXPECT_LT(took, std::chrono::milliseconds(2000));

  EXPECT_EQ(transport->Send(Event()).status, 202);
  transport.reset();  // before `secure` stops, so no connection is cut mid-use
}

TEST_F(HttpTransportTest, DeadlineCoversResendOnNewConnection) {
  config_.request_timeout = Milliseconds(1000);
  std::unique_ptr<PocoTransport> transport = MakeTransport();
  ASSERT_EQ(transport->Send(Event()).status, 202);

  // The kept-alive connection is closed 600 ms into the request with no
  // response, so the transport resends on a new connection. That one gets
  // a response that never ends, and only the 400 ms left of the request's
  // 1000 ms are given to it.
  FakeResponse closed = FakeResponse::Raw("");
  closed.delay = std::chrono::milliseconds(600);
  fake_.Enqueue(closed);
  fake_.Enqueue(FakeResponse::Trickle("HTTP/1.1 202 Accepted\r\nX-Slow: ", "a",
                                      std::chrono::milliseconds(20)));
  auto [response, took] = TimedSend(*transport, fake_);
  EXPECT_THAT(response.error, StartsWith("timed out"));
  EXPECT_EQ(fake_.RequestCount(), 3u);
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  // A fresh request_timeout for the resend would make it 1600 ms.
  EXPECT_LT(took, std::chrono::milliseconds(1400));
}

TEST_F(HttpTransportTest, ConnectionClosedMidResponseSaysSo) {
  struct Case {
    std::string sent;
    std::string error;
  };
  const Case cases[] = {
      {"", "connection closed before a complete response (No message received)"},
      {"HTTP/1.1 202 Acc",
       "connection closed before a complete response (Malformed message: HTTP reason string too "
       "long)"},
      {"HTTP/1.1 202 Accepted\r\nContent-Le",
       "connection closed before a complete response (Malformed message: Field name too "
       "long/no colon found)"},
      // Poco takes these headers as complete.
      {"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n",
       "connection closed before a complete response: the headers of HTTP 202 were cut off"},
      {"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\nabc",
       "connection closed before a complete response: HTTP 202 sent 3 of 10 body bytes"},
      {ChunkedHead(202) + "5\r\nab",
       "connection closed before a complete response: HTTP 202 sent 2 bytes of a chunked body"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sent);
    fake_.Enqueue(FakeResponse::Raw(c.sent));
    // A new transport each time: on a kept-alive connection a closed one is
    // retried once, which is not what this test is about.
    HttpResponse response = MakeTransport()->Send(Event());
    EXPECT_EQ(response.status, 0);
    EXPECT_EQ(response.error, c.error);
  }
}

TEST_F(HttpTransportTest, CompleteResponsesBeforeCloseAreKept) {
  const std::string complete[] = {
      "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
      ChunkedHead(202) + "2\r\n{}\r\n0\r\n\r\n",
      // No length and not chunked: the end of the stream ends the body.
      "HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\n{}",
  };
  for (const std::string& sent : complete) {
    SCOPED_TRACE(sent);
    fake_.Enqueue(FakeResponse::Raw(sent));
    HttpResponse response = MakeTransport()->Send(Event());
    EXPECT_EQ(response.status, 202) << response.error;
    EXPECT_EQ(response.body, "{}");
  }
}

TEST(DryRunTransportTest, FileKeepsLargeIntegersExact) {
  testing::TempDir dir;
  DryRunFile file(dir.File("dry-run.jsonl"));
  DryRunTransport transport("https://api.intercom.io", file);
  HttpRequest request;
  request.method = "POST";
  request.path = "/events";
  request.body = R"({"metadata":{"low":-9223372036854775807,"high":18446744073709551615}})";
  EXPECT_EQ(transport.Send(request).status, 202);

  std::ifstream in(dir.File("dry-run.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_THAT(line, HasSubstr(R"("body":{"metadata":{"low":-9223372036854775807,)"
                              R"("high":18446744073709551615}})"));
}

}  // namespace
}  // namespace connector

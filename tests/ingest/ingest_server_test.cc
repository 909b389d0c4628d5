#include "ingest/ingest_server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/database.h"
#include "common/log.h"
#include "tests/ingest/test_helpers.h"
#include "tests/support/temp_dir.h"

namespace connector {
namespace {

using testing::Base64;
using testing::Gzip;
using testing::HttpResult;
using testing::SendRequest;
using testing::UrlEncode;

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

std::string Event(const std::string& name, const std::string& distinct_id,
                  const std::string& uuid = "") {
  std::string json = R"({"event":")" + name + R"(","distinct_id":")" + distinct_id + "\"";
  if (!uuid.empty()) json += R"(,"uuid":")" + uuid + "\"";
  return json + "}";
}

// Writes `head` and all of `body` on a new connection before reading
// anything, like a client that reads only after sending the whole request.
// Returns everything the server sent until it closed the connection, and
// throws Poco::Exception when the server resets it.
std::string SendWholeRequestThenRead(int port, const std::string& head, const std::string& body) {
  Poco::Net::StreamSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setSendTimeout(Poco::Timespan(30, 0));
  socket.setReceiveTimeout(Poco::Timespan(30, 0));
  std::string request = head + body;
  size_t sent = 0;
  while (sent < request.size()) {
    int chunk = static_cast<int>(std::min<size_t>(request.size() - sent, 64 * 1024));
    sent += static_cast<size_t>(socket.sendBytes(request.data() + sent, chunk));
  }

  std::string received;
  char buffer[4096];
  while (int n = socket.receiveBytes(buffer, sizeof(buffer))) {
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

// Clients that each send single-event POST /e/ requests back to back on one
// keep-alive connection until Stop(), counting the 200 responses.
// HTTPClientSession reconnects after a response with Connection: close.
class BusyClients {
 public:
  explicit BusyClients(int port) : port_(port) {}
  ~BusyClients() { Stop(); }

  // Starts the next client, which connects and starts sending at once.
  void Add() {
    auto state = std::make_unique<State>();
    State* raw = state.get();
    states_.push_back(std::move(state));
    threads_.emplace_back([this, raw, index = threads_.size()] { Run(index, *raw); });
  }

  // Waits up to `timeout` until every client has had a 200; returns whether they all have.
  bool WaitUntilAllServed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& state : states_) all = all && state->ok.load() > 0;
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // Lets each client finish its current request, then joins them.
  void Stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  int ok(size_t index) const { return states_[index]->ok.load(); }
  int errors(size_t index) const { return states_[index]->errors.load(); }
  std::string first_error(size_t index) const {
    std::lock_guard<std::mutex> lock(states_[index]->mutex);
    return states_[index]->first_error;
  }

 private:
  struct State {
    std::atomic<int> ok{0};
    std::atomic<int> errors{0};
    mutable std::mutex mutex;
    std::string first_error;  // guarded by mutex
  };

  void Run(size_t index, State& state) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
    session.setKeepAlive(true);
    // Long enough for a queued connection to wait for a thread under sanitizers.
    session.setTimeout(Poco::Timespan(60, 0));
    for (int i = 0; !stop_.load(); ++i) {
      std::string body = Event("busy", std::to_string(index) + "-" + std::to_string(i));
      Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      try {
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
        if (response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) {
          state.ok.fetch_add(1);
          continue;
        }
        RecordError(state, std::to_string(static_cast<int>(response.getStatus())) + " " + answer);
      } catch (const Poco::Exception& error) {
        RecordError(state, error.displayText());
        session.reset();
      }
    }
  }

  static void RecordError(State& state, const std::string& error) {
    state.errors.fetch_add(1);
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.first_error.empty()) state.first_error = error;
  }

  int port_;
  std::atomic<bool> stop_{false};
  std::vector<std::unique_ptr<State>> states_;
  std::vector<std::thread> threads_;
};

// Runs an IngestServer on 127.0.0.1:0 with a queue in a fresh directory, and
// keeps a reader connection to the same file.
class IngestServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { log::Setup(log::Level::kError); }

  void StartServer(const std::function<void(Config&)>& adjust = {}) {
    config_.queue.path = dir_.File("queue.db");
    config_.queue.busy_timeout = Milliseconds(200);
    config_.ingest.listen = "127.0.0.1:0";
    config_.ingest.threads = 8;
    if (adjust) adjust(config_);
    server_ = std::make_unique<IngestServer>(config_, clock_);
    server_->Start();
    port_ = PortOf(server_->address());
    reader_ = OpenQueue(config_.queue);
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  HttpResult Post(const std::string& uri, const std::string& body,
                  const std::map<std::string, std::string>& headers = {
                      {"Content-Type", "application/json"}}) {
    return SendRequest(port_, "POST", uri, body, headers);
  }

  int Count() { return testing::CountEvents(*reader_); }

  std::string Column(const std::string& sql) { return reader_->execAndGet(sql).getString(); }

  testing::TempDir dir_;
  SystemClock clock_;
  Config config_;
  std::unique_ptr<IngestServer> server_;
  std::unique_ptr<SQLite::Database> reader_;
  int port_ = 0;
};

TEST_F(IngestServerTest, AddressHasRealPort) {
  StartServer();
  EXPECT_EQ(server_->address().rfind("127.0.0.1:", 0), 0u);
  EXPECT_GT(port_, 0);
}

TEST_F(IngestServerTest, PortInUseFailsToStart) {
  StartServer();
  Config second = config_;
  second.ingest.listen = server_->address();
  second.queue.path = dir_.File("second.db");
  try {
    IngestServer other(second, clock_);
    other.Start();
    FAIL() << "a second server started on " << second.ingest.listen;
  } catch (const std::runtime_error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("[ingest] listen = \"" + second.ingest.listen +
                           "\": address already in use"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("Stop that process"), std::string::npos) << message;
    EXPECT_NE(message.find("set [ingest] listen to a port"), std::string::npos) << message;
    // The message once suggested 127.0.0.1:8000, the busy default itself.
    EXPECT_EQ(message.find("127.0.0.1:8000"), std::string::npos) << message;
    EXPECT_EQ(message.find("such as"), std::string::npos) << message;
  }
}

TEST_F(IngestServerTest, EveryCaptureRouteWithAndWithoutSlash) {
  StartServer();
  const std::string routes[] = {"/batch", "/e", "/i/v0/e", "/capture", "/track"};
  int expected = 0;
  for (const std::string& route : routes) {
    for (const std::string& uri : {route, route + "/", route + "/?ver=1.2.3&_=1767225600000"}) {
      HttpResult result = Post(uri, Event("route_test", uri));
      EXPECT_EQ(result.status, 200) << uri << ": " << result.body;
      EXPECT_EQ(result.body, R"({"status":1})") << uri;
      EXPECT_EQ(Count(), ++expected) << uri;
    }
  }
}

TEST_F(IngestServerTest, UnknownRouteIs404) {
  StartServer();
  HttpResult result = Post("/nope", Event("e", "d"));
  EXPECT_EQ(result.status, 404);
  EXPECT_NE(result.body.find("/batch/"), std::string::npos);
  EXPECT_EQ(Count(), 0);
}

// Builds a raw HTTP/1.1 request with a Content-Length body.
std::string RawPost(const std::string& method, const std::string& uri, const std::string& body,
                    const std::string& extra_headers = "") {
  return method + " " + uri + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body;
}

size_t CountOf(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(IngestServerTest, RejectedBodyKeepsNextRequest) {
  StartServer();
  struct Case {
    std::string method;
    std::string uri;
    std::string status_line;
  };
  const Case cases[] = {
      {"POST", "/nope", "HTTP/1.1 404 Not Found\r\n"},
      {"PUT", "/e/", "HTTP/1.1 405 Method Not Allowed\r\n"},
      {"POST", "/healthz", "HTTP/1.1 405 Method Not Allowed\r\n"},
  };
  int expected = 0;
  for (const Case& c : cases) {
    // Both requests go in one write, as a pipelining client sends them. The
    // second carries Connection: close, so the server's close ends the read.
    std::string requests =
        RawPost(c.method, c.uri, Event("rejected", c.uri)) +
        RawPost("POST", "/e/", Event("after_rejection", c.uri), "Connection: close\r\n");
    std::string received = SendWholeRequestThenRead(port_, requests, "");
    EXPECT_EQ(received.rfind(c.status_line, 0), 0u) << received;
    EXPECT_EQ(CountOf(received, "HTTP/1.1 200 OK\r\n"), 1u) << received;
    EXPECT_EQ(received.find(" 400 "), std::string::npos) << received;
    EXPECT_EQ(Count(), ++expected) << c.method << " " << c.uri;
  }
}

TEST_F(IngestServerTest, RejectedLargeBodyClosesConnection) {
  StartServer();
  // Too large to read before responding, so the server closes the connection
  // instead of parsing the body as the next request. Nothing follows the body:
  // a request left unread in the server's buffer would make the close a reset.
  std::string body = "[" + Event("large", "1");
  while (body.size() < 200 * 1024) body += "," + Event("large", "1");
  body += "]";
  std::string received = SendWholeRequestThenRead(port_, RawPost("POST", "/nope", body), "");
  EXPECT_EQ(received.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << received.substr(0, 300);
  EXPECT_NE(received.find("Connection: Close\r\n"), std::string::npos) << received.substr(0, 300);
  EXPECT_EQ(CountOf(received, "HTTP/1.1 "), 1u) << received.substr(0, 600);
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Post("/e/", Event("small", "d")).status, 200);
}

// Sends `request` on a new connection, shuts down the sending side when
// `half_close` is set, and returns what the server sent until it closed the
// connection. A reset is returned as "<reset>" after what came before it.
std::string SendRawRequest(int port, const std::string& request, bool half_close) {
  Poco::Net::StreamSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setReceiveTimeout(Poco::Timespan(30, 0));
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  if (half_close) socket.shutdownSend();
  std::string received;
  char buffer[4096];
  try {
    while (int n = socket.receiveBytes(buffer, sizeof(buffer))) {
      received.append(buffer, static_cast<size_t>(n));
    }
  } catch (const Poco::Exception& error) {
    received += "<reset>";
  }
  return received;
}

TEST_F(IngestServerTest, TruncatedBodiesGet400) {
  StartServer();
  const std::string event = Event("frm", "d");  // 33 bytes
  ASSERT_EQ(event.size(), 33u);
  const std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
  struct Case {
    std::string name;
    std::string request;
    bool half_close;
    std::string detail;
  };
  const Case cases[] = {
      {"content_length_short", head + "Content-Length: 100\r\n\r\n" + event, true,
       "request body ended after 33 of 100 bytes (Content-Length)"},
      {"chunk_short", chunked + "100\r\n" + event, true,
       "request body ended inside a chunk, after 33 of its 256 bytes (chunked)"},
      {"last_chunk_missing", chunked + "21\r\n" + event + "\r\n", true,
       "request body ended after 33 bytes, before the last chunk (size 0)"},
      {"junk_chunk_size", chunked + "21\r\n" + event + "\r\nzz\r\n\r\n", false,
       "invalid chunked encoding: chunk size \\\"zz\\\" is not a hexadecimal number"},
      {"chunk_longer_than_size", chunked + "10\r\n" + event + "\r\n0\r\n\r\n", false,
       "invalid chunked encoding: the chunk of 16 bytes is longer than its size"},
      {"trailer_missing_end", chunked + "21\r\n" + event + "\r\n0\r\n", true,
       "request body ended after the last chunk"},
  };
  for (const Case& c : cases) {
    std::string received = SendRawRequest(port_, c.request, c.half_close);
    EXPECT_EQ(received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << c.name << ": " << received;
    EXPECT_NE(received.find(c.detail), std::string::npos) << c.name << ": " << received;
    EXPECT_NE(received.find("Connection: Close\r\n"), std::string::npos) << c.name << ": "
                                                                        << received;
    EXPECT_EQ(CountOf(received, "HTTP/1.1 "), 1u) << c.name << ": " << received;
    EXPECT_EQ(Count(), 0) << c.name;
  }
  EXPECT_EQ(Post("/batch/", event).status, 200);
}

// Bytes from 0x80 in a chunk extension or a trailer are data, and leading
// zeros do not make a size too long: each request is stored.
TEST_F(IngestServerTest, FramingBytesReadAsBytes) {
  StartServer();
  const std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  const std::string chunked = head + "Transfer-Encoding: chunked\r\n\r\n";
  const std::string requests[] = {
      chunked + "21;x=\xff\r\n" + Event("ext", "1") + "\r\n0\r\n\r\n",
      chunked + "21\r\n" + Event("trl", "2") + "\r\n0\r\nX-Note: caf\xc3\xa9\r\n\r\n",
      chunked + "0000000000000000021\r\n" + Event("zer", "3") + "\r\n0\r\n\r\n",
      head + "Content-Length: 0000000000000000033\r\n\r\n" + Event("len", "4"),
  };
  int stored = 0;
  for (const std::string& request : requests) {
    std::string received = SendRawRequest(port_, request, false);
    EXPECT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << request << "\n" << received;
    EXPECT_EQ(Count(), ++stored) << request;
  }
}

// A client that resets the connection inside the body broke the request, so
// it counts as an incomplete body (400), not as a server error (500).
TEST_F(IngestServerTest, ResetInsideBodyIsIncomplete) {
  StartServer();
  {
    Poco::Net::StreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
    std::string request = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Length: 100\r\n\r\n" + Event("rst", "d");
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    socket.setLinger(true, 0);  // close() now sends RST instead of FIN
    socket.close();
  }
  const std::string incomplete =
      "intercom_connector_ingest_requests_rejected_total{reason=\"incomplete_body\"} 1";
  std::string metrics;
  for (int i = 0; i < 200; ++i) {
    metrics = server_->metrics().Render();
    if (metrics.find(incomplete) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(metrics.find(incomplete), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("internal_error"), std::string::npos) << metrics;
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Post("/batch/", Event("after", "d")).status, 200);
}

// A body on a route that does not read one is discarded, never parsed as
// the next request on the connection.
TEST_F(IngestServerTest, UnreadBodyNeverBecomesRequest) {
  StartServer();
  const std::string smuggled = RawPost("POST", "/batch/", Event("smuggled", "s"));
  const std::string with_body = "Content-Length: " + std::to_string(smuggled.size()) +
                                "\r\n\r\n" + smuggled;
  const std::string requests[] = {
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + with_body,
      "OPTIONS /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + with_body,
      "GET /e/?data=" + UrlEncode(Base64(Event("get", "g"))) +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
          with_body,
  };
  for (const std::string& request : requests) {
    std::string received = SendRawRequest(port_, request, true);
    EXPECT_EQ(CountOf(received, "HTTP/1.1 "), 1u) << request << "\n" << received;
  }
  EXPECT_EQ(reader_->execAndGet("SELECT count(*) FROM events WHERE event = 'smuggled'").getInt(),
            0);
  EXPECT_EQ(Count(), 1);  // the GET's own event
}

// A pause inside the body is bounded by request_timeout alone, not by the
// shorter read timeout of the header (10 s).
TEST_F(IngestServerTest, PauseInsideBodyWithinRequestTimeout) {
  config_.ingest.request_timeout = Milliseconds(20000);
  StartServer();
  std::string event = Event("paused", "p");
  Poco::Net::StreamSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
  socket.setReceiveTimeout(Poco::Timespan(30, 0));
  std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: " + std::to_string(event.size()) + "\r\n\r\n" +
                     event.substr(0, 10);
  socket.sendBytes(head.data(), static_cast<int>(head.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(11000));
  std::string rest = event.substr(10);
  socket.sendBytes(rest.data(), static_cast<int>(rest.size()));
  std::string received;
  char buffer[4096];
  while (int n = socket.receiveBytes(buffer, sizeof(buffer))) received.append(buffer, n);
  EXPECT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << received;
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, ChunkedBodyKeepsNextRequest) {
  StartServer();
  // A chunked body with an extension and a trailer, then a second request in
  // the same write: the server must stop reading at the end of the first body.
  std::string first = Event("chunked", "1");
  std::string request = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"
                        "5;name=value\r\n" + first.substr(0, 5) + "\r\n" +
                        "20\r\n" + first.substr(5) + "\r\n0\r\nX-Trailer: 1\r\n\r\n" +
                        RawPost("POST", "/e/", Event("after_chunked", "2"),
                                "Connection: close\r\n");
  ASSERT_EQ(first.size(), 5u + 0x20);
  std::string received = SendRawRequest(port_, request, false);
  EXPECT_EQ(CountOf(received, "HTTP/1.1 200 OK\r\n"), 2u) << received;
  EXPECT_EQ(Count(), 2);
}

TEST_F(IngestServerTest, AmbiguousFramingGets400AndCloses) {
  StartServer();
  const std::string event = Event("frm", "d");  // 33 bytes
  // A request that would be stored if the server parsed it after the first one.
  const std::string smuggled = RawPost("POST", "/batch/", Event("smuggled", "s"));
  char smuggled_size[16];
  std::snprintf(smuggled_size, sizeof(smuggled_size), "%zx", smuggled.size());
  const std::string smuggled_chunk =
      std::string(smuggled_size) + "\r\n" + smuggled + "\r\n0\r\n\r\n";
  const std::string event_chunk = "21\r\n" + event + "\r\n0\r\n\r\n";
  const std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  struct Case {
    std::string name;
    std::string request;
    std::string detail;
  };
  const Case cases[] = {
      {"content_length_twice_equal",
       head + "Content-Length: 33\r\nContent-Length: 33\r\n\r\n" + event,
       R"(Content-Length is sent 2 times (\"33\", \"33\"); send it once)"},
      {"content_length_twice_different",
       head + "Content-Length: 0\r\nContent-Length: " + std::to_string(smuggled.size()) +
           "\r\n\r\n" + smuggled,
       R"(Content-Length is sent 2 times (\"0\", \")"},
      {"content_length_and_chunked",
       head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + event_chunk,
       R"(Content-Length \"4\" and Transfer-Encoding \"chunked\" are both sent)"},
      {"gzip_then_chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + smuggled_chunk,
       R"(Transfer-Encoding \"gzip, chunked\" is not supported)"},
      {"chunked_twice",
       head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + event_chunk,
       R"(Transfer-Encoding is sent 2 times)"},
      {"negative_content_length", head + "Content-Length: -1\r\n\r\n" + smuggled,
       R"(Content-Length \"-1\" is not a decimal number of bytes)"},
      {"signed_content_length", head + "Content-Length: +33\r\n\r\n" + event,
       R"(Content-Length \"+33\" is not a decimal number of bytes)"},
  };
  for (const Case& c : cases) {
    std::string received = SendRawRequest(port_, c.request, false);
    EXPECT_EQ(received.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << c.name << ": " << received;
    EXPECT_NE(received.find(c.detail), std::string::npos) << c.name << ": " << received;
    EXPECT_NE(received.find("invalid_framing"), std::string::npos) << c.name << ": " << received;
    EXPECT_NE(received.find("Connection: Close\r\n"), std::string::npos) << c.name << ": "
                                                                        << received;
    EXPECT_EQ(CountOf(received, "HTTP/1.1 "), 1u) << c.name << ": " << received;
    EXPECT_EQ(Count(), 0) << c.name;
  }

  // Poco 1.11 fails to parse these before any handler runs and closes the
  // connection without a response.
  for (const char* length : {"abc", "99999999999999999999999"}) {
    std::string received =
        SendRawRequest(port_, head + "Content-Length: " + length + "\r\n\r\n" + smuggled,
                       false);
    EXPECT_EQ(received.find(" 200 "), std::string::npos) << length << ": " << received;
    EXPECT_EQ(Count(), 0) << length;
  }
  EXPECT_EQ(Post("/batch/", event).status, 200);
}

// A client that sends a request header announcing a large body, then one
// byte of body every 200 ms until the server responds or `give_up` passes.
// Run() returns what the server sent until it closed the connection.
class TricklingClient {
 public:
  explicit TricklingClient(int port)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port))) {
    socket_.setReceiveTimeout(Poco::Timespan(30, 0));
  }

  std::string Run(std::chrono::seconds give_up) {
    std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n";
    socket_.sendBytes(head.data(), static_cast<int>(head.size()));
    auto stop_at = std::chrono::steady_clock::now() + give_up;
    try {
      while (std::chrono::steady_clock::now() < stop_at) {
        if (socket_.poll(Poco::Timespan(200 * 1000), Poco::Net::Socket::SELECT_READ)) break;
        socket_.sendBytes(" ", 1);
      }
      std::string received;
      char buffer[4096];
      while (int n = socket_.receiveBytes(buffer, sizeof(buffer))) {
        received.append(buffer, static_cast<size_t>(n));
      }
      return received;
    } catch (const Poco::Exception& error) {
      return "<" + error.displayText() + ">";
    }
  }

 private:
  Poco::Net::StreamSocket socket_;
};

TEST_F(IngestServerTest, SlowBodyGets408AndFreesThread) {
  constexpr int kThreads = 2;
  StartServer([](Config& config) {
    config.ingest.threads = kThreads;
    config.ingest.request_timeout = Milliseconds(2000);
  });

  // As many trickling clients as threads, so without a deadline on the body
  // every thread stays busy for as long as they keep sending.
  std::vector<std::unique_ptr<TricklingClient>> clients;
  for (int i = 0; i < kThreads; ++i) clients.push_back(std::make_unique<TricklingClient>(port_));
  std::vector<std::string> responses(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { responses[i] = clients[i]->Run(std::chrono::seconds(40)); });
  }

  // Queued behind the trickling clients, served once the deadline frees a thread.
  HttpResult result;
  try {
    result = Post("/batch/", Event("after_trickle", "1"));
  } catch (const Poco::Exception& error) {
    ADD_FAILURE() << "the request queued behind the trickling clients failed: "
                  << error.displayText();
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(result.status, 200) << result.body;
  for (const std::string& response : responses) {
    EXPECT_EQ(response.rfind("HTTP/1.1 408 ", 0), 0u) << response;
    EXPECT_NE(response.find("request body timed out: not complete within request_timeout=2s"),
              std::string::npos)
        << response;
    EXPECT_NE(response.find("Connection: Close\r\n"), std::string::npos) << response;
  }
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, GetWithDataOnEAndCapture) {
  StartServer();
  std::string data = UrlEncode(Base64(Event("get_event", "g1")));
  EXPECT_EQ(SendRequest(port_, "GET", "/e/?data=" + data).status, 200);
  EXPECT_EQ(SendRequest(port_, "GET", "/capture?compression=base64&data=" + data).status, 200);
  EXPECT_EQ(SendRequest(port_, "GET", "/e/?data=" + UrlEncode(Event("plain", "g2"))).status, 200);
  EXPECT_EQ(Count(), 3);

  HttpResult no_data = SendRequest(port_, "GET", "/e/");
  EXPECT_EQ(no_data.status, 400);
  EXPECT_NE(no_data.body.find("data"), std::string::npos);
  HttpResult on_batch = SendRequest(port_, "GET", "/batch/?data=" + data);
  EXPECT_EQ(on_batch.status, 405);
  EXPECT_EQ(on_batch.headers["Allow"], "POST, OPTIONS");
  EXPECT_EQ(SendRequest(port_, "PUT", "/e/", Event("e", "d")).status, 405);
  EXPECT_EQ(Count(), 3);
}

TEST_F(IngestServerTest, BodyShapes) {
  StartServer();
  EXPECT_EQ(Post("/batch/", "{\"batch\":[" + Event("a", "1") + "," + Event("b", "2") + "]}").status,
            200);
  EXPECT_EQ(Post("/e/", "[" + Event("c", "3") + "," + Event("d", "4") + "]").status, 200);
  EXPECT_EQ(Post("/capture/", Event("e", "5")).status, 200);
  EXPECT_EQ(Count(), 5);
  EXPECT_EQ(Column("SELECT group_concat(event, '') FROM (SELECT event FROM events ORDER BY id)"),
            "abcde");
}

TEST_F(IngestServerTest, GzipPosthogNodeBatch) {
  StartServer();
  std::string body = R"({"api_key":"phc_node","sent_at":"2026-01-01T00:00:00.000Z","batch":[)"
                     R"({"event":"$identify","distinct_id":"u1","uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",)"
                     R"("timestamp":"2026-01-01T00:00:00.000Z","properties":{"$set":{"email":"a@example.com"}}}]})";
  HttpResult result = Post("/batch/", Gzip(body),
                           {{"Content-Type", "application/json"},
                            {"Content-Encoding", "gzip"},
                            {"User-Agent", "posthog-node/5.0.0"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(Column("SELECT project_token FROM events"), "phc_node");
  EXPECT_EQ(Column("SELECT uuid FROM events"), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
}

TEST_F(IngestServerTest, GzipAsTextPlainWithoutHeader) {
  StartServer();
  HttpResult result = Post("/e/?compression=gzip-js", Gzip("[" + Event("js", "1") + "]"),
                           {{"Content-Type", "text/plain"}});
  EXPECT_EQ(result.status, 200) << result.body;
  result = Post("/i/v0/e/", Gzip(Event("js", "2")), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(Count(), 2);
}

TEST_F(IngestServerTest, FormBodyBase64AndLz64) {
  StartServer();
  std::string form = "data=" + UrlEncode(Base64("[" + Event("unload", "1") + "]"));
  HttpResult result = Post("/e/?compression=base64", form,
                           {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(result.status, 200) << result.body;

  // LZString.compressToBase64 of a $pageview event (see capture_decoder_test.cc).
  const std::string lz64 =
      "N4IgpgbmB2AuIC4QBIAOBDA5pAlmA7iADQgAmOAzrDtAMawD6OpiIArhWAE4C0AjMRCouAe1TdqYColDJabLlxiMFAG1YA"
      "LWLFQUEAen1gAHugC2qVWAB0tEWf0gAvk6A===";
  result = Post("/e/?compression=lz64", "data=" + UrlEncode(lz64),
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(Count(), 2);
  EXPECT_EQ(Column("SELECT distinct_id FROM events WHERE event = '$pageview'"), "user-1");
}

TEST_F(IngestServerTest, Base64BodyWithoutForm) {
  StartServer();
  HttpResult result = Post("/capture/", Base64(Event("b64", "1")), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, WebhookStoresPerson) {
  StartServer();
  std::string body = R"({"event":{"uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event":"$identify",)"
                     R"("distinct_id":"u1","properties":{},"timestamp":"2025-12-31T10:00:00Z",)"
                     R"("url":"https://eu.posthog.com/e/1","elements_chain":""},)"
                     R"("person":{"id":"p1","properties":{"email":"a@example.com"},"name":"A","url":"u"}})";
  HttpResult result = Post("/webhook", body);
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_EQ(Column("SELECT created_at FROM events"), "1767175200");
  EXPECT_EQ(Column("SELECT json_extract(person, '$.properties.email') FROM events"),
            "a@example.com");
  EXPECT_EQ(Post("/webhook/", R"({"person":{}})").status, 400);
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, BeaconAnswers204) {
  StartServer();
  HttpResult result = Post("/e/?beacon=1", Event("beacon", "1"));
  EXPECT_EQ(result.status, 204);
  EXPECT_TRUE(result.body.empty());
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, CorsPreflightAndHeaders) {
  StartServer();
  HttpResult preflight = SendRequest(port_, "OPTIONS", "/e/", "",
                                     {{"Origin", "https://app.example.com"},
                                      {"Access-Control-Request-Method", "POST"},
                                      {"Access-Control-Request-Headers", "content-type"}});
  EXPECT_EQ(preflight.status, 200);
  EXPECT_EQ(preflight.headers["Access-Control-Allow-Origin"], "https://app.example.com");
  EXPECT_EQ(preflight.headers["Access-Control-Allow-Headers"], "content-type");
  HttpResult post = Post("/e/", Event("cors", "1"),
                         {{"Content-Type", "text/plain"}, {"Origin", "https://app.example.com"}});
  EXPECT_EQ(post.headers["Access-Control-Allow-Origin"], "https://app.example.com");
  EXPECT_EQ(post.headers["Access-Control-Allow-Credentials"], "true");
}

TEST_F(IngestServerTest, InvalidBodiesGet400AndStoreNothing) {
  StartServer();
  struct Case {
    std::string uri;
    std::string body;
    std::string expected_text;
  };
  const Case cases[] = {
      {"/e/", "{not json", "not valid JSON"},
      {"/batch/", "{\"batch\":[" + Event("ok", "1") + R"(,{"event":"no_id"}]})",
       "batch[1]: distinct_id is missing"},
      {"/e/", R"({"event":"e","distinct_id":"d","timestamp":"yesterday"})", "is not a valid time"},
      {"/e/", R"({"event":"e","distinct_id":"d","uuid":"123"})", "is not a UUID"},
      {"/e/", "", "request body is empty"},
      {"/e/?compression=zstd", Event("e", "d"), "compression=zstd"},
      {"/e/?compression=lz64", "!!!", "lz64"},
      {"/batch/", "{\"batch\":[]}", "batch is empty"},
      {"/e/", "\x1f\x8b\x08\x00garbage", "gzip body"},
  };
  for (const Case& c : cases) {
    HttpResult result = Post(c.uri, c.body);
    EXPECT_EQ(result.status, 400) << c.uri << " " << c.body;
    EXPECT_NE(result.body.find(c.expected_text), std::string::npos) << result.body;
    EXPECT_NE(result.body.find(R"("code":"invalid_payload")"), std::string::npos) << result.body;
  }
  EXPECT_EQ(Count(), 0);
}

TEST_F(IngestServerTest, GarbageNeverCrashesTheServer) {
  StartServer();
  std::mt19937 random(42);
  for (int i = 0; i < 200; ++i) {
    std::string body(static_cast<size_t>(random() % 2000), '\0');
    for (char& c : body) c = static_cast<char>(random() & 0xFF);
    if (i % 3 == 0) body = Gzip(body);
    if (i % 5 == 0 && body.size() > 4) body[0] = '{';
    const char* uris[] = {"/e/", "/batch/", "/webhook", "/e/?compression=lz64",
                          "/e/?compression=base64"};
    HttpResult result = Post(uris[i % 5], body, {{"Content-Type", "text/plain"}});
    EXPECT_TRUE(result.status == 400 || result.status == 413) << result.status << result.body;
  }
  EXPECT_EQ(SendRequest(port_, "GET", "/healthz").status, 200);
  EXPECT_EQ(Count(), 0);
}

TEST_F(IngestServerTest, ApiKeysAllowList) {
  StartServer([](Config& config) { config.ingest.api_keys = {"phc_good"}; });
  HttpResult missing = Post("/e/", Event("e", "d"));
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(missing.body.find("project token is missing"), std::string::npos);
  EXPECT_NE(missing.body.find("properties.token, or add ?token=<project token> to the URL"),
            std::string::npos)
      << missing.body;
  // PostHog's webhook destination sends no token in its body, so the
  // message for /webhook leads with the URL.
  HttpResult webhook_missing = Post("/webhook", R"({"event":{"event":"e","distinct_id":"d"}})");
  EXPECT_EQ(webhook_missing.status, 401);
  EXPECT_NE(webhook_missing.body.find(
                "project token is missing; add ?token=<project token> to the webhook URL"),
            std::string::npos)
      << webhook_missing.body;
  HttpResult wrong = Post("/e/", R"({"api_key":"phc_wrong","event":"e","distinct_id":"d"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body.find("phc_wrong"), std::string::npos);
  // One event with a bad token fails the whole request.
  HttpResult mixed = Post("/e/", R"([{"token":"phc_good","event":"e","distinct_id":"d"},)"
                                 R"({"token":"phc_bad","event":"e","distinct_id":"d"}])");
  EXPECT_EQ(mixed.status, 401);
  EXPECT_EQ(Count(), 0);

  EXPECT_EQ(Post("/e/", R"({"api_key":"phc_good","event":"e","distinct_id":"d"})").status, 200);
  EXPECT_EQ(Post("/e/", R"({"$token":"phc_good","event":"e","distinct_id":"d"})").status, 200);
  EXPECT_EQ(Post("/e/", R"({"event":"e","distinct_id":"d","properties":{"token":"phc_good"}})").status,
            200);
  EXPECT_EQ(Post("/batch/", R"({"api_key":"phc_good","batch":[{"event":"e","distinct_id":"d"}]})").status,
            200);
  EXPECT_EQ(Post("/webhook?token=phc_good", R"({"event":{"event":"e","distinct_id":"d"}})").status,
            200);
  EXPECT_EQ(Count(), 5);
}

TEST_F(IngestServerTest, BodyOverMaxBodyBytesIs413) {
  StartServer([](Config& config) { config.ingest.max_body_bytes = 2048; });
  std::string big = "[" + Event("e", "d");
  while (big.size() < 3000) big += "," + Event("e", "d");
  big += "]";
  HttpResult result = Post("/batch/", big);
  EXPECT_EQ(result.status, 413);
  EXPECT_NE(result.body.find("max_body_bytes=2048"), std::string::npos);
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Post("/batch/", Event("small", "d")).status, 200);
}

TEST_F(IngestServerTest, PostWithoutContentLengthIsEmpty) {
  StartServer();
  // curl -X POST with no data sends neither Content-Length nor a chunked body.
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
  EXPECT_EQ(response.getStatus(), 400);
  EXPECT_NE(body.find("request body is empty"), std::string::npos) << body;
}

TEST_F(IngestServerTest, ChunkedBodyOverLimitIs413) {
  StartServer([](Config& config) { config.ingest.max_body_bytes = 2048; });
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
  request.setChunkedTransferEncoding(true);
  std::ostream& out = session.sendRequest(request);
  out << "[" << std::string(4000, ' ') << Event("e", "d") << "]";
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  EXPECT_EQ(response.getStatus(), 413);
  EXPECT_EQ(Count(), 0);
}

// Larger than Linux's default maximum send buffer (tcp_wmem, 4 MiB) plus the
// receive window of a server that reads nothing, so the client is still
// writing when the server rejects the request.
constexpr size_t kOversizedBodyBytes = 8 * 1024 * 1024;

TEST_F(IngestServerTest, OversizedBodyWrittenFirstGets413) {
  StartServer([](Config& config) { config.ingest.max_body_bytes = 2048; });
  const std::string body(kOversizedBodyBytes, ' ');
  const std::string head = "POST /batch/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string response;
    try {
      response = SendWholeRequestThenRead(port_, head, body);
    } catch (const Poco::Exception& error) {
      FAIL() << "attempt " << attempt << ": " << error.displayText();
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << "attempt " << attempt << ": "
                                                     << response.substr(0, 200);
    EXPECT_NE(response.find("max_body_bytes=2048"), std::string::npos) << response.substr(0, 500);
  }
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Post("/batch/", Event("small", "d")).status, 200);
}

TEST_F(IngestServerTest, OversizedChunkedBodyWrittenFirstGets413) {
  StartServer([](Config& config) { config.ingest.max_body_bytes = 2048; });
  const std::string chunk(64 * 1024, ' ');
  std::string body;
  body.reserve(kOversizedBodyBytes + kOversizedBodyBytes / 1024);
  while (body.size() < kOversizedBodyBytes) {
    char size_line[32];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
    body += size_line + chunk + "\r\n";
  }
  body += "0\r\n\r\n";
  const std::string head = "POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string response;
    try {
      response = SendWholeRequestThenRead(port_, head, body);
    } catch (const Poco::Exception& error) {
      FAIL() << "attempt " << attempt << ": " << error.displayText();
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << "attempt " << attempt << ": "
                                                     << response.substr(0, 200);
    EXPECT_NE(response.find("max_body_bytes=2048"), std::string::npos) << response.substr(0, 500);
  }
  EXPECT_EQ(Count(), 0);
  EXPECT_EQ(Post("/batch/", Event("small", "d")).status, 200);
}

TEST_F(IngestServerTest, StalledOversizedBodyFreesThread) {
  constexpr int kThreads = 2;
  StartServer([](Config& config) {
    config.ingest.threads = kThreads;
    config.ingest.max_body_bytes = 2048;
  });

  // Clients that announce a body over the limit, send a little of it and then
  // neither send more nor close. Each keeps a pool thread busy while the
  // server waits for the rest of the body.
  std::vector<Poco::Net::StreamSocket> stalled;
  for (int i = 0; i < kThreads; ++i) {
    Poco::Net::StreamSocket& socket = stalled.emplace_back(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port_)));
    socket.setReceiveTimeout(Poco::Timespan(30, 0));
    std::string head = "POST /e/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n";
    std::string start = head + std::string(100, ' ');
    socket.sendBytes(start.data(), static_cast<int>(start.size()));

    // The 413 and the end of the response arrive while the server still reads.
    std::string response;
    char buffer[4096];
    while (int n = socket.receiveBytes(buffer, sizeof(buffer))) {
      response.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  }

  // A request queued behind them is served once the server gives up on the
  // stalled bodies (5 s), long before its 30 s receive timeout would.
  auto started = std::chrono::steady_clock::now();
  HttpResult result;
  try {
    result = Post("/e/", Event("after_stall", "1"));
  } catch (const Poco::Exception& error) {
    FAIL() << "the request queued behind the stalled clients failed: " << error.displayText();
  }
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.status, 200) << result.body;
  EXPECT_LT(waited, std::chrono::seconds(15))
      << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms";
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, DecompressionBombIs413) {
  StartServer([](Config& config) { config.ingest.max_decompressed_bytes = 64 * 1024; });
  std::string bomb = Gzip("[" + std::string(10 * 1024 * 1024, ' ') + "]");
  HttpResult result = Post("/batch/", bomb, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(result.status, 413);
  EXPECT_NE(result.body.find("max_decompressed_bytes=65536"), std::string::npos);
  EXPECT_EQ(Count(), 0);
}

TEST_F(IngestServerTest, TooManyEventsIs413) {
  StartServer([](Config& config) { config.ingest.max_events_per_request = 2; });
  HttpResult result = Post("/batch/", "[" + Event("a", "1") + "," + Event("b", "2") + "," +
                                          Event("c", "3") + "]");
  EXPECT_EQ(result.status, 413);
  EXPECT_NE(result.body.find("max_events_per_request=2"), std::string::npos);
  EXPECT_EQ(Count(), 0);
}

TEST_F(IngestServerTest, ResentBatchAddsNoDuplicates) {
  StartServer();
  std::string body = R"({"api_key":"phc","batch":[)" +
                     Event("a", "1", "0190a1b2-c3d4-7e5f-8a9b-000000000001") + "," +
                     Event("b", "1", "0190A1B2-C3D4-7E5F-8A9B-000000000002") + "]}";
  EXPECT_EQ(Post("/batch/", body).status, 200);
  EXPECT_EQ(Post("/batch/", Gzip(body)).status, 200);
  // The same uuid in upper case is the same event.
  EXPECT_EQ(Post("/e/", Event("a", "1", "0190A1B2-C3D4-7E5F-8A9B-000000000001")).status, 200);
  EXPECT_EQ(Count(), 2);
}

TEST_F(IngestServerTest, HealthzReportsWritableQueue) {
  StartServer();
  HttpResult ok = SendRequest(port_, "GET", "/healthz");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"status":"ok"})");
  EXPECT_EQ(SendRequest(port_, "POST", "/healthz", "x").status, 405);

  std::unique_ptr<SQLite::Database> locker = OpenQueue(config_.queue);
  locker->exec("BEGIN IMMEDIATE");
  HttpResult locked = SendRequest(port_, "GET", "/healthz/");
  locker->exec("ROLLBACK");
  EXPECT_EQ(locked.status, 503);
  EXPECT_EQ(locked.headers["Retry-After"], "1");
}

TEST_F(IngestServerTest, LockedQueueGives503AndStoresNothing) {
  StartServer();
  std::unique_ptr<SQLite::Database> locker = OpenQueue(config_.queue);
  locker->exec("BEGIN IMMEDIATE");
  HttpResult result = Post("/batch/", "[" + Event("a", "1") + "," + Event("b", "2") + "]");
  locker->exec("ROLLBACK");
  EXPECT_EQ(result.status, 503);
  EXPECT_EQ(result.headers["Retry-After"], "1");
  EXPECT_NE(result.body.find("queue_unavailable"), std::string::npos);
  EXPECT_EQ(Count(), 0);

  // The writer recovers once the lock is released.
  EXPECT_EQ(Post("/batch/", "[" + Event("a", "1") + "]").status, 200);
  EXPECT_EQ(Count(), 1);
}

TEST_F(IngestServerTest, ConcurrentClientsShareCommits) {
  StartServer([](Config& config) { config.ingest.threads = 16; });
  constexpr int kClients = 16;
  constexpr int kRequestsPerClient = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      // One keep-alive connection per client, as the SDKs use.
      Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
      for (int i = 0; i < kRequestsPerClient; ++i) {
        std::string body = Event("concurrent", std::to_string(client) + "-" + std::to_string(i));
        Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.setKeepAlive(true);
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
        if (response.getStatus() != 200) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& client : clients) client.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(), kClients * kRequestsPerClient);
  EXPECT_EQ(reader_->execAndGet("SELECT count(DISTINCT distinct_id) FROM events").getInt(),
            kClients * kRequestsPerClient);
  // Group commit: fewer transactions than requests.
  EXPECT_EQ(server_->writer().requests(), static_cast<uint64_t>(kClients * kRequestsPerClient));
  EXPECT_LT(server_->writer().transactions(), server_->writer().requests());
}

TEST_F(IngestServerTest, QueuedConnectionsServedBehindBusyKeepAlive) {
  constexpr int kThreads = 2;
  constexpr int kClients = 5;
  StartServer([](Config& config) { config.ingest.threads = kThreads; });
  BusyClients clients(port_);

  // The first kThreads clients take every pool thread. Each is already sending
  // back to back before the next one connects, so the rest can only wait in
  // the server's queue for a thread.
  for (int i = 0; i < kClients; ++i) {
    clients.Add();
    if (i < kThreads) {
      ASSERT_TRUE(clients.WaitUntilAllServed(std::chrono::seconds(10)))
          << "client " << i << " got no response with a pool thread free";
    }
  }

  // Each served connection is busy all the time, so only a server that ends
  // busy connections while others wait lets the later clients in.
  bool all_served = clients.WaitUntilAllServed(std::chrono::seconds(10));
  std::vector<int> served_before_stop;
  for (size_t i = 0; i < kClients; ++i) served_before_stop.push_back(clients.ok(i));
  clients.Stop();

  EXPECT_TRUE(all_served);
  int total_ok = 0;
  for (size_t i = 0; i < kClients; ++i) {
    EXPECT_GT(served_before_stop[i], 0)
        << "client " << i << " got no response in 10 s while " << kThreads
        << " busy keep-alive clients held the threads";
    EXPECT_EQ(clients.errors(i), 0) << "client " << i << ": " << clients.first_error(i);
    total_ok += clients.ok(i);
  }
  EXPECT_EQ(Count(), total_ok);
}

TEST_F(IngestServerTest, KeepAliveKeptWithoutWaitingConnections) {
  StartServer([](Config& config) { config.ingest.threads = 2; });
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  session.setKeepAlive(true);
  for (int i = 0; i < 5; ++i) {
    std::string body = Event("keep_alive", std::to_string(i));
    Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::string answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
    EXPECT_EQ(response.getStatus(), 200) << answer;
    EXPECT_TRUE(response.getKeepAlive()) << "request " << i << " got Connection: close";
  }
  EXPECT_EQ(Count(), 5);
}

TEST_F(IngestServerTest, OtherProcessReadsWhileIngestWrites) {
  StartServer();
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i) Post("/e/", Event("read_test", std::to_string(i)));
    writing = false;
  });

  // sqlite3 is a second process with its own connection; in WAL mode it reads
  // a consistent snapshot while ingest writes, never "database is locked".
  int reads = 0;
  int last_count = 0;
  while (writing || reads < 3) {
    std::string command = "sqlite3 -bail '" + config_.queue.path +
                          "' 'SELECT count(*) FROM events' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char line[256] = {0};
    std::string output = std::fgets(line, sizeof(line), pipe) != nullptr ? line : "";
    int status = ::pclose(pipe);
    ASSERT_EQ(status, 0) << output;
    int count = std::stoi(output);
    EXPECT_GE(count, last_count);
    last_count = count;
    ++reads;
  }
  writer.join();
  EXPECT_EQ(Count(), 100);
}

TEST_F(IngestServerTest, StopFinishesInFlightRequests) {
  StartServer();
  // A request whose body is still arriving when Stop() begins.
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port_));
  Poco::Net::HTTPRequest request("POST", "/e/", Poco::Net::HTTPMessage::HTTP_1_1);
  std::string body = Event("in_flight", "1");
  request.setContentLength(static_cast<std::streamsize>(body.size()));
  std::ostream& out = session.sendRequest(request);
  out << body.substr(0, 10) << std::flush;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  std::thread stopper([&] { server_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  out << body.substr(10) << std::flush;
  Poco::Net::HTTPResponse response;
  std::string answer;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
  stopper.join();

  EXPECT_EQ(response.getStatus(), 200) << answer;
  EXPECT_EQ(Count(), 1);
  // After Stop the port no longer accepts connections.
  EXPECT_THROW(SendRequest(port_, "GET", "/healthz"), Poco::Exception);
}

}  // namespace
}  // namespace connector

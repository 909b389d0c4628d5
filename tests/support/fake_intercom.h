#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/temp_dir.h"

namespace connector::testing {

// The connection of one request, handed to a FakeResponse::raw writer,
// which writes the response bytes itself.
class RawConnection {
 public:
  RawConnection(Poco::Net::StreamSocket& socket, const std::atomic<bool>& stopping)
      : socket_(socket), stopping_(stopping) {}

  // Sends `bytes`. Returns false once the client has closed the connection
  // or the fake is stopping.
  bool Send(std::string_view bytes);
  // Waits `pause`. Returns false when the fake is stopping.
  bool Pause(std::chrono::milliseconds pause);

 private:
  Poco::Net::StreamSocket& socket_;
  const std::atomic<bool>& stopping_;
};

// One scripted response of the fake Intercom.
struct FakeResponse {
  int status = 202;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // wait this long before responding
  bool reset_connection = false;       // drop the connection (TCP RST) with no response
  // Close the connection right after this response although it promised
  // keep-alive, as a server that drops idle connections does.
  bool close_after_response = false;
  // When set, writes the whole response (status line included) in place of
  // the fields above, after `delay`. The fake closes the connection when it
  // returns. For responses no real server would send.
  std::function<void(RawConnection&)> raw{};

  // `bytes` sent as they are, then the connection closed: a cut-off or
  // hand-made response.
  static FakeResponse Raw(std::string bytes);
  // `head` sent, then `filler` again and again until the client closes the
  // connection: a body without end.
  static FakeResponse Endless(std::string head, std::string filler);
  // `head` sent, then the bytes of `trickled` one at a time with `interval`
  // between them, from the start again after the last, until the client
  // closes the connection.
  static FakeResponse Trickle(std::string head, std::string trickled,
                              std::chrono::milliseconds interval);

  // An Intercom error.list response: {"type": "error.list", "request_id": ...,
  // "errors": [{"code": code, "message": message}]}.
  static FakeResponse Error(int status, const std::string& code, const std::string& message,
                            const std::string& request_id = "req-fake");
  // A POST /contacts/search response listing the given (id, role, email) contacts.
  static FakeResponse Contacts(
      const std::vector<std::tuple<std::string, std::string, std::string>>& contacts);
};

// One request as the fake received it.
struct RecordedRequest {
  std::string method;
  std::string path;                    // the URI as sent, query included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string client_address;          // "127.0.0.1:PORT", one per connection
  int64_t received_at_ms = 0;          // Unix ms, system clock

  // Returns the first header named `name` (case-insensitive), or "".
  std::string Header(const std::string& name) const;
  // Parses the body as a JSON object; throws Poco::Exception when it is not one.
  Poco::JSON::Object::Ptr Json() const;
};

// A real HTTP server on 127.0.0.1 (port chosen by the system) that plays
// Intercom for tests. Each request is recorded, then served by the first
// queued FakeResponse whose path matches, else by the handler (by default
// 202 with an empty body). Thread-safe: the server responds on its own threads
// while the test enqueues and inspects.
class FakeIntercom {
 public:
  using Handler = std::function<FakeResponse(const RecordedRequest&)>;

  enum class Scheme { kHttp, kHttps };

  // With kHttps the server presents a self-signed certificate for
  // 127.0.0.1, generated at construction; ca_file() names it in PEM form.
  explicit FakeIntercom(Scheme scheme = Scheme::kHttp);
  ~FakeIntercom();
  FakeIntercom(const FakeIntercom&) = delete;
  FakeIntercom& operator=(const FakeIntercom&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" (or https), for intercom.base_url.
  std::string base_url() const;
  // The certificate to trust (intercom.ca_file) with kHttps; "" with kHttp.
  const std::string& ca_file() const { return ca_file_; }

  // Queues a response for the next request to `path` (any path when empty).
  void Enqueue(FakeResponse response, const std::string& path = "");
  // Sets the function that responds to every request the queue does not cover.
  void SetHandler(Handler handler);

  std::vector<RecordedRequest> Requests() const;
  // Requests whose path equals `path`.
  std::vector<RecordedRequest> RequestsTo(const std::string& path) const;
  size_t RequestCount() const;
  // Returns the number of open connections, idle keep-alive ones included.
  int OpenConnections() const;
  // Waits until at least `count` requests arrived; false on timeout.
  bool WaitForRequests(size_t count, std::chrono::milliseconds timeout) const;

  // Stops accepting connections; called by the destructor.
  void Stop();

 private:
  class RequestHandler;
  class HandlerFactory;

  FakeResponse Answer(const RecordedRequest& request);
  // Keeps a detached socket's object (not its connection, which is closed)
  // until Stop() has joined the server's threads. Otherwise the acceptor
  // thread may drop the last reference, and ThreadSanitizer cannot see the
  // order that Poco's reference count (not built with it) gives the
  // connection thread's last use and that delete.
  void KeepUntilStop(const Poco::Net::StreamSocket& socket);

  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::atomic<bool> stopping_{false};  // ends the raw writers when the fake stops
  std::vector<Poco::Net::StreamSocket> detached_sockets_;
  std::vector<RecordedRequest> requests_;
  std::deque<std::pair<std::string, FakeResponse>> queue_;
  Handler handler_;
  // The server's own pool, so Stop() can wait for every connection thread:
  // Poco's default pool is never joined, and a thread still sending a
  // delayed response at exit uses Poco's statics after they are destroyed.
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  uint16_t port_ = 0;
  Scheme scheme_;
  TempDir tls_dir_;
  std::string ca_file_;
};

}  // namespace connector::testing

#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace connector {

// Ends a request that outlives its deadline by shutting its socket down
// (shutdown(2); the delivery thread still closes it). That wakes the
// delivery thread wherever Poco or OpenSSL block on the socket. A socket
// timeout cannot do this: it bounds each wait for bytes, so a server that
// sends one byte a second keeps a request open without end.
//
// The session's sockets report each descriptor they open and close (see
// MakeWatchedSession), so the watchdog never shuts down a descriptor number
// that the process has since given to another file.
//
// One watchdog serves one PocoTransport. Arm(), Disarm() and PeerClosed()
// are called from the delivery thread, Abort() from any thread; the
// watchdog's own thread cuts connections at their deadline.
class RequestWatchdog {
 public:
  // Reason the watchdog cut the current request's connection, if it did.
  enum class Cut { kNone, kDeadline, kAbort };

  RequestWatchdog();
  ~RequestWatchdog();
  RequestWatchdog(const RequestWatchdog&) = delete;
  RequestWatchdog& operator=(const RequestWatchdog&) = delete;

  // Starts watching one request, which must end by `deadline`.
  void Arm(std::chrono::steady_clock::time_point deadline);
  // Stops watching the request and returns whether its connection was cut.
  Cut Disarm();
  // Cuts the open connection now, and every later one as soon as it opens,
  // because the worker is stopping.
  void Abort();
  bool aborted() const;
  // Whether a read since Arm() found the end of the stream: the server (or
  // a cut) closed the connection.
  bool PeerClosed() const { return peer_closed_; }

  // Called by the watched sockets on the delivery thread.
  void OnSocketOpened(int fd);
  void OnSocketClosing();
  void OnEndOfStream() { peer_closed_ = true; }

 private:
  void Run();
  // REQUIRES: mutex_ held.
  void CutLocked(Cut reason);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int fd_ = -1;                        // the session's open socket, or -1
  bool armed_ = false;
  std::chrono::steady_clock::time_point deadline_;
  Cut cut_ = Cut::kNone;               // for the request armed last
  bool aborted_ = false;
  bool stopping_ = false;
  std::atomic<bool> peer_closed_{false};
  std::thread thread_;
};

// Creates a session to the host and port of `uri`, over TLS with
// `tls_context` when the scheme is https, whose sockets report to
// `watchdog`.
std::unique_ptr<Poco::Net::HTTPClientSession> MakeWatchedSession(
    const Poco::URI& uri, Poco::Net::Context::Ptr tls_context,
    const std::shared_ptr<RequestWatchdog>& watchdog);

}  // namespace connector

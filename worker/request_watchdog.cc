#include "worker/request_watchdog.h"

#include <Poco/AutoPtr.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <sys/socket.h>

namespace connector {
namespace {

// A TCP socket that reports to the watchdog each descriptor it opens and
// closes, and each read that finds the end of the stream. Poco opens the
// descriptor in init(), on every connect and reconnect, and closes it in
// close(), so the watchdog always has the current one.
class WatchedSocketImpl final : public Poco::Net::StreamSocketImpl {
 public:
  explicit WatchedSocketImpl(std::shared_ptr<RequestWatchdog> watchdog)
      : watchdog_(std::move(watchdog)) {}

  void close() override {
    watchdog_->OnSocketClosing();
    StreamSocketImpl::close();
  }

  int receiveBytes(void* buffer, int length, int flags) override {
    int received = StreamSocketImpl::receiveBytes(buffer, length, flags);
    if (received == 0 && length > 0) watchdog_->OnEndOfStream();
    return received;
  }

 protected:
  // The base destructor closes the descriptor without the virtual close(),
  // so close here, while this class can still tell the watchdog.
  ~WatchedSocketImpl() override { close(); }

  void init(int af) override {
    StreamSocketImpl::init(af);
    watchdog_->OnSocketOpened(sockfd());
  }

 private:
  std::shared_ptr<RequestWatchdog> watchdog_;
};

// TLS over a WatchedSocketImpl. OpenSSL reads the descriptor itself, so the
// end of the stream is noted here, where a clean TLS close returns 0.
class WatchedSecureSocketImpl final : public Poco::Net::SecureStreamSocketImpl {
 public:
  // The base constructor takes its own reference to the inner socket, so
  // the temporary AutoPtr drops the one that `new` made.
  WatchedSecureSocketImpl(const std::shared_ptr<RequestWatchdog>& watchdog,
                          Poco::Net::Context::Ptr context)
      : SecureStreamSocketImpl(Poco::AutoPtr<WatchedSocketImpl>(new WatchedSocketImpl(watchdog)).get(),
                               context),
        watchdog_(watchdog) {}

  int receiveBytes(void* buffer, int length, int flags) override {
    int received = SecureStreamSocketImpl::receiveBytes(buffer, length, flags);
    if (received == 0 && length > 0) watchdog_->OnEndOfStream();
    return received;
  }

 private:
  std::shared_ptr<RequestWatchdog> watchdog_;
};

// Gives access to SecureStreamSocket's protected constructor from an impl.
class WatchedSecureSocket final : public Poco::Net::SecureStreamSocket {
 public:
  explicit WatchedSecureSocket(Poco::Net::SocketImpl* impl) : SecureStreamSocket(impl) {}
};

}  // namespace

RequestWatchdog::RequestWatchdog() : thread_([this] { Run(); }) {}

RequestWatchdog::~RequestWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void RequestWatchdog::Arm(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
    deadline_ = deadline;
    cut_ = Cut::kNone;
    peer_closed_ = false;
    if (aborted_) CutLocked(Cut::kAbort);
  }
  changed_.notify_all();
}

RequestWatchdog::Cut RequestWatchdog::Disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = false;
  return cut_;
}

void RequestWatchdog::Abort() {
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = true;
  CutLocked(Cut::kAbort);
}

bool RequestWatchdog::aborted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return aborted_;
}

void RequestWatchdog::OnSocketOpened(int fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  fd_ = fd;
  // Poco reconnects inside a request when a write to a kept-alive connection
  // fails. A request already cut must not go on over the new connection.
  if (aborted_ || (armed_ && cut_ != Cut::kNone)) ::shutdown(fd_, SHUT_RDWR);
}

void RequestWatchdog::OnSocketClosing() {
  std::lock_guard<std::mutex> lock(mutex_);
  fd_ = -1;
}

void RequestWatchdog::CutLocked(Cut reason) {
  if (cut_ == Cut::kNone) cut_ = reason;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void RequestWatchdog::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!armed_ || cut_ != Cut::kNone) {
      changed_.wait(lock);
    } else if (std::chrono::steady_clock::now() < deadline_) {
      changed_.wait_until(lock, deadline_);
    } else {
      CutLocked(Cut::kDeadline);
    }
  }
}

std::unique_ptr<Poco::Net::HTTPClientSession> MakeWatchedSession(
    const Poco::URI& uri, Poco::Net::Context::Ptr tls_context,
    const std::shared_ptr<RequestWatchdog>& watchdog) {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (uri.getScheme() == "https") {
    WatchedSecureSocket socket(new WatchedSecureSocketImpl(watchdog, tls_context));
    session = std::make_unique<Poco::Net::HTTPSClientSession>(socket);
  } else {
    Poco::Net::StreamSocket socket(new WatchedSocketImpl(watchdog));
    session = std::make_unique<Poco::Net::HTTPClientSession>(socket);
  }
  // The sockets are not connected yet, so the session can still take its
  // host. It connects on the first request.
  session->setHost(uri.getHost());
  session->setPort(uri.getPort());
  return session;
}

}  // namespace connector

#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace connector {

// Raised when a request body cannot be read to its end. The bytes left on the
// connection cannot be distinguished from the next request, so the handler
// responds and closes the connection. The message names the problem and is
// sent to the client as is.
class RequestBodyError : public std::runtime_error {
 public:
  enum class Kind {
    kIncomplete,      // the client closed before the end of the body: HTTP 400
    kInvalidChunked,  // the chunked encoding is malformed: HTTP 400
    kTimedOut,        // the body did not arrive within request_timeout: HTTP 408
  };

  RequestBodyError(Kind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Returns why the headers that frame the body of `request` could be read
// differently by a proxy in front of ingest, or "" when they cannot. Rejected:
// Content-Length or Transfer-Encoding sent more than once, both sent,
// a Transfer-Encoding other than "chunked", and a Content-Length that is not
// a decimal number.
std::string FindFramingProblem(const Poco::Net::HTTPServerRequest& request);

// Reads the body of `request`, framed by Content-Length or by chunked
// Transfer-Encoding, and returns it. A request with neither has no body.
// Throws CaptureError(kTooLarge) as soon as the body passes `max_bytes`, and
// RequestBodyError when the body ends early, its chunked encoding is invalid
// or it is not complete `timeout` after the call. `request` must be a
// Poco::Net::HTTPServerRequestImpl.
std::string ReadRequestBody(Poco::Net::HTTPServerRequest& request, int64_t max_bytes,
                            std::chrono::milliseconds timeout);

// Shuts down the sending side of the request's connection, then reads and
// discards what the client sends until it closes, for at most `max_time` and
// 64 MiB. A close with unread data makes the kernel send RST, which can make
// the client lose the response sent just before.
void DiscardUntilClientCloses(Poco::Net::HTTPServerRequest& request,
                              std::chrono::milliseconds max_time);

}  // namespace connector

#pragma once

#include <stdexcept>
#include <string>

namespace connector {

// Raised by the capture decoder and the event normaliser when a request's
// content is unusable. The message names the value that is wrong and how to
// fix it, and never contains a project token, so the HTTP server can send it
// to the client and log it as is. `kind` selects the HTTP status.
class CaptureError : public std::runtime_error {
 public:
  enum class Kind {
    kInvalid,       // malformed or incomplete data: HTTP 400
    kUnauthorized,  // missing or unknown project token: HTTP 401
    kTooLarge,      // over a size or count limit: HTTP 413
  };

  CaptureError(Kind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}

  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace connector

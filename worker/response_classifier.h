#pragma once

#include <string>

#include "worker/http_transport.h"

namespace connector {

// The meaning of a POST /events response for the event. The names match the
// `outcome` values of delivery_attempts, except kConflict, which the worker
// turns into a contact search or a failure.
enum class Verdict {
  kDelivered,       // 2xx with an empty body or a JSON object that is not an error.list
  kRetry,           // 408, 5xx, network error, timeout, or a 2xx with any other body
  kRateLimited,     // 429
  kPaused,          // 3xx, 401, 403, or an unauthorized / token_* error code
  kContactMissing,  // 404 not_found
  kConflict,        // 409: several contacts share the email
  kFailed,          // any other response
};

const char* VerdictName(Verdict verdict);

struct Classification {
  Verdict verdict = Verdict::kFailed;
  // From Intercom's error.list body, when there is one.
  std::string request_id;
  std::string error_code;
  std::string error_message;
  // One line for the row's `reason` and the log, such as
  // "HTTP 422 parameter_invalid: Name too long", "timed out: ..." or, when
  // the body has no Intercom error, "HTTP 400 with body "..."" quoting its
  // start with control characters escaped.
  std::string summary;
};

// Maps one response (or network error) to a verdict. One table, no state.
Classification Classify(const HttpResponse& response);

}  // namespace connector

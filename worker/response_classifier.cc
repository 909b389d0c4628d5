#include "worker/response_classifier.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

namespace connector {
namespace {

// Fills request_id, error_code and error_message from an error.list body;
// leaves them empty for any other body.
void ParseErrorBody(const std::string& body, Classification& out) {
  if (body.empty()) return;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(body);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return;
    Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    out.request_id = object->optValue<std::string>("request_id", "");
    Poco::JSON::Array::Ptr errors = object->getArray("errors");
    if (errors.isNull() || errors->size() == 0) return;
    Poco::JSON::Object::Ptr first = errors->getObject(0);
    if (first.isNull()) return;
    out.error_code = first->optValue<std::string>("code", "");
    out.error_message = first->optValue<std::string>("message", "");
  } catch (const Poco::Exception&) {
    // Not JSON (a proxy's HTML page, say): the status alone decides.
  }
}

bool IsAuthCode(const std::string& code) {
  return code == "unauthorized" || code.rfind("token_", 0) == 0;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDelivered: return "delivered";
    case Verdict::kRetry: return "retry";
    case Verdict::kRateLimited: return "rate_limited";
    case Verdict::kPaused: return "paused";
    case Verdict::kContactMissing: return "contact_missing";
    case Verdict::kConflict: return "failed";
    case Verdict::kFailed: return "failed";
  }
  return "failed";
}

Classification Classify(const HttpResponse& response) {
  Classification out;
  if (response.status == 0) {
    out.verdict = Verdict::kRetry;
    out.summary = response.error.empty() ? "no response from Intercom" : response.error;
    return out;
  }

  ParseErrorBody(response.body, out);
  out.summary = "HTTP " + std::to_string(response.status);
  if (!out.error_code.empty()) out.summary += " " + out.error_code;
  if (!out.error_message.empty()) out.summary += ": " + out.error_message;

  int status = response.status;
  if (status >= 200 && status < 300) {
    out.verdict = Verdict::kDelivered;
  } else if (status == 401 || status == 403 || IsAuthCode(out.error_code)) {
    out.verdict = Verdict::kPaused;
  } else if (status == 429) {
    out.verdict = Verdict::kRateLimited;
  } else if (status == 408 || status >= 500) {
    out.verdict = Verdict::kRetry;
  } else if (status == 404 && (out.error_code == "not_found" || out.error_code.empty())) {
    out.verdict = Verdict::kContactMissing;
  } else if (status == 409) {
    out.verdict = Verdict::kConflict;
  } else {
    out.verdict = Verdict::kFailed;
  }
  return out;
}

}  // namespace connector

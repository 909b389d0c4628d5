#include "worker/response_classifier.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/UTF8Encoding.h>

#include <algorithm>
#include <cstdio>

namespace connector {
namespace {

// Bytes of a body or header quoted in a reason.
constexpr size_t kExcerptBytes = 200;

// Kind of content in a response body.
enum class BodyKind {
  kEmpty,        // nothing, or only whitespace
  kErrorList,    // Intercom's {"type": "error.list", ...}, or an object with "errors"
  kJsonObject,   // any other JSON object
  kOther,        // anything else: HTML, text, broken or non-object JSON, too long to read
};

bool IsBlank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// Returns the length of the UTF-8 sequence that `lead` starts, or 0 when
// `lead` cannot start one.
size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

void AppendHexEscape(unsigned char byte, std::string& out) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
  out += escaped;
}

// Escapes the first `end` bytes of `text` for a reason, which should stay
// one readable line whatever a server sent: control characters, backslashes
// and bytes that are not valid UTF-8 become escape sequences.
std::string EscapePrefix(const std::string& text, size_t end) {
  std::string out;
  size_t i = 0;
  while (i < end) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = Utf8SequenceLength(byte);
    if (length > 1 && i + length <= end &&
        Poco::UTF8Encoding::isLegal(reinterpret_cast<const unsigned char*>(text.data() + i),
                                    static_cast<int>(length))) {
      out.append(text, i, length);
      i += length;
      continue;
    }
    switch (byte) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte >= 0x7f) {
          AppendHexEscape(byte, out);
        } else {
          out += static_cast<char>(byte);
        }
    }
    ++i;
  }
  return out;
}

// Quotes the first kExcerptBytes bytes of a body or header, escaped.
std::string Opening(const std::string& text) {
  std::string quoted = "\"";
  quoted += EscapePrefix(text, std::min(text.size(), kExcerptBytes));
  quoted += '"';
  return quoted;
}

// Quotes the start of a body or header, with its size when it is longer.
std::string Excerpt(const std::string& text) {
  std::string out = Opening(text);
  if (text.size() > kExcerptBytes) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// Escapes an error code or message from a response body, cut after
// kExcerptBytes bytes, so a hostile server cannot add lines to the log or
// flood the row's reason.
std::string Clean(const std::string& text) {
  size_t end = std::min(text.size(), kExcerptBytes);
  return EscapePrefix(text, end) + (text.size() > end ? "..." : "");
}

// Classifies the body and fills request_id, error_code and error_message from
// an error.list. A body cut at kMaxResponseBodyBytes is not parsed.
BodyKind ReadBody(const HttpResponse& response, Classification& out) {
  if (response.body_too_large) return BodyKind::kOther;
  if (IsBlank(response.body)) return BodyKind::kEmpty;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(response.body);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return BodyKind::kOther;
    Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
    out.request_id = object->optValue<std::string>("request_id", "");
    bool error_list = object->optValue<std::string>("type", "") == "error.list";
    Poco::JSON::Array::Ptr errors = object->getArray("errors");
    if (!errors.isNull() && errors->size() > 0) {
      error_list = true;
      Poco::JSON::Object::Ptr first = errors->getObject(0);
      if (!first.isNull()) {
        out.error_code = first->optValue<std::string>("code", "");
        out.error_message = first->optValue<std::string>("message", "");
      }
    }
    return error_list ? BodyKind::kErrorList : BodyKind::kJsonObject;
  } catch (const Poco::Exception&) {
    // Not JSON, such as a proxy's HTML page.
    return BodyKind::kOther;
  }
}

bool IsAuthCode(const std::string& code) {
  return code == "unauthorized" || code.rfind("token_", 0) == 0;
}

// Returns "code: message" from an error.list, escaped, or "" when it has
// neither.
std::string ErrorDetail(const Classification& out) {
  std::string detail;
  if (!out.error_code.empty()) detail += Clean(out.error_code);
  if (!out.error_message.empty()) {
    detail += detail.empty() ? Clean(out.error_message) : ": " + Clean(out.error_message);
  }
  return detail;
}

// Builds the summary of a 2xx response, which counts as delivered only when
// its body is empty or a JSON object that is not an error.list.
std::string SuccessSummary(const HttpResponse& response, BodyKind body,
                           const Classification& out) {
  std::string summary = "HTTP " + std::to_string(response.status);
  std::string detail = ErrorDetail(out);
  if (response.body_too_large) {
    return summary + " with an unexpected body over " + std::to_string(kMaxResponseBodyBytes) +
           " bytes, starting " + Opening(response.body);
  }
  if (body == BodyKind::kErrorList && !detail.empty()) {
    return summary + " but the body is an Intercom error, " + detail;
  }
  if (body == BodyKind::kErrorList || body == BodyKind::kOther) {
    return summary + " with an unexpected body " + Excerpt(response.body);
  }
  return summary;
}

// Builds the summary of any other response: Intercom's error code and
// message when the body has them, else where a redirect points, else the
// start of the body.
std::string FailureSummary(const HttpResponse& response, const Classification& out) {
  std::string summary = "HTTP " + std::to_string(response.status);
  std::string detail = ErrorDetail(out);
  if (!detail.empty()) return summary + " " + detail;
  std::string location = response.Header("Location");
  if (response.status >= 300 && response.status < 400 && !location.empty()) {
    return summary + " redirect to " + Excerpt(location) +
           ", which the worker does not follow; check intercom.base_url";
  }
  if (response.body_too_large) {
    return summary + " with a body over " + std::to_string(kMaxResponseBodyBytes) +
           " bytes, starting " + Opening(response.body);
  }
  if (!IsBlank(response.body)) return summary + " with body " + Excerpt(response.body);
  return summary;
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

  BodyKind body = ReadBody(response, out);
  int status = response.status;
  if (status >= 200 && status < 300) {
    // Intercom accepts an event with 202 and an empty body. A 2xx carrying
    // an error, an HTML page (a captive portal or proxy) or more than
    // kMaxResponseBodyBytes did not come from Intercom's success path, so
    // the event is sent again. Intercom stores a repeat with the same
    // created_at once.
    bool accepted = !response.body_too_large &&
                    (body == BodyKind::kEmpty || body == BodyKind::kJsonObject);
    out.verdict = accepted ? Verdict::kDelivered : Verdict::kRetry;
    out.summary = SuccessSummary(response, body, out);
    return out;
  }

  out.summary = FailureSummary(response, out);
  if (status >= 300 && status < 400) {
    // Intercom's API description lists no redirect for POST /events, so one
    // comes from a wrong base_url or a proxy and would fail every event
    // alike. Delivery pauses instead, and a probe shows when it works again.
    out.verdict = Verdict::kPaused;
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

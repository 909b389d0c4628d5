#include "ingest/request_handlers.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>

#include <array>
#include <chrono>
#include <istream>
#include <sstream>

#include "common/capture_decoder.h"
#include "common/log.h"
#include "ingest/request_body.h"

namespace connector {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// Seconds a client should wait before retrying after a 503. posthog-node
// retries 3 s apart regardless of this header; browsers and curl may honour it.
constexpr const char* kRetryAfterSeconds = "1";

const char* kCaptureRoutes = "/batch/, /e/, /i/v0/e/, /capture/, /track/ or /webhook";

// Where a request without a project token can put one. Every route also
// reads ?token= and ?api_key= from the URL (CaptureContext::fallback_token).
// PostHog's webhook destination sends no token in its default body, so the
// URL comes first for /webhook.
const char* kCaptureTokenAdvice =
    "send it as api_key, token, $token or properties.token, or add ?token=<project token> to "
    "the URL";
const char* kWebhookTokenAdvice =
    "add ?token=<project token> to the webhook URL, or send it as api_key, token, $token or "
    "properties.token in the event object";

// A rejected request: the status and the JSON error fields sent back.
struct Rejection {
  HTTPResponse::HTTPStatus status;
  std::string type;  // PostHog's error "type", such as "validation_error"
  std::string code;  // machine-readable code, such as "invalid_payload"
  std::string detail;
};

Rejection FromRequestBodyError(const RequestBodyError& error) {
  switch (error.kind()) {
    case RequestBodyError::Kind::kIncomplete:
      return {HTTPResponse::HTTP_BAD_REQUEST, "validation_error", "incomplete_body", error.what()};
    case RequestBodyError::Kind::kTimedOut:
      return {HTTPResponse::HTTP_REQUEST_TIMEOUT, "validation_error", "request_timeout",
              error.what()};
    case RequestBodyError::Kind::kInvalidChunked:
      break;
  }
  return {HTTPResponse::HTTP_BAD_REQUEST, "validation_error", "invalid_chunked_encoding",
          error.what()};
}

Rejection FromCaptureError(const CaptureError& error) {
  switch (error.kind()) {
    case CaptureError::Kind::kUnauthorized:
      return {HTTPResponse::HTTP_UNAUTHORIZED, "authentication_error", "invalid_api_key",
              error.what()};
    case CaptureError::Kind::kTooLarge:
      return {HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "validation_error",
              "payload_too_large", error.what()};
    case CaptureError::Kind::kInvalid:
      break;
  }
  return {HTTPResponse::HTTP_BAD_REQUEST, "validation_error", "invalid_payload", error.what()};
}

std::string JsonText(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

// Limits on reading the rest of a body after a 413. Past them the connection
// closes with the data unread, so a client that keeps sending cannot hold a
// pool thread.
constexpr int64_t kMaxDiscardBytes = 64 * 1024 * 1024;
constexpr std::chrono::seconds kMaxDiscardTime{5};
// Shorter after a 408, because a client that sent too slowly would otherwise
// keep the thread for kMaxDiscardTime more.
constexpr std::chrono::seconds kMaxDiscardTimeAfterTimeout{1};

// Reads and discards what is left of the request body, after the response
// has been sent and flushed. Closing a socket with unread data in its receive
// buffer makes the kernel send RST instead of FIN. A client that is still
// writing the body, or has not read the response yet, then gets "connection
// reset" instead of the response. Stops at the end of the body, when the
// client closes, or after kMaxDiscardBytes or kMaxDiscardTime.
void DiscardRestOfBody(HTTPServerRequest& request) {
  // Without Content-Length or chunked encoding there is no body, and Poco's
  // stream would read until the client closes.
  if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return;
  // More than kMaxDiscardBytes is left, so the connection cannot end cleanly anyway.
  if (request.getContentLength64() > kMaxDiscardBytes) return;
  auto* server_request = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (server_request == nullptr) return;
  Poco::Net::StreamSocket& socket = server_request->socket();

  // FIN now, so the client sees the end of the response at once, and a
  // client that stopped sending when the 413 arrived can close its side,
  // which ends the loop below early. It fails only when the client is gone, and
  // then nothing is left to read.
  try {
    socket.shutdownSend();
  } catch (const Poco::Exception&) {
    return;
  }

  auto deadline = std::chrono::steady_clock::now() + kMaxDiscardTime;
  std::istream& body = request.stream();
  std::array<char, 4096> buffer;
  int64_t discarded = 0;
  while (discarded < kMaxDiscardBytes) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    socket.setReceiveTimeout(Poco::Timespan(left.count()));
    // peek() refills the stream's buffer with one receive for a Content-Length
    // body, which waits at most `left`. readsome() then takes only what is
    // buffered. A timeout or a reset sets badbit, and peek() returns EOF.
    // NOTE: a chunked body's size lines can take several receives per peek(),
    // so a client that sends them a byte at a time can pass the deadline.
    if (body.peek() == std::char_traits<char>::eof()) break;
    discarded += body.readsome(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  }
}

// Largest unread body, by Content-Length, that a rejection reads and discards
// before it responds, so the client can send its next request on the same
// connection. A rejection of a larger or chunked body closes the connection.
constexpr int64_t kMaxDrainBytes = 64 * 1024;

bool HasBody(const HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() ||
         (request.hasContentLength() && request.getContentLength64() > 0);
}

// Reads and discards a body of at most kMaxDrainBytes before the response is
// sent. Returns true when the whole body was read, so the connection can serve
// the next request. Returns false for a larger or chunked body, and when the
// client closes or times out before sending all of it.
bool DrainSmallBody(HTTPServerRequest& request) {
  if (request.getChunkedTransferEncoding() || !request.hasContentLength()) return false;
  int64_t declared = request.getContentLength64();
  if (declared > kMaxDrainBytes) return false;
  std::array<char, 4096> buffer;
  std::istream& in = request.stream();
  int64_t drained = 0;
  while (in && drained < declared) {
    in.read(buffer.data(), buffer.size());
    drained += in.gcount();
  }
  return drained == declared;
}

std::string StripTrailingSlash(std::string path) {
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Handles one HTTP request; Poco creates one per request on an HTTP thread.
class IngestRequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  IngestRequestHandler(const IngestContext& context, Route route)
      : context_(context), route_(route) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override;

 private:
  void HandleCapture(HTTPServerRequest& request, HTTPServerResponse& response,
                     const std::string& path, const Poco::URI::QueryParameters& query);
  void HandleHealth(HTTPServerRequest& request, HTTPServerResponse& response);
  void Reject(HTTPServerRequest& request, HTTPServerResponse& response,
              const Rejection& rejection);
  void DiscardUnreadBody(HTTPServerRequest& request, HTTPServerResponse& response);
  void SetCorsHeaders(const HTTPServerRequest& request, HTTPServerResponse& response);

  const IngestContext& context_;
  Route route_;
  std::string path_;  // the request path without its query, for logs
  bool body_read_ = false;  // set once the whole body was read, or discarded unread
  // Set while the body is read, and left set when reading it fails, because
  // the bytes left on the connection can then not be distinguished from the
  // next request. A rejection then closes the connection.
  bool framing_lost_ = false;
};

std::string QueryValue(const Poco::URI::QueryParameters& query, const std::string& name) {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return "";
}

bool HasQueryValue(const Poco::URI::QueryParameters& query, const std::string& name) {
  for (const auto& entry : query) {
    if (entry.first == name) return true;
  }
  return false;
}

void IngestRequestHandler::handleRequest(HTTPServerRequest& request,
                                         HTTPServerResponse& response) {
  // Poco keeps a keep-alive connection on its pool thread until the client
  // closes it or idles. So with more busy clients than threads, the others
  // would wait in the server's queue for as long as the busy ones keep
  // sending. While a connection waits, this one closes after its response.
  // Its thread then takes the waiting connection, and the client reconnects
  // behind it.
  if (context_.stopping.load() || context_.server->queuedConnections() > 0) {
    response.setKeepAlive(false);
  }

  // Checked first, because every other rejection keeps the connection open
  // when it can, and here the next request's start is unknown.
  std::string framing_problem = FindFramingProblem(request);
  if (!framing_problem.empty()) {
    path_ = request.getURI().substr(0, request.getURI().find('?'));
    framing_lost_ = true;
    Reject(request, response,
           {HTTPResponse::HTTP_BAD_REQUEST, "validation_error", "invalid_framing",
            framing_problem});
    return;
  }

  std::string path;
  Poco::URI::QueryParameters query;
  try {
    Poco::URI uri(request.getURI());
    path = StripTrailingSlash(uri.getPath());
    path_ = uri.getPath();
    query = uri.getQueryParameters();
  } catch (const Poco::Exception&) {
    Reject(request, response,
           {HTTPResponse::HTTP_BAD_REQUEST, "validation_error", "invalid_uri",
            "request URI is not valid; percent-encode the query string"});
    return;
  }

  try {
    switch (route_) {
      case Route::kCapture:
      case Route::kWebhook:
        HandleCapture(request, response, path, query);
        return;
      case Route::kHealth:
        HandleHealth(request, response);
        return;
      case Route::kNotFound:
        break;
    }
    Reject(request, response,
           {HTTPResponse::HTTP_NOT_FOUND, "validation_error", "not_found",
            "no route for " + path + "; send events to " + kCaptureRoutes});
  } catch (const RequestBodyError& error) {
    Reject(request, response, FromRequestBodyError(error));
  } catch (const CaptureError& error) {
    Reject(request, response, FromCaptureError(error));
  } catch (const std::exception& error) {
    // A bug or resource exhaustion: the request failed, the server stays up.
    log::Error("request_failed", {{"error", error.what()},
                                  {"client", request.clientAddress().toString()},
                                  {"path", path}});
    if (!response.sent()) {
      Reject(request, response,
             {HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "server_error", "internal_error",
              "intercom-ingest failed to handle the request; nothing was stored, retry later"});
    }
  }
}

void IngestRequestHandler::HandleCapture(HTTPServerRequest& request,
                                         HTTPServerResponse& response, const std::string& path,
                                         const Poco::URI::QueryParameters& query) {
  SetCorsHeaders(request, response);
  const std::string& method = request.getMethod();
  bool get_allowed = route_ == Route::kCapture && (path == "/e" || path == "/capture");

  if (method != "POST") DiscardUnreadBody(request, response);

  // CORS preflight from browsers running posthog-js on another origin.
  if (method == "OPTIONS") {
    response.set("Access-Control-Allow-Methods", get_allowed ? "GET, POST, OPTIONS" : "POST, OPTIONS");
    std::string requested = request.get("Access-Control-Request-Headers", "");
    response.set("Access-Control-Allow-Headers", requested.empty() ? "Content-Type" : requested);
    response.set("Access-Control-Max-Age", "86400");
    response.setStatusAndReason(HTTPResponse::HTTP_OK);
    response.setContentLength(0);
    response.send();
    return;
  }

  // The body: POST content, or the data= query parameter of a GET.
  std::string body;
  if (method == "POST") {
    framing_lost_ = true;
    body = ReadRequestBody(request, context_.config.max_body_bytes,
                           context_.config.request_timeout);
    framing_lost_ = false;
    body_read_ = true;
    if (body.empty() && HasQueryValue(query, "data")) body = QueryValue(query, "data");
  } else if (method == "GET" && get_allowed) {
    if (!HasQueryValue(query, "data")) {
      throw CaptureError(CaptureError::Kind::kInvalid,
                         "GET " + path + " has no data query parameter; send ?data=<events> "
                         "or POST the events");
    }
    body = QueryValue(query, "data");
    if (static_cast<int64_t>(body.size()) > context_.config.max_body_bytes) {
      throw CaptureError(CaptureError::Kind::kTooLarge,
                         "data query parameter is larger than max_body_bytes=" +
                             std::to_string(context_.config.max_body_bytes) + "; POST the events");
    }
  } else {
    response.set("Allow", get_allowed ? "GET, POST, OPTIONS" : "POST, OPTIONS");
    Reject(request, response,
           {HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "validation_error", "method_not_allowed",
            "method " + method + " is not allowed on " + path + "; use POST" +
                (get_allowed ? " or GET with ?data=" : "")});
    return;
  }
  if (body.empty()) {
    throw CaptureError(CaptureError::Kind::kInvalid,
                       "request body is empty; send events as JSON, e.g. "
                       "{\"api_key\": \"<token>\", \"event\": \"signed_up\", \"distinct_id\": \"u1\"}");
  }

  // Decode and normalise on this thread, so the writer only writes.
  CaptureEncoding encoding{request.getContentType(), request.get("Content-Encoding", ""),
                           QueryValue(query, "compression")};
  std::string json_text =
      DecodeCaptureBody(body, encoding, context_.config.max_decompressed_bytes);
  body.clear();
  body.shrink_to_fit();

  CaptureContext capture_context;
  capture_context.received_at_ms = context_.clock->NowMs();
  capture_context.fallback_token = QueryValue(query, "token");
  if (capture_context.fallback_token.empty()) {
    capture_context.fallback_token = QueryValue(query, "api_key");
  }
  capture_context.max_events = context_.config.max_events_per_request;
  std::vector<QueuedEvent> events;
  if (route_ == Route::kWebhook) {
    events.push_back(context_.normalizer.ParseWebhook(json_text, capture_context));
  } else {
    events = context_.normalizer.ParseCapture(json_text, capture_context);
  }
  CheckProjectTokens(events, context_.config.api_keys,
                     route_ == Route::kWebhook ? kWebhookTokenAdvice : kCaptureTokenAdvice);

  // Respond only after the commit, because a 200 promises the events are durable.
  size_t event_count = events.size();
  auto commit_started = std::chrono::steady_clock::now();
  CommitOutcome outcome = context_.writer->Commit(std::move(events));
  context_.metrics->commit_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_started).count());
  if (!outcome.committed) {
    response.set("Retry-After", kRetryAfterSeconds);
    Reject(request, response,
           {HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "server_error", "queue_unavailable",
            "the queue database cannot take the write now (" + outcome.error +
                "); nothing was stored, retry later"});
    return;
  }
  context_.metrics->requests_accepted.Increment();
  context_.metrics->events_accepted.Increment(static_cast<uint64_t>(outcome.added));
  context_.metrics->events_duplicate.Increment(event_count - static_cast<size_t>(outcome.added));
  log::Debug("accepted", {{"client", request.clientAddress().toString()},
                          {"path", path},
                          {"events", event_count},
                          {"added", outcome.added}});

  if (QueryValue(query, "beacon") == "1") {
    response.setStatusAndReason(HTTPResponse::HTTP_NO_CONTENT);
    response.setContentLength(0);
    response.send();
    return;
  }
  Poco::JSON::Object answer;
  answer.set("status", 1);
  std::string text = JsonText(answer);
  response.setStatusAndReason(HTTPResponse::HTTP_OK);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  response.send() << text;
}

void IngestRequestHandler::HandleHealth(HTTPServerRequest& request,
                                        HTTPServerResponse& response) {
  DiscardUnreadBody(request, response);
  if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
    response.set("Allow", "GET, HEAD");
    Reject(request, response,
           {HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "validation_error", "method_not_allowed",
            "method " + request.getMethod() + " is not allowed on /healthz; use GET"});
    return;
  }
  CommitOutcome outcome = context_.writer->Commit({});
  Poco::JSON::Object answer;
  if (outcome.committed) {
    answer.set("status", "ok");
    response.setStatusAndReason(HTTPResponse::HTTP_OK);
  } else {
    answer.set("status", "unavailable");
    answer.set("error", outcome.error);
    response.setStatusAndReason(HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
    response.set("Retry-After", kRetryAfterSeconds);
    log::Warn("health_check_failed", {{"error", outcome.error}});
  }
  std::string text = JsonText(answer);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  if (request.getMethod() == "HEAD") {
    response.send();
  } else {
    response.send() << text;
  }
}

// A GET, HEAD or OPTIONS request may carry a body that its route does not
// read. Poco would parse those bytes as the next request on the connection,
// which lets a client hide a request there, so a small body is read and
// discarded, and any other closes the connection after the response.
void IngestRequestHandler::DiscardUnreadBody(HTTPServerRequest& request,
                                             HTTPServerResponse& response) {
  if (body_read_ || !HasBody(request)) return;
  if (!DrainSmallBody(request)) response.setKeepAlive(false);
  body_read_ = true;
}

void IngestRequestHandler::Reject(HTTPServerRequest& request, HTTPServerResponse& response,
                                  const Rejection& rejection) {
  context_.metrics->requests_rejected.WithLabels({rejection.code}).Increment();
  int64_t dropped = context_.rejection_log.Admit(context_.clock->NowMs());
  if (dropped >= 0) {
    log::Warn("rejected", {{"status", static_cast<int>(rejection.status)},
                           {"code", rejection.code},
                           {"reason", rejection.detail},
                           {"client", request.clientAddress().toString()},
                           {"method", request.getMethod()},
                           {"path", path_},
                           {"earlier_rejections_not_logged", dropped}});
  }

  Poco::JSON::Object answer;
  answer.set("type", rejection.type);
  answer.set("code", rejection.code);
  answer.set("detail", rejection.detail);
  std::string text = JsonText(answer);
  // A rejection can come before the body is read (a 404, a 405, a 413, an
  // invalid URI). Poco would then parse the unread body as the next request
  // on the connection and respond to it with 400. So a small body is read
  // here and the connection stays usable. Otherwise the connection closes,
  // and the rest of the body is discarded after the response. After a failed
  // or partial read of the body, where the body ends is unknown, so all the
  // client sends until it closes is discarded.
  bool close_connection = framing_lost_;
  if (!framing_lost_ && !body_read_ && HasBody(request)) {
    bool too_large = rejection.status == HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE;
    close_connection = too_large || !DrainSmallBody(request);
  }
  if (close_connection) response.setKeepAlive(false);
  response.setStatusAndReason(rejection.status);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(text.size()));
  std::ostream& out = response.send();
  out << text;
  if (framing_lost_) {
    out.flush();
    bool timed_out = rejection.status == HTTPResponse::HTTP_REQUEST_TIMEOUT;
    DiscardUntilClientCloses(request, timed_out ? kMaxDiscardTimeAfterTimeout : kMaxDiscardTime);
  } else if (close_connection) {
    out.flush();
    DiscardRestOfBody(request);
  }
}

void IngestRequestHandler::SetCorsHeaders(const HTTPServerRequest& request,
                                          HTTPServerResponse& response) {
  std::string origin = request.get("Origin", "");
  if (origin.empty()) {
    response.set("Access-Control-Allow-Origin", "*");
    return;
  }
  response.set("Access-Control-Allow-Origin", origin);
  response.set("Access-Control-Allow-Credentials", "true");
  response.set("Vary", "Origin");
}

}  // namespace

Route RouteForPath(const std::string& raw_path) {
  std::string path = StripTrailingSlash(raw_path);
  if (path == "/batch" || path == "/e" || path == "/i/v0/e" || path == "/capture" ||
      path == "/track") {
    return Route::kCapture;
  }
  if (path == "/webhook") return Route::kWebhook;
  if (path == "/healthz") return Route::kHealth;
  return Route::kNotFound;
}

Poco::Net::HTTPRequestHandler* IngestRequestHandlerFactory::createRequestHandler(
    const HTTPServerRequest& request) {
  std::string path;
  try {
    path = Poco::URI(request.getURI()).getPath();
  } catch (const Poco::Exception&) {
    path = "";  // the handler rejects the URI with a 400
  }
  return new IngestRequestHandler(context_, RouteForPath(path));
}

}  // namespace connector

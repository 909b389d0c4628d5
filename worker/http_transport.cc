#include "worker/http_transport.h"

#include <Poco/JSON/Object.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/URI.h>
#include <strings.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "common/json_parser.h"

namespace connector {
namespace {

constexpr size_t kDryRunBodyDepth = 64;

}  // namespace

std::string HttpResponse::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

Poco::Net::Context::Ptr MakeTlsContext(const IntercomConfig& config) {
  static std::once_flag ssl_once;
  std::call_once(ssl_once, [] {
    Poco::Net::initializeSSL();
    // Without a handler Poco may ask on the console about a bad certificate;
    // a worker must reject it instead.
    Poco::Net::SSLManager::instance().initializeClient(
        nullptr, new Poco::Net::RejectCertificateHandler(false), nullptr);
  });
  try {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", config.ca_file,
        Poco::Net::Context::VERIFY_RELAXED, 9, /*loadDefaultCAs=*/true);
    return context;
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("cannot load intercom.ca_file \"" + config.ca_file +
                             "\": " + error.displayText() +
                             "; give a PEM file of CA certificates or leave it empty");
  }
}

PocoTransport::PocoTransport(const IntercomConfig& config, Poco::Net::Context::Ptr tls_context,
                             const Clock& clock)
    : connect_timeout_(config.connect_timeout),
      request_timeout_(config.request_timeout),
      watchdog_(std::make_shared<RequestWatchdog>()),
      clock_(clock) {
  Poco::URI uri(config.base_url);
  path_prefix_ = uri.getPath();
  if (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
  session_ = MakeWatchedSession(uri, std::move(tls_context), watchdog_);
  session_->setKeepAlive(true);
  Poco::Timespan connect(connect_timeout_.count() * 1000);
  Poco::Timespan request(request_timeout_.count() * 1000);
  session_->setTimeout(connect, request, request);
}

HttpResponse PocoTransport::Send(const HttpRequest& request) {
  const Deadline deadline = std::chrono::steady_clock::now() + request_timeout_;
  bool reused = requests_on_connection_ > 0 && session_->connected();
  HttpResponse response = SendOnce(request, deadline);
  // A server may close an idle keep-alive connection just as it is reused.
  // The request then never arrived, so one retry on a new connection is
  // safe, and Intercom would deduplicate a repeat anyway.
  if (response.status == 0 && reused && !watchdog_->aborted() &&
      response.error.find("timed out") == std::string::npos) {
    response = SendOnce(request, deadline);
  }
  return response;
}

HttpResponse PocoTransport::SendOnce(const HttpRequest& request, Deadline deadline) {
  HttpResponse response;
  int64_t started = clock_.NowMs();
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      deadline - std::chrono::steady_clock::now());
  auto connect_limit = std::min<std::chrono::microseconds>(connect_timeout_, left);
  session_->setTimeout(Poco::Timespan(std::max<int64_t>(connect_limit.count(), 1)),
                       Poco::Timespan(request_timeout_.count() * 1000),
                       Poco::Timespan(request_timeout_.count() * 1000));

  bool server_keeps_alive = false;
  watchdog_->Arm(deadline);
  try {
    Poco::Net::HTTPRequest http(request.method, path_prefix_ + request.path,
                                Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : request.headers) http.set(name, value);
    http.setContentLength(static_cast<std::streamsize>(request.body.size()));
    http.setKeepAlive(true);
    std::ostream& body = session_->sendRequest(http);
    body << request.body;

    Poco::Net::HTTPResponse head;
    std::istream& in = session_->receiveResponse(head);
    response.status = static_cast<int>(head.getStatus());
    server_keeps_alive = head.getKeepAlive();
    for (const auto& [name, value] : head) response.headers.emplace_back(name, value);
    // Poco takes headers cut off by the end of the stream as complete.
    if (watchdog_->PeerClosed()) {
      response.error = "connection closed before a complete response: the headers of HTTP " +
                       std::to_string(response.status) + " were cut off";
    } else {
      ReadBody(in, head, response);
    }
  } catch (const Poco::TimeoutException& error) {
    response.error = "timed out: " + error.displayText();
  } catch (const Poco::Exception& error) {
    response.error = DescribeFailure(error);
  } catch (const std::exception& error) {
    response.error = error.what();
  }

  switch (watchdog_->Disarm()) {
    case RequestWatchdog::Cut::kNone:
      break;
    case RequestWatchdog::Cut::kDeadline:
      response.error = "timed out: no complete response within intercom.request_timeout (" +
                       std::to_string(request_timeout_.count()) + " ms)";
      break;
    case RequestWatchdog::Cut::kAbort:
      response.error = "cut off because the worker is stopping";
      break;
  }
  if (!response.error.empty()) response.status = 0;

  ++requests_on_connection_;
  if (response.status == 0 || response.body_too_large || !server_keeps_alive) {
    session_->reset();
    requests_on_connection_ = 0;
  }
  response.duration_ms = clock_.NowMs() - started;
  return response;
}

void PocoTransport::ReadBody(std::istream& in, const Poco::Net::HTTPResponse& head,
                             HttpResponse& response) {
  // Reads one byte past the limit, to tell a body of exactly the limit from
  // a longer one. The watchdog ends a body that arrives too slowly.
  char buffer[16 * 1024];
  while (response.body.size() <= kMaxResponseBodyBytes) {
    size_t to_read = std::min(sizeof buffer, kMaxResponseBodyBytes + 1 - response.body.size());
    in.read(buffer, static_cast<std::streamsize>(to_read));
    response.body.append(buffer, static_cast<size_t>(in.gcount()));
    if (!in) break;
  }
  if (response.body.size() > kMaxResponseBodyBytes) {
    response.body.resize(kMaxResponseBodyBytes);
    response.body_too_large = true;
    return;
  }
  if (in.bad()) {
    // The stream swallows the socket's exception, but the session keeps it.
    const Poco::Exception* error = session_->networkException();
    response.error = error != nullptr ? DescribeFailure(*error)
                                      : "the response body could not be read";
    return;
  }
  // A body with a length or in chunks ends before the end of the stream, so
  // reaching the end of the stream means the body was cut off. Poco's
  // streams end quietly there.
  bool delimited = head.getChunkedTransferEncoding() || head.hasContentLength();
  if (delimited && watchdog_->PeerClosed()) {
    std::string expected = head.hasContentLength()
                               ? "of " + std::to_string(head.getContentLength64()) + " body bytes"
                               : "bytes of a chunked body";
    response.error = "connection closed before a complete response: HTTP " +
                     std::to_string(response.status) + " sent " +
                     std::to_string(response.body.size()) + " " + expected;
  }
}

std::string PocoTransport::DescribeFailure(const Poco::Exception& error) const {
  // Poco reports a status line or header cut off by the end of the stream
  // as malformed ("HTTP reason string too long", "No message received").
  bool parse_error = dynamic_cast<const Poco::Net::MessageException*>(&error) != nullptr ||
                     dynamic_cast<const Poco::Net::NoMessageException*>(&error) != nullptr;
  if (parse_error && watchdog_->PeerClosed()) {
    return "connection closed before a complete response (" + error.displayText() + ")";
  }
  return error.displayText();
}

void PocoTransport::Abort() { watchdog_->Abort(); }

DryRunFile::DryRunFile(const std::string& path) : path_(path), out_(path, std::ios::app) {
  if (!out_) {
    throw std::runtime_error("cannot open worker.dry_run_file \"" + path +
                             "\" for appending; check that its directory exists and is writable");
  }
}

void DryRunFile::Append(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << line << '\n';
  out_.flush();
}

HttpResponse DryRunTransport::Send(const HttpRequest& request) {
  Poco::JSON::Object line(Poco::JSON_PRESERVE_KEY_ORDER);
  line.set("method", request.method);
  line.set("url", base_url_ + request.path);
  Poco::JSON::Object::Ptr headers = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [name, value] : request.headers) {
    if (::strcasecmp(name.c_str(), "Authorization") != 0) headers->set(name, value);
  }
  line.set("headers", headers);
  // The body is nested as JSON, with the exact numbers the request carries.
  // The worker builds the body from a payload ingest checked, so it is never
  // deeper than kDryRunBodyDepth.
  try {
    line.set("body", ParseJsonExactNumbers(request.body, kDryRunBodyDepth));
  } catch (const Poco::Exception&) {
    line.set("body", request.body);
  } catch (const JsonNumberOutOfRange&) {
    line.set("body", request.body);
  }
  std::ostringstream text;
  line.stringify(text);
  file_.Append(text.str());

  HttpResponse response;
  response.status = 202;
  response.dry_run_file = file_.path();
  return response;
}

}  // namespace connector

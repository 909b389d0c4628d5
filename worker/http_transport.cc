#include "worker/http_transport.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <strings.h>
#include <sys/socket.h>

#include <sstream>
#include <stdexcept>

namespace connector {

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
    : clock_(clock) {
  Poco::URI uri(config.base_url);
  path_prefix_ = uri.getPath();
  if (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
  if (uri.getScheme() == "https") {
    session_ = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                               tls_context);
  } else {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
  }
  session_->setKeepAlive(true);
  Poco::Timespan connect(config.connect_timeout.count() * 1000);
  Poco::Timespan request(config.request_timeout.count() * 1000);
  session_->setTimeout(connect, request, request);
}

HttpResponse PocoTransport::Send(const HttpRequest& request) {
  bool reused = requests_on_connection_ > 0 && session_->connected();
  HttpResponse response = SendOnce(request);
  // A server may close an idle keep-alive connection just as it is reused.
  // The request then never arrived, so one retry on a new connection is
  // safe, and Intercom would deduplicate a repeat anyway.
  if (response.status == 0 && reused && !aborted_ &&
      response.error.find("timed out") == std::string::npos) {
    response = SendOnce(request);
  }
  return response;
}

HttpResponse PocoTransport::SendOnce(const HttpRequest& request) {
  HttpResponse response;
  int64_t started = clock_.NowMs();
  try {
    Poco::Net::HTTPRequest http(request.method, path_prefix_ + request.path,
                                Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : request.headers) http.set(name, value);
    http.setContentLength(static_cast<std::streamsize>(request.body.size()));
    http.setKeepAlive(true);
    std::ostream& body = session_->sendRequest(http);
    body << request.body;

    Poco::Net::HTTPResponse http_response;
    std::istream& in = session_->receiveResponse(http_response);
    Poco::StreamCopier::copyToString(in, response.body);
    response.status = static_cast<int>(http_response.getStatus());
    for (const auto& [name, value] : http_response) response.headers.emplace_back(name, value);
    ++requests_on_connection_;
    if (!http_response.getKeepAlive()) {
      session_->reset();
      requests_on_connection_ = 0;
    }
  } catch (const Poco::TimeoutException& error) {
    response.error = "timed out: " + error.displayText();
  } catch (const Poco::Exception& error) {
    response.error = error.displayText();
  } catch (const std::exception& error) {
    response.error = error.what();
  }
  if (response.status == 0) {
    session_->reset();
    requests_on_connection_ = 0;
  }
  response.duration_ms = clock_.NowMs() - started;
  return response;
}

void PocoTransport::Abort() {
  aborted_ = true;
  // Shut the socket down but leave closing it to the delivery thread, which
  // is blocked in it: closing here would race with that thread's recv() and
  // could let a new file reuse the descriptor it still reads. shutdown(2) on
  // the raw descriptor also keeps this thread out of OpenSSL's state.
  Poco::Net::SocketImpl* socket = session_->socket().impl();
  if (socket != nullptr && socket->sockfd() != POCO_INVALID_SOCKET) {
    ::shutdown(socket->sockfd(), SHUT_RDWR);
  }
}

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
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(/*preserveObjectOrder=*/true));
    line.set("body", parser.parse(request.body));
  } catch (const Poco::Exception&) {
    line.set("body", request.body);
  }
  std::ostringstream text;
  line.stringify(text);
  file_.Append(text.str());

  HttpResponse response;
  response.status = 202;
  return response;
}

}  // namespace connector

#include "tests/support/fake_intercom.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <strings.h>

#include <sstream>
#include <thread>

namespace connector::testing {

FakeResponse FakeResponse::Error(int status, const std::string& code, const std::string& message,
                                 const std::string& request_id) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("type", "error.list");
  body.set("request_id", request_id);
  Poco::JSON::Object::Ptr error = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  error->set("code", code);
  error->set("message", message);
  Poco::JSON::Array::Ptr errors = new Poco::JSON::Array;
  errors->add(error);
  body.set("errors", errors);
  std::ostringstream text;
  body.stringify(text);
  FakeResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = text.str();
  return response;
}

FakeResponse FakeResponse::Contacts(
    const std::vector<std::tuple<std::string, std::string, std::string>>& contacts) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("type", "list");
  Poco::JSON::Array::Ptr data = new Poco::JSON::Array;
  for (const auto& [id, role, email] : contacts) {
    Poco::JSON::Object::Ptr contact = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    contact->set("type", "contact");
    contact->set("id", id);
    contact->set("role", role);
    contact->set("email", email);
    data->add(contact);
  }
  body.set("data", data);
  body.set("total_count", static_cast<int>(contacts.size()));
  std::ostringstream text;
  body.stringify(text);
  FakeResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = text.str();
  return response;
}

std::string RecordedRequest::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return "";
}

Poco::JSON::Object::Ptr RecordedRequest::Json() const {
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(/*preserveObjectOrder=*/true));
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

class FakeIntercom::RequestHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(FakeIntercom& fake) : fake_(fake) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    RecordedRequest recorded;
    recorded.method = request.getMethod();
    recorded.path = request.getURI();
    for (const auto& [name, value] : request) recorded.headers.emplace_back(name, value);
    Poco::StreamCopier::copyToString(request.stream(), recorded.body);
    recorded.client_address = request.clientAddress().toString();
    recorded.received_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();

    FakeResponse answer = fake_.Answer(recorded);
    if (answer.delay.count() > 0) std::this_thread::sleep_for(answer.delay);
    if (answer.reset_connection) {
      // Linger 0 makes close() send a TCP RST instead of a clean FIN.
      Poco::Net::StreamSocket socket =
          static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
      socket.setLinger(true, 0);
      socket.close();
      return;
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.send() << answer.body;
  }

 private:
  FakeIntercom& fake_;
};

class FakeIntercom::HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(FakeIntercom& fake) : fake_(fake) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new RequestHandler(fake_);
  }

 private:
  FakeIntercom& fake_;
};

FakeIntercom::FakeIntercom() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port_ = socket.address().port();
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(32);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // no limit
  server_ = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*this), socket, params);
  server_->start();
}

FakeIntercom::~FakeIntercom() { Stop(); }

void FakeIntercom::Stop() {
  if (server_) server_->stopAll(/*abortCurrent=*/true);
}

std::string FakeIntercom::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void FakeIntercom::Enqueue(FakeResponse response, const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.emplace_back(path, std::move(response));
}

void FakeIntercom::SetHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = std::move(handler);
}

FakeResponse FakeIntercom::Answer(const RecordedRequest& request) {
  Handler handler;
  FakeResponse answer;
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request);
    arrived_.notify_all();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->first.empty() || it->first == request.path) {
        answer = std::move(it->second);
        queue_.erase(it);
        queued = true;
        break;
      }
    }
    handler = handler_;
  }
  if (queued) return answer;
  if (handler) return handler(request);
  return FakeResponse{};
}

std::vector<RecordedRequest> FakeIntercom::Requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> FakeIntercom::RequestsTo(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<RecordedRequest> matching;
  for (const RecordedRequest& request : requests_) {
    if (request.path == path) matching.push_back(request);
  }
  return matching;
}

size_t FakeIntercom::RequestCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

bool FakeIntercom::WaitForRequests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

}  // namespace connector::testing

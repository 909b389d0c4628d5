#include "tests/support/fake_intercom.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <stdexcept>

#include <sstream>
#include <thread>

namespace connector::testing {

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    if (stopping_) return false;
    int sent = 0;
    try {
      if (socket_.secure()) {
        sent = socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
      } else {
        // MSG_NOSIGNAL: a client that has closed the connection must end the
        // writer, not the test process with SIGPIPE.
        sent = static_cast<int>(
            ::send(socket_.impl()->sockfd(), bytes.data(), bytes.size(), MSG_NOSIGNAL));
      }
    } catch (const Poco::TimeoutException&) {
      continue;
    } catch (const Poco::Exception&) {
      return false;
    }
    // The send timeout set in WriteRaw wakes a writer whose client stopped
    // reading, so it can notice that the fake is stopping.
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

bool RawConnection::Pause(std::chrono::milliseconds pause) {
  auto until = std::chrono::steady_clock::now() + pause;
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - std::chrono::steady_clock::now(), std::chrono::milliseconds(5)));
  }
  return !stopping_;
}

FakeResponse FakeResponse::Raw(std::string bytes) {
  FakeResponse response;
  response.raw = [bytes = std::move(bytes)](RawConnection& connection) { connection.Send(bytes); };
  return response;
}

FakeResponse FakeResponse::Endless(std::string head, std::string filler) {
  FakeResponse response;
  response.raw = [head = std::move(head), filler = std::move(filler)](RawConnection& connection) {
    if (!connection.Send(head)) return;
    while (connection.Send(filler)) {
    }
  };
  return response;
}

FakeResponse FakeResponse::Trickle(std::string head, std::string trickled,
                                   std::chrono::milliseconds interval) {
  FakeResponse response;
  response.raw = [head = std::move(head), trickled = std::move(trickled),
                  interval](RawConnection& connection) {
    if (!connection.Send(head)) return;
    for (size_t i = 0; connection.Pause(interval); i = (i + 1) % trickled.size()) {
      if (!connection.Send(std::string_view(trickled).substr(i, 1))) return;
    }
  };
  return response;
}

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
    if (answer.raw) {
      WriteRaw(request, answer);
      return;
    }
    if (answer.reset_connection) {
      // Linger 0 makes close() send a TCP RST instead of a clean FIN.
      Poco::Net::StreamSocket socket =
          static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
      socket.setLinger(true, 0);
      socket.close();
      fake_.KeepUntilStop(socket);
      return;
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    std::ostream& body = response.send();
    body << answer.body;
    body.flush();
    if (answer.close_after_response) {
      Poco::Net::StreamSocket socket =
          static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
      socket.close();
      fake_.KeepUntilStop(socket);
    }
  }

 private:
  void WriteRaw(Poco::Net::HTTPServerRequest& request, const FakeResponse& answer) {
    Poco::Net::StreamSocket socket =
        static_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket();
    // OpenSSL writes with write(2), which raises SIGPIPE once the client has
    // gone. With SIGPIPE blocked on this thread, the write fails with EPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    socket.setSendTimeout(Poco::Timespan(0, 100'000));
    RawConnection connection(socket, fake_.stopping_);
    answer.raw(connection);
    try {
      socket.close();
    } catch (const Poco::Exception&) {
      // The client closed first.
    }
    fake_.KeepUntilStop(socket);
  }

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

namespace {

// Adds one X.509 v3 extension, such as subjectAltName, to `certificate`.
void AddExtension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr) throw std::runtime_error("cannot build X.509 extension");
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// Writes a P-256 key and a self-signed CA certificate for 127.0.0.1, valid
// for one day, as PEM files.
void WriteSelfSignedCertificate(const std::string& key_path, const std::string& cert_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  if (key == nullptr || certificate == nullptr) throw std::runtime_error("OpenSSL allocation failed");
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 86400);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  AddExtension(certificate, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(certificate, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  X509_sign(certificate, key, EVP_sha256());

  FILE* key_file = std::fopen(key_path.c_str(), "w");
  FILE* cert_file = std::fopen(cert_path.c_str(), "w");
  if (key_file == nullptr || cert_file == nullptr) throw std::runtime_error("cannot write " + key_path);
  PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_X509(cert_file, certificate);
  std::fclose(key_file);
  std::fclose(cert_file);
  X509_free(certificate);
  EVP_PKEY_free(key);
}

}  // namespace

FakeIntercom::FakeIntercom(Scheme scheme) : scheme_(scheme) {
  std::unique_ptr<Poco::Net::ServerSocket> socket_holder;
  if (scheme == Scheme::kHttps) {
    Poco::Net::initializeSSL();
    std::string key_path = tls_dir_.File("key.pem");
    ca_file_ = tls_dir_.File("cert.pem");
    WriteSelfSignedCertificate(key_path, ca_file_);
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, key_path, ca_file_, "", Poco::Net::Context::VERIFY_NONE);
    socket_holder = std::make_unique<Poco::Net::SecureServerSocket>(
        Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
  } else {
    socket_holder =
        std::make_unique<Poco::Net::ServerSocket>(Poco::Net::SocketAddress("127.0.0.1", 0));
  }
  Poco::Net::ServerSocket& socket = *socket_holder;
  port_ = socket.address().port();
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(32);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // no limit
  pool_ = std::make_unique<Poco::ThreadPool>(2, 32);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*this), *pool_, socket,
                                                    params);
  server_->start();
}

FakeIntercom::~FakeIntercom() { Stop(); }

void FakeIntercom::KeepUntilStop(const Poco::Net::StreamSocket& socket) {
  std::lock_guard<std::mutex> lock(mutex_);
  detached_sockets_.push_back(socket);
}

void FakeIntercom::Stop() {
  stopping_ = true;
  if (server_) {
    server_->stop();
    bool abort = true;
    if (scheme_ == Scheme::kHttps) {
      // Aborting a TLS connection runs SSL_shutdown on this thread while the
      // connection's own thread may still use the same SSL object, or close
      // its socket: a data race inside OpenSSL and Poco (ThreadSanitizer
      // reports it). Let connections whose client has gone end on their own,
      // and abort only when some are still open after a while.
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      abort = server_->currentConnections() > 0;
    }
    if (abort) server_->stopAll(/*abortCurrent=*/true);
  }
  if (pool_) pool_->joinAll();
  std::lock_guard<std::mutex> lock(mutex_);
  detached_sockets_.clear();
}

std::string FakeIntercom::base_url() const {
  std::string scheme = scheme_ == Scheme::kHttps ? "https" : "http";
  return scheme + "://127.0.0.1:" + std::to_string(port_);
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

int FakeIntercom::OpenConnections() const { return server_ ? server_->currentConnections() : 0; }

bool FakeIntercom::WaitForRequests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

}  // namespace connector::testing

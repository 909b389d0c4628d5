#include "ingest/request_body.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPMessage.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "common/capture_error.h"
#include "common/config.h"

namespace connector {
namespace {

using Kind = RequestBodyError::Kind;

// Poco 1.11's HTTPChunkedInputStream ends the body without an error when the
// connection closes inside a chunk, when the last chunk (size 0) is missing,
// and when a chunk size is not hexadecimal. So ingest decodes chunked bodies
// itself, from the session's buffer, where Poco left the bytes after the
// header. HTTPSession's buffered reads are protected. A pointer to them,
// formed through this derived class, may be used on any HTTPSession.
class SessionReads : public Poco::Net::HTTPSession {
 public:
  static constexpr auto kRead = &SessionReads::read;
  static constexpr auto kBuffered = &SessionReads::buffered;
};

// Reads the body's bytes from the session: those buffered first, then from
// the socket, never past the requested length, so a pipelined next request
// stays in the buffer for Poco. Throws RequestBodyError(kTimedOut) once
// `timeout` has passed since construction. The socket's receive timeout
// bounds one read only, so a client that sends a byte a second would
// otherwise hold the thread for as long as it likes.
class SessionInput {
 public:
  SessionInput(Poco::Net::HTTPSession& session, std::chrono::milliseconds timeout)
      : session_(session),
        timeout_(timeout),
        deadline_(std::chrono::steady_clock::now() + timeout),
        read_timeout_(session.socket().getReceiveTimeout()) {}

  // Restores the socket's receive timeout, which Poco uses for the next request's header.
  ~SessionInput() {
    try {
      session_.socket().setReceiveTimeout(read_timeout_);
    } catch (const Poco::Exception&) {
      // The connection failed, and Poco closes it after this request.
    }
  }

  SessionInput(const SessionInput&) = delete;
  SessionInput& operator=(const SessionInput&) = delete;

  // Returns the next byte as 0 to 255, or -1 at the end of the stream.
  // HTTPSession::get() is not used: Poco 1.11 returns its buffer's plain
  // char, so bytes from 0x80 come back negative and 0xFF equals EOF.
  int Get() {
    char byte = 0;
    if (Read(&byte, 1) <= 0) return -1;
    return static_cast<unsigned char>(byte);
  }

  // Reads up to `size` bytes. Returns 0 at the end of the stream.
  int Read(char* buffer, int64_t size) {
    LimitWait();
    int n;
    try {
      n = (session_.*SessionReads::kRead)(buffer, static_cast<std::streamsize>(size));
    } catch (const Poco::TimeoutException&) {
      throw TimedOut();
    } catch (const Poco::Exception& error) {
      // A reset or another socket error: the client is gone or broke the
      // connection, which is the client's fault, not a server error.
      throw RequestBodyError(Kind::kIncomplete,
                             "connection failed while reading the request body, after " +
                                 std::to_string(received_) + " bytes: " + error.displayText() +
                                 "; send the whole body");
    }
    if (n > 0) received_ += n;
    return n;
  }

 private:
  // Before a read that waits for the socket, sets the socket's receive
  // timeout to the time left before the deadline. The header's shorter read
  // timeout does not apply, so a client may pause inside the body for as
  // long as request_timeout allows.
  void LimitWait() {
    if ((session_.*SessionReads::kBuffered)() > 0) return;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw TimedOut();
    session_.socket().setReceiveTimeout(Poco::Timespan(left.count()));
  }

  RequestBodyError TimedOut() const {
    return RequestBodyError(Kind::kTimedOut,
                            "request body timed out: not complete within request_timeout=" +
                                FormatDuration(timeout_) + " (" + std::to_string(received_) +
                                " bytes of body received); send the whole body at once, or "
                                "raise [ingest] request_timeout for slow networks");
  }

  Poco::Net::HTTPSession& session_;
  std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;
  Poco::Timespan read_timeout_;  // the socket's receive timeout before the body
  int64_t received_ = 0;         // body bytes read, chunk framing included
};

CaptureError TooLarge(int64_t max_bytes, const std::string& size) {
  return CaptureError(CaptureError::Kind::kTooLarge,
                      "request body" + size + " is larger than max_body_bytes=" +
                          std::to_string(max_bytes) + "; send fewer events per request");
}

RequestBodyError InvalidChunked(const std::string& problem) {
  return RequestBodyError(Kind::kInvalidChunked, "invalid chunked encoding: " + problem +
                                                     "; send a valid chunked body or use "
                                                     "Content-Length");
}

// Appends exactly `size` bytes to `body`. Returns the number appended, which
// is smaller only when the stream ended.
int64_t ReadExactly(SessionInput& input, int64_t size, std::string& body) {
  // Not value-initialised: zeroing 64 KiB took about a fifth of the
  // instructions of a small request, and only the bytes read are used.
  std::array<char, 64 * 1024> buffer;
  int64_t done = 0;
  while (done < size) {
    int64_t want = std::min<int64_t>(size - done, static_cast<int64_t>(buffer.size()));
    int n = input.Read(buffer.data(), want);
    if (n <= 0) break;
    body.append(buffer.data(), static_cast<size_t>(n));
    done += n;
  }
  return done;
}

std::string ReadContentLengthBody(SessionInput& input, int64_t declared, int64_t max_bytes) {
  if (declared > max_bytes) throw TooLarge(max_bytes, " of " + std::to_string(declared) + " bytes");
  std::string body;
  if (declared > 0) body.reserve(static_cast<size_t>(declared));
  int64_t received = ReadExactly(input, declared, body);
  if (received < declared) {
    throw RequestBodyError(Kind::kIncomplete,
                           "request body ended after " + std::to_string(received) + " of " +
                               std::to_string(declared) +
                               " bytes (Content-Length); send the whole body");
  }
  return body;
}

// Maximum sizes, in bytes, of a chunk size line (size and extensions) and of the trailer section.
constexpr size_t kMaxChunkLineBytes = 4096;
constexpr size_t kMaxTrailerBytes = 16 * 1024;

enum class LineEnd { kComplete, kEndOfStream };

// Reads one line ended by CRLF into `line`, without the CRLF. Returns
// kEndOfStream when the stream ends first, with what was read in `line`.
LineEnd ReadLine(SessionInput& input, size_t max_bytes, const char* line_name,
                 std::string& line) {
  line.clear();
  while (true) {
    int byte = input.Get();
    if (byte < 0) return LineEnd::kEndOfStream;
    if (byte == '\n') break;
    if (line.size() >= max_bytes) {
      throw InvalidChunked(std::string(line_name) + " is longer than " +
                           std::to_string(max_bytes) + " bytes");
    }
    line.push_back(static_cast<char>(byte));
  }
  if (line.empty() || line.back() != '\r') {
    throw InvalidChunked(std::string(line_name) + " ends with LF instead of CRLF");
  }
  line.pop_back();
  return LineEnd::kComplete;
}

// Parses a chunk size line, "<hex size>[;extensions]" (RFC 9112 section 7.1).
int64_t ParseChunkSize(const std::string& line, int64_t max_bytes) {
  size_t digits = 0;
  while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) ++digits;
  std::string excerpt = line.substr(0, 40);
  if (digits == 0) {
    throw InvalidChunked("chunk size \"" + excerpt + "\" is not a hexadecimal number");
  }
  size_t rest = digits;
  while (rest < line.size() && (line[rest] == ' ' || line[rest] == '\t')) ++rest;
  if (rest < line.size() && line[rest] != ';') {
    throw InvalidChunked("chunk size line \"" + excerpt + "\" has text after the size");
  }
  // 15 significant hex digits stay below 2^60, so the sum cannot overflow.
  size_t leading_zeros = 0;
  while (leading_zeros + 1 < digits && line[leading_zeros] == '0') ++leading_zeros;
  std::string significant = line.substr(leading_zeros, digits - leading_zeros);
  if (significant.size() > 15) throw TooLarge(max_bytes, " with a chunk of 0x" + significant);
  return std::stoll(significant, nullptr, 16);
}

std::string ReadChunkedBody(SessionInput& input, int64_t max_bytes) {
  std::string body;
  std::string line;
  while (true) {
    if (ReadLine(input, kMaxChunkLineBytes, "chunk size line", line) == LineEnd::kEndOfStream) {
      throw RequestBodyError(Kind::kIncomplete,
                             "request body ended after " + std::to_string(body.size()) +
                                 " bytes, before the last chunk (size 0) of the chunked "
                                 "encoding; send the whole body");
    }
    int64_t size = ParseChunkSize(line, max_bytes);
    if (size == 0) break;
    if (static_cast<int64_t>(body.size()) + size > max_bytes) throw TooLarge(max_bytes, "");

    int64_t received = ReadExactly(input, size, body);
    if (received < size) {
      throw RequestBodyError(Kind::kIncomplete,
                             "request body ended inside a chunk, after " +
                                 std::to_string(received) + " of its " + std::to_string(size) +
                                 " bytes (chunked); send the whole body");
    }
    int cr = input.Get();
    int lf = cr < 0 ? -1 : input.Get();
    if (lf < 0) {
      throw RequestBodyError(Kind::kIncomplete,
                             "request body ended after a chunk, before its CRLF (chunked); "
                             "send the whole body");
    }
    if (cr != '\r' || lf != '\n') {
      throw InvalidChunked("the chunk of " + std::to_string(size) +
                           " bytes is longer than its size or not followed by CRLF");
    }
  }

  // The trailer section: header lines, ended by an empty line. Ingest ignores them.
  size_t trailer_bytes = 0;
  while (true) {
    if (ReadLine(input, kMaxChunkLineBytes, "trailer line", line) == LineEnd::kEndOfStream) {
      throw RequestBodyError(Kind::kIncomplete,
                             "request body ended after the last chunk, before the empty line "
                             "that ends the chunked encoding; send the whole body");
    }
    if (line.empty()) break;
    trailer_bytes += line.size() + 2;
    if (trailer_bytes > kMaxTrailerBytes) {
      throw InvalidChunked("the trailer section is longer than " +
                           std::to_string(kMaxTrailerBytes) + " bytes");
    }
  }
  return body;
}

Poco::Net::HTTPServerRequestImpl& ServerRequest(Poco::Net::HTTPServerRequest& request) {
  auto* server_request = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (server_request == nullptr) {
    throw std::logic_error("the request is not a Poco::Net::HTTPServerRequestImpl");
  }
  return *server_request;
}

// Returns `value` in quotes, cut to 40 bytes, for an error message.
std::string Quoted(const std::string& value) {
  return "\"" + value.substr(0, 40) + (value.size() > 40 ? "...\"" : "\"");
}

std::string QuotedList(const std::vector<std::string>& values) {
  std::string list;
  for (const std::string& value : values) list += (list.empty() ? "" : ", ") + Quoted(value);
  return list;
}

bool IsDecimalNumber(const std::string& text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    return false;
  }
  // 18 significant digits stay below 2^63.
  size_t first_significant = text.find_first_not_of('0');
  return first_significant == std::string::npos || text.size() - first_significant <= 18;
}

}  // namespace

std::string FindFramingProblem(const Poco::Net::HTTPServerRequest& request) {
  std::vector<std::string> lengths;
  std::vector<std::string> encodings;
  for (const auto& [name, value] : request) {
    if (Poco::icompare(name, Poco::Net::HTTPMessage::CONTENT_LENGTH) == 0) {
      lengths.push_back(value);
    } else if (Poco::icompare(name, Poco::Net::HTTPMessage::TRANSFER_ENCODING) == 0) {
      encodings.push_back(value);
    }
  }
  // RFC 9112 section 6.3 lets a server accept equal Content-Length values,
  // but a proxy may keep a different one, so any repeat is rejected.
  if (lengths.size() > 1) {
    return "Content-Length is sent " + std::to_string(lengths.size()) + " times (" +
           QuotedList(lengths) + "); send it once";
  }
  if (encodings.size() > 1) {
    return "Transfer-Encoding is sent " + std::to_string(encodings.size()) + " times (" +
           QuotedList(encodings) + "); send it once, as \"chunked\"";
  }
  if (!lengths.empty() && !encodings.empty()) {
    return "Content-Length " + Quoted(lengths[0]) + " and Transfer-Encoding " +
           Quoted(encodings[0]) + " are both sent; send only one of them";
  }
  if (!encodings.empty() && Poco::icompare(encodings[0], "chunked") != 0) {
    return "Transfer-Encoding " + Quoted(encodings[0]) +
           " is not supported; send \"chunked\" or a Content-Length, and name a compression "
           "in Content-Encoding";
  }
  if (!lengths.empty() && !IsDecimalNumber(lengths[0])) {
    return "Content-Length " + Quoted(lengths[0]) +
           " is not a decimal number of bytes; send the body's length in bytes";
  }
  return "";
}

std::string ReadRequestBody(Poco::Net::HTTPServerRequest& request, int64_t max_bytes,
                            std::chrono::milliseconds timeout) {
  // RFC 9112 section 6.3: a request with neither Content-Length nor chunked
  // Transfer-Encoding has no body. Poco would read until the client closes
  // the connection, which a keep-alive client never does.
  if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return "";

  SessionInput input(ServerRequest(request).session(), timeout);
  if (request.getChunkedTransferEncoding()) return ReadChunkedBody(input, max_bytes);
  return ReadContentLengthBody(input, request.getContentLength64(), max_bytes);
}

void DiscardUntilClientCloses(Poco::Net::HTTPServerRequest& request,
                              std::chrono::milliseconds max_time) {
  constexpr int64_t kMaxDiscardBytes = 64 * 1024 * 1024;
  Poco::Net::StreamSocket& socket = ServerRequest(request).socket();
  try {
    socket.shutdownSend();
  } catch (const Poco::Exception&) {
    return;  // the client is gone, so nothing is left to read
  }

  auto deadline = std::chrono::steady_clock::now() + max_time;
  std::array<char, 4096> buffer;
  int64_t discarded = 0;
  while (discarded < kMaxDiscardBytes) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    try {
      socket.setReceiveTimeout(Poco::Timespan(left.count()));
      int n = socket.receiveBytes(buffer.data(), static_cast<int>(buffer.size()));
      if (n <= 0) return;
      discarded += n;
    } catch (const Poco::Exception&) {
      return;  // timed out or reset
    }
  }
}

}  // namespace connector

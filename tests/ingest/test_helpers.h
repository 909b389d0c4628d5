#pragma once

#include <SQLiteCpp/Database.h>

#include <map>
#include <string>
#include <string_view>

namespace connector::testing {

// Compresses `data` as one gzip member, as posthog-node and posthog-js do.
std::string Gzip(std::string_view data);

// Encodes `data` as standard base64 with padding.
std::string Base64(std::string_view data);

// Percent-encodes `text` for a URL query or a form body.
std::string UrlEncode(const std::string& text);

// An HTTP response as the tests inspect it.
struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

// Sends one request over a fresh connection to 127.0.0.1:`port`.
HttpResult SendRequest(int port, const std::string& method, const std::string& uri,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});

// Returns the number of rows in `events`.
int CountEvents(SQLite::Database& db);

}  // namespace connector::testing

#include "common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string_view>
#include <system_error>

namespace connector {
namespace {

std::string Trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

// Renders a string as a TOML basic string, with control characters escaped
// so that a value such as "2.11\r\nX-Evil: 1" stays on one line of the message.
std::string QuoteString(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\b': quoted += "\\b"; break;
      case '\t': quoted += "\\t"; break;
      case '\n': quoted += "\\n"; break;
      case '\f': quoted += "\\f"; break;
      case '\r': quoted += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04X", static_cast<unsigned char>(c));
          quoted += escaped;
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

// Formats a float with the fewest digits that read back as the same double,
// so -0.1 is shown as -0.1 and not as -0.10000000000000001. A whole number
// keeps a ".0" so that it still reads as a TOML float.
std::string FormatFloat(double value) {
  char digits[64];
  std::to_chars_result result = std::to_chars(digits, digits + sizeof digits, value);
  std::string text(digits, result.ptr);
  if (text.find_first_of(".eni") == std::string::npos) text += ".0";
  return text;
}

// Renders a TOML value for an error message, as it would appear in the file.
std::string Show(const toml::node& node) {
  if (node.is_string()) return QuoteString(**node.as_string());
  if (node.is_floating_point()) return FormatFloat(**node.as_floating_point());
  std::ostringstream out;
  node.visit([&out](auto&& value) { out << value; });
  std::string shown = out.str();
  if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
  return shown;
}

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// Returns what to do about a TOML syntax error, from toml++'s description.
std::string TomlErrorHint(std::string_view description) {
  // toml++ 3.3 describes a key or [table] given twice as "cannot redefine
  // existing ...", and names the key.
  if (description.find("cannot redefine") != std::string_view::npos) {
    return "each key may appear once in its table and each [section] once in the file; "
           "remove the duplicate or merge the two";
  }
  return "check that line (strings need double quotes, such as path = \"/var/lib/queue.db\")";
}

// Reads one [section] of the file. Each Read* call consumes a key; Finish()
// rejects the keys that no call consumed, which catches typos such as "reigon".
class SectionReader {
 public:
  SectionReader(const std::string& source, const std::string& section, const toml::table* table)
      : source_(source), section_(section), table_(table) {}

  void String(const std::string& key, std::string& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    if (!node->is_string()) Fail(key, *node, "a string");
    out = **node->as_string();
  }

  void Bool(const std::string& key, bool& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    if (!node->is_boolean()) Fail(key, *node, "true or false");
    out = **node->as_boolean();
  }

  template <typename Int>
  void Integer(const std::string& key, Int& out, int64_t min, int64_t max) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    std::string accepted = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    if (!node->is_integer()) Fail(key, *node, accepted);
    int64_t value = **node->as_integer();
    if (value < min || value > max) Fail(key, *node, accepted);
    out = static_cast<Int>(value);
  }

  void Number(const std::string& key, double& out, double min, double max) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    std::ostringstream accepted;
    accepted << "a number from " << min << " to " << max;
    double value = 0;
    if (node->is_integer()) {
      value = static_cast<double>(**node->as_integer());
    } else if (node->is_floating_point()) {
      value = **node->as_floating_point();
    } else {
      Fail(key, *node, accepted.str());
    }
    if (!(value >= min && value <= max)) Fail(key, *node, accepted.str());
    out = value;
  }

  void Duration(const std::string& key, Milliseconds& out, Milliseconds min) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    out = ToDuration(key, *node, min);
  }

  void DurationList(const std::string& key, std::vector<Milliseconds>& out, Milliseconds min) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr) Fail(key, *node, "an array of durations such as [\"5s\", \"5m\"]");
    out.clear();
    for (const toml::node& item : *array) out.push_back(ToDuration(key, item, min));
  }

  // A list given as a TOML array of strings or as one comma-separated string,
  // the form the PostHog app used. Items are trimmed; empty items are dropped.
  void StringList(const std::string& key, std::vector<std::string>& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return;
    out.clear();
    if (node->is_string()) {
      std::stringstream items(**node->as_string());
      std::string item;
      while (std::getline(items, item, ',')) {
        item = Trim(item);
        if (!item.empty()) out.push_back(item);
      }
      return;
    }
    const toml::array* array = node->as_array();
    if (array == nullptr) Fail(key, *node, "an array of strings or a comma-separated string");
    for (const toml::node& item : *array) {
      if (!item.is_string()) Fail(key, item, "an array of strings or a comma-separated string");
      std::string trimmed = Trim(**item.as_string());
      if (!trimmed.empty()) out.push_back(trimmed);
    }
  }

  void Finish() const {
    if (table_ == nullptr) return;
    for (auto&& [key, node] : *table_) {
      std::string name(key.str());
      if (std::find(taken_.begin(), taken_.end(), name) == taken_.end()) {
        throw ConfigError(Where(name, node) + ": unknown key in [" + section_ +
                          "]; check its spelling against config/intercom-connector.example.toml");
      }
    }
  }

  // Rejects the value of `key` as read from the file, for checks that run
  // after the value was read. The message gives the key's line when the file
  // has the key, and `value` otherwise.
  [[noreturn]] void FailValue(const std::string& key, const std::string& value,
                              const std::string& accepted) const {
    const toml::node* node = table_ == nullptr ? nullptr : table_->get(key);
    if (node != nullptr) Fail(key, *node, accepted);
    Fail(key, toml::value<std::string>(value), accepted);
  }

  [[noreturn]] void Fail(const std::string& key, const toml::node& node,
                         const std::string& accepted) const {
    // The Intercom token must not reach a terminal or a log through an error
    // message, even when it was written with the wrong type.
    std::string shown = key == "api_key" ? "(not shown: secret)" : Show(node);
    throw ConfigError(Where(key, node) + ": invalid value " + shown + " (" + TypeName(node) +
                      "); expected " + accepted);
  }

 private:
  const toml::node* Take(const std::string& key) {
    taken_.push_back(key);
    if (table_ == nullptr) return nullptr;
    return table_->get(key);
  }

  std::string Where(const std::string& key, const toml::node& node) const {
    std::string where = source_;
    if (node.source().begin.line > 0) where += ":" + std::to_string(node.source().begin.line);
    return where + ": key " + section_ + "." + key;
  }

  Milliseconds ToDuration(const std::string& key, const toml::node& node, Milliseconds min) const {
    std::string accepted = "a duration string such as \"250ms\", \"5s\", \"30m\", \"2h\" or \"7d\"";
    if (min.count() > 0) accepted += ", at least " + FormatDuration(min);
    if (!node.is_string()) Fail(key, node, accepted);
    std::optional<Milliseconds> parsed = ParseDuration(**node.as_string());
    if (!parsed || *parsed < min) Fail(key, node, accepted);
    return *parsed;
  }

  std::string source_;
  std::string section_;
  const toml::table* table_;
  std::vector<std::string> taken_;
};

bool IsDecimal(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
}

// Checks HOST:PORT in the form Poco::Net::SocketAddress reads at bind time.
// The host is a name, an IPv4 address or a bracketed IPv6 address. The port
// is a decimal number from 0 to 65535, where 0 lets the system pick a free
// port. Poco also takes a service name such as "http" as the port, but this
// check rejects one so that a typo fails at load time.
bool IsListenAddress(const std::string& address) {
  size_t colon = 0;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string::npos || close == 1) return false;
    colon = close + 1;
    if (colon >= address.size() || address[colon] != ':') return false;
  } else {
    colon = address.find(':');
    if (colon == std::string::npos || colon == 0) return false;
  }
  std::string_view host = std::string_view(address).substr(0, colon);
  bool host_is_visible = std::all_of(host.begin(), host.end(),
                                     [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  std::string_view port = std::string_view(address).substr(colon + 1);
  if (!host_is_visible || !IsDecimal(port) || port.size() > 5) return false;
  return std::stoi(std::string(port)) <= 65535;
}

void ReadListenAddress(SectionReader& reader, const std::string& key, std::string& address,
                       const std::string& example, bool empty_disables) {
  reader.String(key, address);
  if (empty_disables && address.empty()) return;
  if (IsListenAddress(address)) return;
  std::string accepted = "HOST:PORT with a port from 0 to 65535, such as \"" + example +
                         "\" or \"[::1]:" + example.substr(example.rfind(':') + 1) +
                         "\" (port 0 picks a free port)";
  if (empty_disables) accepted += ", or \"\" to serve no metrics";
  reader.FailValue(key, address, accepted);
}

// Splits "HOST:PORT" or "[HOST]:PORT", already checked by IsListenAddress,
// into the host without brackets and the port.
std::pair<std::string, int> SplitListenAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, std::stoi(address.substr(colon + 1))};
}

// Returns whether `wildcard` is a wildcard address that covers `host`:
// 0.0.0.0 covers IPv4 hosts, and :: covers every host, because Linux binds
// it to IPv6 and IPv4 alike by default (net.ipv6.bindv6only = 0).
bool Covers(const std::string& wildcard, const std::string& host) {
  bool ipv6_host = host.find(':') != std::string::npos;
  return wildcard == "::" || (wildcard == "0.0.0.0" && !ipv6_host);
}

// Returns whether two listen addresses take the same port: the same port on
// the same host, or on a host and a wildcard address that covers it.
bool ListenAddressesCollide(const std::string& first, const std::string& second) {
  if (first.empty() || second.empty()) return false;
  auto [first_host, first_port] = SplitListenAddress(first);
  auto [second_host, second_port] = SplitListenAddress(second);
  if (first_port != second_port || first_port == 0) return false;
  return first_host == second_host || Covers(first_host, second_host) ||
         Covers(second_host, first_host);
}

// Rejects two of ingest's listen, ingest's metrics_listen and the worker's
// metrics_listen on one port: one configuration file serves both processes,
// so the second bind would fail with "address already in use" at start.
void CheckListenAddressesDiffer(const std::string& source, const toml::table& root,
                                const Config& config) {
  struct Address {
    std::string section;
    std::string key;
    std::string value;
  };
  const Address addresses[] = {
      {"ingest", "listen", config.ingest.listen},
      {"ingest", "metrics_listen", config.ingest.metrics_listen},
      {"worker", "metrics_listen", config.worker.metrics_listen},
  };
  for (size_t i = 0; i < std::size(addresses); ++i) {
    for (size_t j = i + 1; j < std::size(addresses); ++j) {
      if (!ListenAddressesCollide(addresses[i].value, addresses[j].value)) continue;
      const Address& later = addresses[j];
      SectionReader reader(source, later.section, root[later.section].as_table());
      reader.FailValue(later.key, later.value,
                       "a port that [" + addresses[i].section + "] " + addresses[i].key +
                           " (\"" + addresses[i].value + "\") does not also use");
    }
  }
}

// Intercom's API versions are MAJOR.MINOR ("1.0" to "2.16" in its 2.16 OpenAPI
// description) plus the pre-release "Unstable". Accepting only that form keeps
// a typo or a line break out of the Intercom-Version header.
bool IsApiVersion(const std::string& version) {
  if (version == "Unstable") return true;
  size_t dot = version.find('.');
  if (dot == std::string::npos) return false;
  std::string_view major = std::string_view(version).substr(0, dot);
  std::string_view minor = std::string_view(version).substr(dot + 1);
  return IsDecimal(major) && major.size() <= 3 && IsDecimal(minor) && minor.size() <= 3;
}

// Describes the first byte of an access token that cannot be sent in the
// "Authorization: Bearer <token>" header line, such as a line break that
// would start a header of its own. Returns nullopt for visible ASCII. The
// description gives the position, never the token.
std::optional<std::string> FindInvalidTokenByte(const std::string& token) {
  for (size_t i = 0; i < token.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(token[i]);
    if (c > 0x20 && c < 0x7f) continue;
    std::string description = "a control character";
    if (c == '\r') description = "a carriage return";
    if (c == '\n') description = "a line feed";
    if (c == '\t') description = "a tab";
    if (c == ' ') description = "a space";
    if (c >= 0x80) description = "a non-ASCII byte";
    return description + " at position " + std::to_string(i + 1);
  }
  return std::nullopt;
}

std::string TokenExpectation(const std::string& invalid_byte) {
  return "an access token of visible ASCII characters, but it contains " + invalid_byte +
         "; copy the token again without spaces or line breaks";
}

// Returns why `path` cannot be read as a regular file, as a clause such as
// "does not exist", or nullopt when it can be read.
std::optional<std::string> FindUnreadableFileReason(const std::string& path) {
  std::error_code error;
  std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::not_found) return "does not exist";
  if (error) return "cannot be checked (" + error.message() + ")";
  if (std::filesystem::is_directory(status)) return "is a directory";
  if (!std::filesystem::is_regular_file(status)) return "is not a regular file";
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::string("cannot be opened (") + std::strerror(errno) + ")";
  return std::nullopt;
}

// Checks ca_file when the file is loaded, so that a wrong path names the key
// and line. The worker still loads the certificates at start.
void CheckCaFile(SectionReader& reader, const std::string& path) {
  if (path.empty()) return;
  std::optional<std::string> reason = FindUnreadableFileReason(path);
  if (!reason) return;
  std::string where = "the path " + *reason;
  if (std::filesystem::path(path).is_relative()) {
    std::error_code error;
    std::filesystem::path directory = std::filesystem::current_path(error);
    if (!error) where += " (relative to the working directory " + directory.string() + ")";
  }
  reader.FailValue("ca_file", path,
                   "a readable PEM file of CA certificates, or \"\" for the system's CAs "
                   "only; " + where);
}

void ReadQueue(SectionReader& reader, QueueConfig& queue) {
  reader.String("path", queue.path);
  std::string synchronous = queue.synchronous == Synchronous::kFull ? "full" : "normal";
  reader.String("synchronous", synchronous);
  if (synchronous == "full") {
    queue.synchronous = Synchronous::kFull;
  } else if (synchronous == "normal") {
    queue.synchronous = Synchronous::kNormal;
  } else {
    reader.FailValue("synchronous", synchronous, "\"full\" or \"normal\"");
  }
  if (queue.path.empty()) reader.FailValue("path", "", "a file path");
  reader.Duration("busy_timeout", queue.busy_timeout, Milliseconds(0));
}

void ReadIngest(SectionReader& reader, IngestConfig& ingest) {
  ReadListenAddress(reader, "listen", ingest.listen, "127.0.0.1:8000", /*empty_disables=*/false);
  reader.Integer("max_body_bytes", ingest.max_body_bytes, 1024, int64_t{1} << 32);
  reader.Integer("max_decompressed_bytes", ingest.max_decompressed_bytes, 1024, int64_t{1} << 34);
  reader.StringList("api_keys", ingest.api_keys);
  reader.Integer("threads", ingest.threads, 1, 1024);
  reader.Integer("max_queued_connections", ingest.max_queued_connections, 1, 65536);
  reader.Integer("max_events_per_request", ingest.max_events_per_request, 1, 1000000);
  reader.Duration("request_timeout", ingest.request_timeout, Milliseconds(1));
  ReadListenAddress(reader, "metrics_listen", ingest.metrics_listen, "127.0.0.1:9464",
                    /*empty_disables=*/true);
}

// Reads region, use_european_data_storage and base_url, and resolves base_url.
void ReadIntercomHost(SectionReader& reader, IntercomConfig& intercom) {
  reader.String("region", intercom.region);
  if (!RegionBaseUrl(intercom.region)) {
    reader.FailValue("region", intercom.region, "\"us\", \"eu\" or \"au\"");
  }
  bool european = false;
  reader.Bool("use_european_data_storage", european);
  if (european) {
    // The flag exists for configurations ported from PostHog's app; together
    // with another region it is a contradiction, not a preference.
    if (intercom.region != "us" && intercom.region != "eu") {
      reader.FailValue("use_european_data_storage", "true",
                       "false when region = \"" + intercom.region +
                           "\" (remove one of the two keys)");
    }
    intercom.region = "eu";
  }
  reader.String("base_url", intercom.base_url);
  if (!intercom.base_url.empty()) {
    if (intercom.base_url.rfind("http://", 0) != 0 && intercom.base_url.rfind("https://", 0) != 0) {
      reader.FailValue("base_url", intercom.base_url,
                       "a URL starting with https:// (or http:// for a local proxy)");
    }
    while (!intercom.base_url.empty() && intercom.base_url.back() == '/') intercom.base_url.pop_back();
  } else {
    intercom.base_url = *RegionBaseUrl(intercom.region);
  }
}

void ReadIntercom(SectionReader& reader, IntercomConfig& intercom) {
  reader.String("api_key", intercom.api_key);
  if (std::optional<std::string> invalid_byte = FindInvalidTokenByte(intercom.api_key)) {
    reader.FailValue("api_key", intercom.api_key, TokenExpectation(*invalid_byte));
  }
  ReadIntercomHost(reader, intercom);
  reader.String("api_version", intercom.api_version);
  if (!IsApiVersion(intercom.api_version)) {
    reader.FailValue("api_version", intercom.api_version,
                     "an Intercom API version such as \"2.11\" (MAJOR.MINOR) or \"Unstable\"");
  }
  reader.StringList("triggering_events", intercom.triggering_events);
  if (intercom.triggering_events.empty()) {
    // The worker sends only these events, so an empty list would skip every one.
    reader.FailValue("triggering_events", "",
                     "at least one event name, such as [\"$identify\"]; the worker sends "
                     "only the events listed here");
  }
  reader.StringList("ignored_email_domains", intercom.ignored_email_domains);
  for (std::string& domain : intercom.ignored_email_domains) {
    std::transform(domain.begin(), domain.end(), domain.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  reader.StringList("metadata_properties", intercom.metadata_properties);
  reader.String("metadata_separator", intercom.metadata_separator);
  if (intercom.metadata_separator.empty() ||
      intercom.metadata_separator.find_first_of(".$") != std::string::npos) {
    reader.FailValue("metadata_separator", intercom.metadata_separator,
                "a non-empty string without '.' or '$', such as \"_\"");
  }
  reader.String("ca_file", intercom.ca_file);
  CheckCaFile(reader, intercom.ca_file);
  reader.Duration("connect_timeout", intercom.connect_timeout, Milliseconds(1));
  reader.Duration("request_timeout", intercom.request_timeout, Milliseconds(1));
}

void ReadWorker(SectionReader& reader, WorkerConfig& worker) {
  reader.Integer("concurrency", worker.concurrency, 1, 256);
  reader.Integer("claim_batch", worker.claim_batch, 1, 10000);
  reader.Duration("lease", worker.lease, Milliseconds(1000));
  reader.DurationList("retry_schedule", worker.retry_schedule, Milliseconds(0));
  reader.DurationList("contact_missing_schedule", worker.contact_missing_schedule, Milliseconds(0));
  reader.Number("jitter", worker.jitter, 0.0, 1.0);
  reader.Integer("rate_limit_per_minute", worker.rate_limit_per_minute, 0, 10000000);
  reader.Duration("retention", worker.retention, Milliseconds(0));
  reader.Duration("shutdown_timeout", worker.shutdown_timeout, Milliseconds(0));
  reader.Duration("idle_poll", worker.idle_poll, Milliseconds(1));
  reader.String("dry_run_file", worker.dry_run_file);
  reader.Duration("pause_probe_interval", worker.pause_probe_interval, Milliseconds(1));
  reader.Duration("pause_log_interval", worker.pause_log_interval, Milliseconds(0));
  reader.Duration("prune_interval", worker.prune_interval, Milliseconds(1));
  ReadListenAddress(reader, "metrics_listen", worker.metrics_listen, "127.0.0.1:9465",
                    /*empty_disables=*/true);
}

void ApplyEnvironment(Config& config) {
  const char* api_key = std::getenv("INTERCOM_API_KEY");
  if (api_key == nullptr || *api_key == '\0') return;
  if (std::optional<std::string> invalid_byte = FindInvalidTokenByte(api_key)) {
    throw ConfigError("environment variable INTERCOM_API_KEY: invalid value (not shown: "
                      "secret); expected " + TokenExpectation(*invalid_byte));
  }
  config.intercom.api_key = api_key;
}

}  // namespace

std::optional<Milliseconds> ParseDuration(const std::string& text) {
  static const std::map<std::string, int64_t> kUnitMs = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  auto unit = kUnitMs.find(text.substr(digits));
  if (unit == kUnitMs.end()) return std::nullopt;
  return Milliseconds(std::stoll(text.substr(0, digits)) * unit->second);
}

std::string FormatDuration(Milliseconds duration) {
  int64_t ms = duration.count();
  static const std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  for (const auto& [unit_ms, suffix] : kUnits) {
    if (ms != 0 && ms % unit_ms == 0) return std::to_string(ms / unit_ms) + suffix;
  }
  return std::to_string(ms) + "ms";
}

std::optional<std::string> RegionBaseUrl(const std::string& region) {
  if (region == "us") return "https://api.intercom.io";
  if (region == "eu") return "https://api.eu.intercom.io";
  if (region == "au") return "https://api.au.intercom.io";
  return std::nullopt;
}

Config ParseConfig(const std::string& toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    throw ConfigError(source + ":" + std::to_string(error.source().begin.line) +
                      ": invalid TOML: " + std::string(error.description()) + "; " +
                      TomlErrorHint(error.description()));
  }

  Config config;
  config.source = source;
  using Reader = std::function<void(SectionReader&, Config&)>;
  const std::vector<std::pair<std::string, Reader>> sections = {
      {"queue", [](SectionReader& r, Config& c) { ReadQueue(r, c.queue); }},
      {"ingest", [](SectionReader& r, Config& c) { ReadIngest(r, c.ingest); }},
      {"intercom", [](SectionReader& r, Config& c) { ReadIntercom(r, c.intercom); }},
      {"worker", [](SectionReader& r, Config& c) { ReadWorker(r, c.worker); }},
  };

  for (auto&& [key, node] : root) {
    std::string name(key.str());
    bool known = std::any_of(sections.begin(), sections.end(),
                             [&name](const auto& section) { return section.first == name; });
    if (!known) {
      throw ConfigError(source + ":" + std::to_string(node.source().begin.line) + ": key " + name +
                        ": unknown section or key; expected [queue], [ingest], [intercom] or [worker]");
    }
    if (!node.is_table()) {
      throw ConfigError(source + ":" + std::to_string(node.source().begin.line) + ": key " + name +
                        ": expected a [" + name + "] table, got " + TypeName(node));
    }
  }

  for (const auto& [name, read] : sections) {
    SectionReader reader(source, name, root[name].as_table());
    read(reader, config);
    reader.Finish();
  }

  CheckListenAddressesDiffer(source, root, config);

  // A request starts only while min(connect_timeout + request_timeout,
  // lease / 2) of its lease is left, and request_timeout bounds the whole
  // request. With lease >= 2 x request_timeout every request ends before its
  // lease does, so no other worker can claim and resend an event in flight.
  Milliseconds request_timeout = config.intercom.request_timeout;
  if (config.worker.lease < 2 * request_timeout) {
    SectionReader worker(source, "worker", root["worker"].as_table());
    worker.FailValue("lease", FormatDuration(config.worker.lease),
                     "at least twice [intercom] request_timeout (" +
                         FormatDuration(request_timeout) + "), so that a request ends before "
                         "its lease: set lease to " + FormatDuration(2 * request_timeout) +
                         " or more, or lower request_timeout");
  }
  return config;
}

Config LoadConfigFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError(path + ": is a directory, not a configuration file; give --config the "
                      "path of a TOML file");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ConfigError(path + ": cannot read the configuration file (" + std::strerror(errno) +
                      "); check the --config path");
  }
  std::stringstream text;
  text << file.rdbuf();
  Config config = ParseConfig(text.str(), path);
  ApplyEnvironment(config);
  return config;
}

Config DefaultConfig() {
  Config config = ParseConfig("", "<embedded default>");
  ApplyEnvironment(config);
  return config;
}

}  // namespace connector

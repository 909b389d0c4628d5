#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace connector {

// Raised for any problem in the configuration file. The message names the
// file, the key, the value and what is accepted, so it can be shown as is.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Milliseconds = std::chrono::milliseconds;

enum class Synchronous { kFull, kNormal };

struct QueueConfig {
  std::string path = "intercom-queue.db";
  // "full" syncs the WAL on every commit, so a power loss loses no acknowledged
  // request. "normal" syncs only at checkpoints: a power loss (not a process
  // crash) can lose the last commits.
  Synchronous synchronous = Synchronous::kFull;
  Milliseconds busy_timeout{5000};
};

struct IngestConfig {
  std::string listen = "127.0.0.1:8000";
  int64_t max_body_bytes = 20 * 1024 * 1024;            // PostHog's /batch limit
  int64_t max_decompressed_bytes = 100 * 1024 * 1024;
  std::vector<std::string> api_keys;                    // empty: any project token
  int threads = 16;                                     // HTTP handler threads
  int max_queued_connections = 256;
  int max_events_per_request = 10000;
  // Maximum time to receive a request's body once its header has arrived (408 above).
  Milliseconds request_timeout{30000};
  // HOST:PORT for /metrics and /healthz; empty: not served.
  std::string metrics_listen = "127.0.0.1:9464";
};

struct IntercomConfig {
  std::string api_key;                 // empty: the worker writes requests to a file;
                                       // visible ASCII only, as it is sent in a header
  std::string region = "us";           // "us", "eu" or "au"
  std::string base_url;                // resolved from region unless set
  std::string api_version = "2.11";    // sent as Intercom-Version; MAJOR.MINOR or "Unstable"
  std::vector<std::string> triggering_events{"$identify"};  // never empty
  std::vector<std::string> ignored_email_domains;
  std::vector<std::string> metadata_properties;  // event properties sent as metadata
  // Joins the keys of a flattened nested property ("plan" + "name" ->
  // "plan_name"). Intercom rejects keys with '.' or '$', so neither is allowed.
  std::string metadata_separator = "_";
  // Extra CA bundle for private CAs, checked to be a readable regular file
  // when the configuration is loaded. Empty: the system's CAs only.
  std::string ca_file;
  Milliseconds connect_timeout{5000};
  Milliseconds request_timeout{10000};
};

struct WorkerConfig {
  int concurrency = 8;                 // requests in flight
  int claim_batch = 64;                // rows claimed per transaction
  Milliseconds lease{60000};
  std::vector<Milliseconds> retry_schedule{
      std::chrono::seconds(5),  std::chrono::minutes(5), std::chrono::minutes(30),
      std::chrono::hours(2),    std::chrono::hours(5),   std::chrono::hours(10),
      std::chrono::hours(10)};
  // Delays between retries of a 404 not_found (the contact may be created
  // moments after the event). Used up: the event fails.
  std::vector<Milliseconds> contact_missing_schedule{
      std::chrono::seconds(30), std::chrono::minutes(2), std::chrono::minutes(10)};
  double jitter = 0.2;                 // each delay is scaled by 1 +- jitter at random
  int rate_limit_per_minute = 10000;   // 0: no client-side limit
  Milliseconds retention{std::chrono::hours(24 * 7)};
  Milliseconds shutdown_timeout{10000};
  Milliseconds idle_poll{5};           // how often an idle worker checks for new rows
  std::string dry_run_file = "intercom-requests.ndjson";  // used when no api_key is set
  // While delivery is paused by a 401/403, one event is sent this often to see
  // whether the token works again.
  Milliseconds pause_probe_interval{30000};
  // While paused, the error naming the likely cause is logged at most this often.
  Milliseconds pause_log_interval{300000};
  // How often delivered and skipped rows older than `retention` are deleted.
  Milliseconds prune_interval{60000};
  // HOST:PORT for /metrics, /healthz and the status page; empty: not served.
  std::string metrics_listen = "127.0.0.1:9465";
};

struct Config {
  std::string source;                  // the file it came from, or "<embedded default>"
  QueueConfig queue;
  IngestConfig ingest;
  IntercomConfig intercom;
  WorkerConfig worker;
};

// Reads and validates the TOML file at `path`. INTERCOM_API_KEY in the
// environment, when set and not empty, replaces intercom.api_key.
// Throws ConfigError on an unknown key, a wrong type or an invalid value
// (including an intercom.ca_file that cannot be read), and on an
// INTERCOM_API_KEY that is not visible ASCII.
Config LoadConfigFile(const std::string& path);

// Parses TOML text. `source` names it in error messages. A relative
// intercom.ca_file is checked against the working directory.
Config ParseConfig(const std::string& toml_text, const std::string& source);

// The configuration used when no --config is given: every default, with the
// environment's INTERCOM_API_KEY applied. Throws ConfigError when that
// variable is not visible ASCII.
Config DefaultConfig();

// Parses "250ms", "5s", "30m", "2h" or "7d". Returns nullopt when `text` is
// not one of those forms.
std::optional<Milliseconds> ParseDuration(const std::string& text);

// Formats a duration the way ParseDuration reads it, for logs and messages.
std::string FormatDuration(Milliseconds duration);

// Returns the Intercom API base URL for a region, or nullopt for an unknown one.
std::optional<std::string> RegionBaseUrl(const std::string& region);

}  // namespace connector

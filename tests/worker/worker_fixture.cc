#include "tests/worker/worker_fixture.h"

#include <SQLiteCpp/Statement.h>

#include <fstream>
#include <thread>

#include "common/database.h"

namespace connector::testing {
namespace {

std::optional<std::string> OptionalText(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getString();
}

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

std::string DurationList(const std::vector<Milliseconds>& durations) {
  std::string list = "[";
  for (size_t i = 0; i < durations.size(); ++i) {
    if (i > 0) list += ", ";
    list += Quoted(FormatDuration(durations[i]));
  }
  return list + "]";
}

}  // namespace

WorkerFixture::WorkerFixture() {
  config_ = ParseConfig("", "test");
  config_.queue.path = dir_.File("queue.db");
  config_.queue.synchronous = Synchronous::kNormal;
  config_.intercom.api_key = "test-token";
  config_.intercom.base_url = fake_.base_url();
  config_.intercom.connect_timeout = Milliseconds(1000);
  config_.intercom.request_timeout = Milliseconds(2000);
  config_.worker.concurrency = 2;
  config_.worker.claim_batch = 16;
  config_.worker.retry_schedule = {Milliseconds(1000), Milliseconds(2000)};
  config_.worker.contact_missing_schedule = {Milliseconds(1000)};
  config_.worker.jitter = 0.0;
  config_.worker.rate_limit_per_minute = 0;
  config_.worker.idle_poll = Milliseconds(1);
  config_.worker.shutdown_timeout = Milliseconds(3000);
  config_.worker.pause_probe_interval = Milliseconds(1000);
  config_.worker.dry_run_file = dir_.File("requests.ndjson");
  // Port 0: parallel tests must not compete for the default metrics port.
  config_.worker.metrics_listen = "127.0.0.1:0";
  db_ = OpenQueue(config_.queue);
}

int64_t WorkerFixture::Insert(TestEvent event) {
  if (event.uuid.empty()) event.uuid = "uuid-" + std::to_string(++next_uuid_);
  SQLite::Statement insert(*db_,
      "INSERT INTO events (uuid, event, distinct_id, payload, person, received_at_ms, created_at, "
      " state, next_attempt_at_ms, lease_expires_at_ms, lease_owner, updated_at_ms) "
      "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?) RETURNING id");
  insert.bind(1, event.uuid);
  insert.bind(2, event.name);
  insert.bind(3, event.distinct_id);
  insert.bind(4, event.payload);
  if (event.person) insert.bind(5, *event.person); else insert.bind(5);
  insert.bind(6, event.created_at);
  insert.bind(7, event.state);
  insert.bind(8, event.next_attempt_at_ms);
  if (event.lease_expires_at_ms) insert.bind(9, *event.lease_expires_at_ms); else insert.bind(9);
  if (event.lease_owner) insert.bind(10, *event.lease_owner); else insert.bind(10);
  insert.bind(11, event.updated_at_ms);
  insert.executeStep();
  int64_t id = insert.getColumn(0).getInt64();
  return id;
}

EventRow WorkerFixture::Read(int64_t id) {
  SQLite::Statement select(*db_,
      "SELECT state, attempts, next_attempt_at_ms, reason, email, lease_owner FROM events "
      "WHERE id = ?");
  select.bind(1, id);
  EventRow row;
  if (!select.executeStep()) {
    row.state = "<deleted>";
    return row;
  }
  row.state = select.getColumn(0).getString();
  row.attempts = select.getColumn(1).getInt();
  row.next_attempt_at_ms = select.getColumn(2).getInt64();
  row.reason = OptionalText(select.getColumn(3));
  row.email = OptionalText(select.getColumn(4));
  row.lease_owner = OptionalText(select.getColumn(5));
  return row;
}

std::vector<AttemptRow> WorkerFixture::Attempts(int64_t id) {
  SQLite::Statement select(*db_,
      "SELECT attempt, outcome, http_status, identifier, intercom_request_id, "
      " intercom_error_code, intercom_error_message, error, notes "
      "FROM delivery_attempts WHERE event_id = ? ORDER BY attempt");
  select.bind(1, id);
  std::vector<AttemptRow> rows;
  while (select.executeStep()) {
    AttemptRow row;
    row.attempt = select.getColumn(0).getInt();
    row.outcome = select.getColumn(1).getString();
    if (!select.getColumn(2).isNull()) row.http_status = select.getColumn(2).getInt();
    row.identifier = select.getColumn(3).getString();
    row.request_id = select.getColumn(4).getString();
    row.error_code = select.getColumn(5).getString();
    row.error_message = select.getColumn(6).getString();
    row.error = select.getColumn(7).getString();
    row.notes = select.getColumn(8).getString();
    rows.push_back(row);
  }
  return rows;
}

int64_t WorkerFixture::Count(const std::string& sql) {
  return db_->execAndGet(sql).getInt64();
}

bool WorkerFixture::WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

bool WorkerFixture::WaitForState(int64_t id, const std::string& state,
                                 std::chrono::milliseconds timeout) {
  return WaitFor([&] { return Read(id).state == state; }, timeout);
}

std::string WorkerFixture::WriteConfigFile() {
  std::string path = dir_.File("worker.toml");
  std::ofstream out(path);
  out << "[queue]\npath = " << Quoted(config_.queue.path) << "\nsynchronous = \"normal\""
      << "\nbusy_timeout = " << Quoted(FormatDuration(config_.queue.busy_timeout)) << "\n"
      << "[intercom]\napi_key = " << Quoted(config_.intercom.api_key)
      << "\nbase_url = " << Quoted(config_.intercom.base_url)
      << "\nrequest_timeout = " << Quoted(FormatDuration(config_.intercom.request_timeout))
      << "\n[worker]\nconcurrency = " << config_.worker.concurrency
      << "\nlease = " << Quoted(FormatDuration(config_.worker.lease))
      << "\nretry_schedule = " << DurationList(config_.worker.retry_schedule)
      << "\njitter = 0\nrate_limit_per_minute = " << config_.worker.rate_limit_per_minute
      << "\nidle_poll = " << Quoted(FormatDuration(config_.worker.idle_poll))
      << "\nshutdown_timeout = " << Quoted(FormatDuration(config_.worker.shutdown_timeout))
      << "\ndry_run_file = " << Quoted(config_.worker.dry_run_file)
      << "\nmetrics_listen = " << Quoted(config_.worker.metrics_listen) << "\n";
  return path;
}

}  // namespace connector::testing

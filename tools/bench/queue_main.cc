// bench-queue: the SQLite side of the benchmarks, run on a queue file that no
// other process uses at the time.
//
//   insert-rate  Inserts rows shaped like ingest's into a fresh queue with the
//                production settings (WAL, synchronous=FULL, same table, indexes
//                and INSERT statement), --rows-per-commit rows per transaction,
//                for --seconds. The reference limit for ingest.
//   fill         Adds --count pending rows quickly (synchronous=OFF, large
//                transactions), for the worker benchmarks.
//   claim-cost   Times the worker's EventQueue::Claim (--batch rows) --claims
//                times and prints the median wall and CPU time.
//   size         Prints the bytes the file uses per `events` row.
// Every subcommand takes --db=PATH and prints key=value lines.

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <time.h>

#include <chrono>
#include <iostream>
#include <random>

#include "common/clock.h"
#include "common/database.h"
#include "common/event_inserter.h"
#include "common/event_normalizer.h"
#include "common/log.h"
#include "tools/bench/bench_flags.h"
#include "tools/bench/percentiles.h"
#include "tools/bench/posthog_events.h"
#include "worker/event_queue.h"

namespace connector::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Rows as ingest stores them, made by the project's own normaliser from
// posthog-node-shaped bodies. The pool is reused, with a fresh uuid per row,
// so building rows costs almost nothing inside a timed loop.
class RowPool {
 public:
  explicit RowPool(size_t size) {
    std::random_device device;
    tag_ = static_cast<uint32_t>(device());
    PosthogEventFactory factory("fill");
    EventNormalizer normalizer;
    int64_t now_ms = NowUnixMs();
    while (rows_.size() < size) {
      std::vector<std::string> events;
      for (int i = 0; i < 100; ++i) events.push_back(factory.IdentifyEvent(rows_.size() + static_cast<size_t>(i), now_ms));
      CaptureContext context;
      context.received_at_ms = now_ms;
      for (QueuedEvent& event : normalizer.ParseCapture(factory.BatchBody(events, now_ms), context)) {
        rows_.push_back(std::move(event));
      }
    }
  }

  // Returns row number `n` with a uuid no other row of this process shares,
  // in UUIDv7 layout and increasing, as posthog-node's uuids are.
  QueuedEvent& Next(uint64_t n, int64_t now_ms) {
    QueuedEvent& row = rows_[n % rows_.size()];
    char uuid[64];
    std::snprintf(uuid, sizeof(uuid), "%08x-%04x-7%03x-8%03x-%012llx",
                  static_cast<unsigned>(now_ms >> 16), static_cast<unsigned>(now_ms & 0xffff),
                  static_cast<unsigned>(tag_ & 0xfff), static_cast<unsigned>((tag_ >> 12) & 0xfff),
                  static_cast<unsigned long long>(n));
    row.uuid = uuid;
    row.received_at_ms = now_ms;
    return row;
  }

 private:
  std::vector<QueuedEvent> rows_;
  uint32_t tag_ = 0;
};

QueueConfig QueueAt(const std::string& path) {
  QueueConfig config;
  config.path = path;
  config.synchronous = Synchronous::kFull;
  return config;
}

int InsertRate(BenchFlags& flags, const std::string& path) {
  int64_t rows_per_commit = flags.Integer("rows-per-commit", 1);
  double seconds = flags.Number("seconds", 10);
  int64_t max_rows = flags.Integer("max-rows", 5000000);
  flags.RejectUnknown();

  std::unique_ptr<SQLite::Database> db = OpenQueue(QueueAt(path));
  EventInserter inserter(*db);
  RowPool pool(1000);
  auto start = SteadyClock::now();
  auto deadline = start + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  uint64_t rows = 0;
  int64_t commits = 0;
  while (SteadyClock::now() < deadline && static_cast<int64_t>(rows) < max_rows) {
    int64_t now_ms = NowUnixMs();
    inserter.Begin();
    for (int64_t i = 0; i < rows_per_commit; ++i) inserter.Insert(pool.Next(rows++, now_ms));
    inserter.Commit();
    ++commits;
  }
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::cout << "rows=" << rows << "\ncommits=" << commits << "\nelapsed_s=" << elapsed
            << "\nrows_per_s=" << static_cast<double>(rows) / elapsed
            << "\ncommits_per_s=" << static_cast<double>(commits) / elapsed << "\n";
  return 0;
}

int Fill(BenchFlags& flags, const std::string& path) {
  int64_t count = flags.Integer("count", 1000);
  flags.RejectUnknown();

  std::unique_ptr<SQLite::Database> db = OpenQueue(QueueAt(path));
  // Durability does not matter for a file built only to be read by the bench.
  db->exec("PRAGMA synchronous = OFF");
  EventInserter inserter(*db);
  RowPool pool(1000);
  auto start = SteadyClock::now();
  int64_t now_ms = NowUnixMs();
  constexpr int64_t kRowsPerTransaction = 50000;
  for (int64_t done = 0; done < count;) {
    inserter.Begin();
    for (int64_t i = 0; i < kRowsPerTransaction && done < count; ++i, ++done) {
      inserter.Insert(pool.Next(static_cast<uint64_t>(done), now_ms));
    }
    inserter.Commit();
  }
  db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::cout << "filled=" << count << "\nelapsed_s=" << elapsed << "\n";
  return 0;
}

double ThreadCpuMs() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

int ClaimCost(BenchFlags& flags, const std::string& path) {
  int64_t claims = flags.Integer("claims", 50);
  int batch = static_cast<int>(flags.Integer("batch", 64));
  flags.RejectUnknown();

  // Claim logs one line per row at info; the timing is of the database work.
  log::Setup(log::Level::kWarn);
  int64_t pending = 0;
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    pending = db.execAndGet("SELECT COUNT(*) FROM events WHERE state = 'pending'").getInt64();
  }
  SystemClock clock;
  EventQueue queue(QueueAt(path), "bench-claim", clock, Milliseconds(600000));
  for (int i = 0; i < 3; ++i) queue.Claim(batch);  // warm the page cache and statement paths

  std::vector<double> wall_ms;
  std::vector<double> cpu_ms;
  int64_t claimed = 0;
  for (int64_t i = 0; i < claims; ++i) {
    auto started = SteadyClock::now();
    double cpu_started = ThreadCpuMs();
    claimed += static_cast<int64_t>(queue.Claim(batch).size());
    cpu_ms.push_back(ThreadCpuMs() - cpu_started);
    wall_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - started).count());
  }
  std::cout << "pending=" << pending << "\nclaims=" << claims << "\nclaimed=" << claimed
            << "\nwall_p50_ms=" << Quantile(wall_ms, 0.5) << "\nwall_p90_ms=" << Quantile(wall_ms, 0.9)
            << "\ncpu_p50_ms=" << Quantile(cpu_ms, 0.5) << "\ncpu_p90_ms=" << Quantile(cpu_ms, 0.9)
            << "\n";
  return 0;
}

int Size(BenchFlags& flags, const std::string& path) {
  flags.RejectUnknown();
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  int64_t rows = db.execAndGet("SELECT COUNT(*) FROM events").getInt64();
  int64_t page_size = db.execAndGet("PRAGMA page_size").getInt64();
  int64_t pages = db.execAndGet("PRAGMA page_count").getInt64();
  int64_t free_pages = db.execAndGet("PRAGMA freelist_count").getInt64();
  int64_t payload_bytes = db.execAndGet("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events").getInt64();
  double per_row = rows > 0 ? static_cast<double>((pages - free_pages) * page_size) / static_cast<double>(rows) : 0;
  std::cout << "rows=" << rows << "\nused_bytes=" << (pages - free_pages) * page_size
            << "\nbytes_per_event=" << per_row
            << "\npayload_bytes_per_event=" << (rows > 0 ? payload_bytes / rows : 0) << "\n";
  // Per table and index, when this SQLite has the dbstat table.
  try {
    SQLite::Statement parts(db, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC");
    while (parts.executeStep()) {
      std::cout << "bytes_per_event." << parts.getColumn(0).getString() << "="
                << (rows > 0 ? parts.getColumn(1).getInt64() / rows : 0) << "\n";
    }
  } catch (const SQLite::Exception&) {
    std::cout << "dbstat=unavailable\n";
  }
  return 0;
}

int Run(int argc, char** argv) {
  if (argc < 2) throw std::invalid_argument("usage: bench-queue insert-rate|fill|claim-cost|size --db=PATH ...");
  std::string command = argv[1];
  BenchFlags flags(argc, argv, 2);
  std::string path = flags.String("db", "");
  if (path.empty()) throw std::invalid_argument("missing --db=PATH");
  if (command == "insert-rate") return InsertRate(flags, path);
  if (command == "fill") return Fill(flags, path);
  if (command == "claim-cost") return ClaimCost(flags, path);
  if (command == "size") return Size(flags, path);
  throw std::invalid_argument("unknown command \"" + command + "\"");
}

}  // namespace
}  // namespace connector::bench

int main(int argc, char** argv) {
  try {
    return connector::bench::Run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "bench-queue: " << error.what() << "\n";
    return 2;
  }
}

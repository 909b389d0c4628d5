// `intercom-queue import FILE`: load PostHog events from an export into the
// queue through ingest's normaliser and inserter, so an imported row is
// validated and stored exactly like one that arrived over HTTP.

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <SQLiteCpp/Statement.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/event_inserter.h"
#include "common/event_normalizer.h"
#include "common/log.h"
#include "tools/queue/command.h"
#include "tools/queue/output.h"
#include "tools/queue/progress.h"

namespace connector::queue_tool {
namespace {

// Events per insert transaction; see kRowsPerTransaction in transition.cc.
constexpr size_t kEventsPerTransaction = 500;

// Invalid events listed in full before the rest are only counted.
constexpr size_t kMaxListedErrors = 20;

// One event's JSON text and where it sits in the file, for error messages.
struct SourceEvent {
  std::string location;  // "line 12" or "element 12" (both 1-based)
  std::string json;
};

// NOTE: the whole file is read, and every event normalised, before the first
// insert, so memory use is a few times the file size. Split exports of
// several GB with `split -l` (NDJSON) before importing them.
std::string ReadInput(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno) +
                             "; check the path and its permissions");
  }
  text << file.rdbuf();
  return text.str();
}

// Splits a file into single events: a JSON array (a PostHog export) when the
// first non-blank character is '[', otherwise NDJSON with one event per
// non-blank line.
std::vector<SourceEvent> SplitEvents(const std::string& text) {
  std::vector<SourceEvent> events;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return events;

  if (text[first] == '[') {
    // Keep each object's key order, so the stored payload reads like the file.
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(/*preserveObjectOrder=*/true));
    Poco::Dynamic::Var root;
    try {
      root = parser.parse(text);
    } catch (const Poco::Exception& error) {
      throw std::runtime_error("the file starts with '[' but is not a valid JSON array: " +
                               error.displayText());
    }
    Poco::JSON::Array::Ptr array = root.extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < array->size(); ++i) {
      std::ostringstream json;
      Poco::JSON::Stringifier::stringify(array->get(static_cast<unsigned>(i)), json);
      events.push_back({"element " + std::to_string(i + 1), json.str()});
    }
    return events;
  }

  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    events.push_back({"line " + std::to_string(number), line});
  }
  return events;
}

// Returns how many of `events` already have a row, for --dry-run's report.
int64_t CountPresent(SQLite::Database& db, const std::vector<QueuedEvent>& events) {
  SQLite::Statement exists(db, "SELECT 1 FROM events WHERE uuid = ?");
  int64_t present = 0;
  for (const QueuedEvent& event : events) {
    exists.reset();
    exists.bind(1, event.uuid);
    if (exists.executeStep()) ++present;
  }
  return present;
}

int RunImport(Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1) {
    throw UsageError("import needs exactly one FILE (or - for standard input), got " +
                     std::to_string(args.positionals.size()));
  }
  const std::string& path = args.positionals[0];
  bool dry_run = args.Has("--dry-run");
  bool skip_invalid = args.Has("--skip-invalid");

  std::vector<SourceEvent> sources;
  try {
    sources = SplitEvents(ReadInput(path));
  } catch (const std::runtime_error& error) {
    *context.err << "intercom-queue: " << error.what() << "\n";
    return kExitFailed;
  }
  if (sources.empty()) {
    *context.err << "no events in " << path << "\n";
    return kExitNothing;
  }

  // Validate every event first, so by default a file with one bad event
  // imports nothing and can be fixed and loaded again as a whole.
  EventNormalizer normalizer;
  CaptureContext capture;
  capture.received_at_ms = context.clock->NowMs();
  capture.fallback_token = args.Value("--token");
  std::vector<QueuedEvent> events;
  std::vector<std::string> errors;
  ProgressBar checking(*context.err, context.err_is_terminal, "checking ",
                       static_cast<int64_t>(sources.size()));
  for (size_t i = 0; i < sources.size(); ++i) {
    try {
      std::vector<QueuedEvent> parsed = normalizer.ParseCapture(sources[i].json, capture);
      CheckProjectTokens(parsed, context.config.ingest.api_keys);
      for (QueuedEvent& event : parsed) events.push_back(std::move(event));
    } catch (const CaptureError& error) {
      errors.push_back(sources[i].location + ": " + error.what());
    }
    checking.Update(static_cast<int64_t>(i + 1));
  }
  checking.Finish();

  for (size_t i = 0; i < errors.size() && i < kMaxListedErrors; ++i) {
    *context.err << path << ": " << errors[i] << "\n";
  }
  if (errors.size() > kMaxListedErrors) {
    *context.err << "... and " << errors.size() - kMaxListedErrors << " more invalid events\n";
  }
  if (!errors.empty() && !skip_invalid) {
    *context.err << errors.size() << " of " << sources.size()
                 << " events are invalid, so nothing was imported; fix them or pass "
                    "--skip-invalid to import the valid ones\n";
    return kExitFailed;
  }

  // Insert in short transactions, skipping uuids already queued.
  int64_t added = 0;
  int64_t present = 0;
  if (dry_run) {
    present = CountPresent(*context.db, events);
  } else {
    EventInserter inserter(*context.db);
    ProgressBar importing(*context.err, context.err_is_terminal, "importing",
                          static_cast<int64_t>(events.size()));
    for (size_t start = 0; start < events.size(); start += kEventsPerTransaction) {
      size_t end = std::min(events.size(), start + kEventsPerTransaction);
      std::vector<QueuedEvent> batch(events.begin() + static_cast<std::ptrdiff_t>(start),
                                     events.begin() + static_cast<std::ptrdiff_t>(end));
      try {
        added += inserter.InsertBatch(batch);
      } catch (const InsertError& error) {
        importing.Finish();
        *context.err << "intercom-queue: " << error.what() << "; " << added
                     << " events were imported before the error, and importing the file "
                        "again adds only the rest\n";
        return kExitFailed;
      }
      importing.Update(static_cast<int64_t>(end));
    }
    importing.Finish();
    present = static_cast<int64_t>(events.size()) - added;
    log::Info("operator_import", {{"added", added}, {"already_queued", present},
                                  {"invalid", static_cast<int64_t>(errors.size())}});
  }

  if (args.Has("--json")) {
    Poco::JSON::Object::Ptr result = NewJsonObject();
    result->set("command", "import");
    result->set("dry_run", dry_run);
    result->set("read", static_cast<int64_t>(sources.size()));
    result->set("valid", static_cast<int64_t>(events.size()));
    result->set("invalid", static_cast<int64_t>(errors.size()));
    result->set("already_queued", present);
    result->set("added", added);
    PrintJson(*context.out, result);
  } else if (dry_run) {
    *context.out << "dry run: would have imported "
                 << static_cast<int64_t>(events.size()) - present << " events (" << present
                 << " already queued, " << errors.size() << " invalid)\n";
  } else {
    *context.out << "imported " << added << " events (" << present << " already queued, "
                 << errors.size() << " invalid)\n";
  }

  int64_t would_add = dry_run ? static_cast<int64_t>(events.size()) - present : added;
  return would_add > 0 ? kExitDone : kExitNothing;
}

}  // namespace

CommandSpec ImportCommand() {
  CommandSpec spec;
  spec.name = "import";
  spec.arguments = "FILE";
  spec.summary = "Load PostHog events from NDJSON or a JSON array (a PostHog export).";
  spec.description =
      "FILE is a JSON array of events, or NDJSON with one event per line; - reads standard\n"
      "input. Every event goes through the same validation and normalisation as\n"
      "intercom-ingest (event name, distinct_id, uuid, token, created_at from timestamp)\n"
      "and becomes a pending row due at once. An event whose uuid is already queued is\n"
      "left as it is, so importing a file twice adds nothing; an event without a uuid\n"
      "gets a new one, so such events are added again on every import.\n"
      "When [ingest] api_keys is set, events must carry one of those tokens.\n"
      "A file with an invalid event imports nothing unless --skip-invalid is given.\n"
      "A progress bar is drawn on standard error when it is a terminal.\n";
  spec.options = {
      {"--token", "TOKEN", "project token for events that carry none"},
      {"--skip-invalid", "", "import the valid events and list the invalid ones"},
      {"--dry-run", "", "validate and count, change nothing"},
      {"--json", "", "print the result as one JSON object"},
  };
  spec.creates_database = true;
  spec.run = RunImport;
  return spec;
}

}  // namespace connector::queue_tool

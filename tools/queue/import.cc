// `intercom-queue import FILE`: load PostHog events from an export into the
// queue through ingest's normaliser and inserter, so an imported row is
// validated and stored exactly like one that arrived over HTTP.

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <SQLiteCpp/Statement.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <typeinfo>

#include "common/event_inserter.h"
#include "common/event_normalizer.h"
#include "common/json_parser.h"
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

// Nesting deeper than this is rejected, as ingest's normaliser does, before
// it can exhaust the stack.
constexpr size_t kMaxJsonDepth = 64;

// One event's JSON text and where it sits in the file, for error messages.
struct SourceEvent {
  std::string location;  // "line 12" or "element 12" (both 1-based)
  std::string json;
  std::string error;     // why this is not an event object, or "" when it may be one
};

// NOTE: the whole file is read, and every event normalised, before the first
// insert, so memory use is a few times the file size. Split exports of
// several GB with `split -l` (NDJSON) before importing them.
std::string ReadInput(const std::string& path) {
  if (path == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    if (std::cin.bad()) throw std::runtime_error("cannot read standard input");
    return text.str();
  }

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno) +
                             "; check the path and its permissions");
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw std::runtime_error("cannot read " + path +
                             ": it is a directory; give an NDJSON file or a JSON array file");
  }
  std::string text;
  char buffer[65536];
  while (true) {
    ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count == 0) break;
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int error = errno;
      ::close(fd);
      throw std::runtime_error("cannot read " + path + ": " + std::strerror(error));
    }
    text.append(buffer, static_cast<size_t>(count));
  }
  ::close(fd);
  return text;
}

// Returns compact JSON of `value` for an error message, cut at 64 bytes (on a
// UTF-8 character boundary) so a large value cannot flood the terminal.
std::string Excerpt(const Poco::Dynamic::Var& value) {
  std::ostringstream json;
  Poco::JSON::Stringifier::stringify(value, json);
  std::string text = json.str();
  if (text.size() <= 64) return text;
  size_t end = 61;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

// Parses one NDJSON line and returns why it is not an event object, or ""
// when it is one.
std::string CheckLine(const std::string& line) {
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(/*preserveObjectOrder=*/true));
  parser.setDepth(kMaxJsonDepth);
  Poco::Dynamic::Var value;
  try {
    value = parser.parse(line);
  } catch (const Poco::Exception& error) {
    // Poco 1.11 rejects a top-level scalar such as "text" with "Attempt to set
    // value on an empty stack"; inside an array it parses.
    bool scalar = false;
    try {
      parser.reset();
      Poco::JSON::Array::Ptr wrapped =
          parser.parse("[" + line + "]").extract<Poco::JSON::Array::Ptr>();
      if (wrapped->size() == 1) {
        value = wrapped->get(0);
        scalar = true;
      }
    } catch (const Poco::Exception&) {
      // Not valid JSON either way, and the first error names the cause.
    }
    if (!scalar) {
      return "not valid JSON (" + error.message() + "); put one JSON object on each line";
    }
  }
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) return "";
  return Excerpt(value) +
         " is not an event object; put one JSON object with event and distinct_id on each line";
}

// Splits a file into single events: a JSON array (a PostHog export) when the
// first non-blank character is '[', otherwise NDJSON with one event per
// non-blank line. An element or line that is not a JSON object gets its
// error here, because ingest's normaliser would describe it as a whole
// request body.
std::vector<SourceEvent> SplitEvents(const std::string& text) {
  std::vector<SourceEvent> events;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return events;

  if (text[first] == '[') {
    // Keeps each object's key order, so the stored payload reads like the
    // file, and every number exact, as ingest does.
    Poco::Dynamic::Var root;
    try {
      root = ParseJsonExactNumbers(text, kMaxJsonDepth + 1);  // the array adds one level
    } catch (const JsonNumberOutOfRange& error) {
      throw std::runtime_error("the file's " + error.path() + " is " + error.number() +
                               ", beyond the range of a double; write it as a string");
    } catch (const Poco::Exception& error) {
      throw std::runtime_error("the file starts with '[' but is not a valid JSON array: " +
                               error.displayText());
    }
    Poco::JSON::Array::Ptr array = root.extract<Poco::JSON::Array::Ptr>();
    for (size_t i = 0; i < array->size(); ++i) {
      Poco::Dynamic::Var element = array->get(static_cast<unsigned>(i));
      SourceEvent event{"element " + std::to_string(i + 1), "", ""};
      if (element.type() == typeid(Poco::JSON::Object::Ptr)) {
        std::ostringstream json;
        Poco::JSON::Stringifier::stringify(element, json);
        event.json = json.str();
      } else {
        event.error = Excerpt(element) +
                      " is not an event object; each element of the array must be an object "
                      "with event and distinct_id";
      }
      events.push_back(std::move(event));
    }
    return events;
  }

  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    SourceEvent event{"line " + std::to_string(number), line, ""};
    // Ingest's normaliser checks the syntax too, so only lines that cannot be
    // an object are parsed twice.
    if (line[line.find_first_not_of(" \t\r")] != '{') event.error = CheckLine(line);
    events.push_back(std::move(event));
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
    *context.err << "intercom-queue: " << EscapeText(error.what()) << "\n";
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
    const SourceEvent& source = sources[i];
    if (!source.error.empty()) {
      errors.push_back(source.location + ": " + source.error);
      checking.Update(static_cast<int64_t>(i + 1));
      continue;
    }
    try {
      std::vector<QueuedEvent> parsed = normalizer.ParseCapture(source.json, capture);
      CheckProjectTokens(parsed, context.config.ingest.api_keys,
                         "send it as api_key, token, $token or properties.token, or pass "
                         "--token for events that carry none");
      for (QueuedEvent& event : parsed) events.push_back(std::move(event));
    } catch (const CaptureError& error) {
      // A line that starts with '{' but is not valid JSON gets this tool's
      // wording, not the normaliser's, which speaks of a request body.
      std::string line_error = source.location.rfind("line ", 0) == 0 ? CheckLine(source.json) : "";
      errors.push_back(source.location + ": " + (line_error.empty() ? error.what() : line_error));
    }
    checking.Update(static_cast<int64_t>(i + 1));
  }
  checking.Finish();

  for (size_t i = 0; i < errors.size() && i < kMaxListedErrors; ++i) {
    *context.err << EscapeText(path) << ": " << EscapeText(errors[i]) << "\n";
  }
  if (errors.size() > kMaxListedErrors) {
    *context.err << "... and "
                 << FormatCount(static_cast<int64_t>(errors.size() - kMaxListedErrors),
                                "more invalid event")
                 << "\n";
  }
  if (!errors.empty() && !skip_invalid) {
    *context.err << errors.size() << " of "
                 << FormatCount(static_cast<int64_t>(sources.size()), "event")
                 << (errors.size() == 1 ? " is invalid, so nothing was imported; fix it"
                                        : " are invalid, so nothing was imported; fix them")
                 << " or pass "
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
        *context.err << "intercom-queue: " << EscapeText(error.what()) << "; "
                     << FormatCount(added, "event") << (added == 1 ? " was" : " were")
                     << " imported before the error, and importing the file "
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
                 << FormatCount(static_cast<int64_t>(events.size()) - present, "event") << " ("
                 << present << " already queued, " << errors.size() << " invalid)\n";
  } else {
    *context.out << "imported " << FormatCount(added, "event") << " (" << present
                 << " already queued, " << errors.size() << " invalid)\n";
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
  spec.takes_positionals = true;
  spec.open_mode = QueueOpenMode::kCreate;
  spec.run = RunImport;
  return spec;
}

}  // namespace connector::queue_tool

// `intercom-queue list`: the events a filter selects, one line each.

#include "tools/queue/command.h"
#include "tools/queue/event_rows.h"

namespace connector::queue_tool {
namespace {

// Without --limit, list stops here so a first look at a large queue stays
// readable; --limit raises it.
constexpr int64_t kDefaultListLimit = 100;

int RunList(Context& context, const ParsedArgs& args) {
  EventFilter filter = ParseFilter(args, context.clock->NowMs(), /*take_identifiers=*/false);
  if (filter.limit == 0) filter.limit = kDefaultListLimit;
  std::vector<EventRow> rows = SelectEvents(*context.db, filter, "received_at_ms");

  if (args.Has("--json")) {
    Poco::JSON::Array::Ptr json = new Poco::JSON::Array;
    for (const EventRow& row : rows) json->add(EventRowJson(row));
    PrintJson(*context.out, json);
  } else if (!rows.empty()) {
    PrintEventTable(*context.out, rows, context.out_is_terminal);
  }

  if (rows.empty()) {
    *context.err << "no events matched\n";
    return kExitNothing;
  }
  if (static_cast<int64_t>(rows.size()) == filter.limit && !args.Has("--limit")) {
    *context.err << "showing the first " << filter.limit
                 << " events; use --limit N to see more\n";
  }
  return kExitDone;
}

}  // namespace

CommandSpec ListCommand() {
  CommandSpec spec;
  spec.name = "list";
  spec.summary = "List events that match the filters, oldest id first.";
  spec.description =
      "Shows at most 100 events unless --limit is given. Exits 1 when none match.\n";
  spec.options = FilterOptions("received");
  spec.options.push_back({"--json", "", "print a JSON array of events"});
  spec.open_mode = QueueOpenMode::kReadOnly;
  spec.run = RunList;
  return spec;
}

}  // namespace connector::queue_tool

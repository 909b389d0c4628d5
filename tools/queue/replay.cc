// `intercom-queue replay`: delivered -> pending, due now, to send again what
// Intercom lost.

#include "tools/queue/transition.h"

namespace connector::queue_tool {
namespace {

Transition ReplayTransition() {
  Transition transition;
  transition.command = "replay";
  transition.verb_past = "replayed";
  transition.from_states = {"delivered"};
  transition.to_state = "pending";
  transition.history_action = "replayed";
  transition.time_column = "updated_at_ms";
  transition.make_due = true;
  return transition;
}

}  // namespace

CommandSpec ReplayCommand() {
  CommandSpec spec = TransitionCommand(ReplayTransition());
  spec.summary = "Send delivered events again, for example after Intercom lost data.";
  spec.description =
      "Selects delivered events by id or uuid, or by filter; --since/--until compare the\n"
      "time each event was delivered. Each becomes pending and due at once, keeping its\n"
      "created_at and its delivery attempts; event_history records the replay.\n"
      "\n"
      "Replay relies on Intercom de-duplicating data events on (contact, event name,\n"
      "created_at): an event Intercom still has is not stored twice, so a replay\n"
      "re-creates only the events Intercom lost. created_at is fixed when the event is\n"
      "ingested and never recomputed, which is what makes a replay safe to repeat.\n";
  return spec;
}

}  // namespace connector::queue_tool

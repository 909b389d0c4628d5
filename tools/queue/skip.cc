// `intercom-queue skip` and `cancel`: pending or failed -> skipped, with the
// operator's reason. The schema has no separate cancelled state: both end
// in `skipped`, and the event_history action distinguishes them.

#include "tools/queue/transition.h"

namespace connector::queue_tool {
namespace {

Transition StopTransition(const std::string& command, const std::string& verb_past) {
  Transition transition;
  transition.command = command;
  transition.verb_past = verb_past;
  transition.from_states = {"pending", "failed"};
  transition.to_state = "skipped";
  transition.history_action = verb_past;
  transition.time_column = "received_at_ms";
  transition.make_due = false;
  transition.needs_reason = true;
  transition.reason_prefix = verb_past + " by operator: ";
  return transition;
}

CommandSpec StopCommand(const Transition& transition, const std::string& summary,
                        const std::string& use) {
  CommandSpec spec = TransitionCommand(transition);
  spec.summary = summary;
  spec.description =
      "Selects pending or failed events by id or uuid, by filter, or all of them with\n"
      "--all, and moves them to skipped so the worker never sends them. " + use + "\n"
      "The event's reason becomes \"" + transition.reason_prefix + "TEXT\" and\n"
      "event_history records the action \"" + transition.history_action +
      "\". Leased events are being sent\n"
      "right now and are left alone. --since/--until compare the time received.\n";
  return spec;
}

}  // namespace

CommandSpec SkipCommand() {
  return StopCommand(StopTransition("skip", "skipped"),
                     "Mark pending or failed events as not to be sent, with a reason.",
                     "Use it for\nevents that should never reach Intercom, such as test accounts.");
}

CommandSpec CancelCommand() {
  return StopCommand(StopTransition("cancel", "cancelled"),
                     "Withdraw pending or failed events that were queued by mistake.",
                     "Use it for\nevents that should not have been queued, such as a bad import.");
}

}  // namespace connector::queue_tool

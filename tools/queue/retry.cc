// `intercom-queue retry`: failed -> pending, due now.

#include "tools/queue/transition.h"

namespace connector::queue_tool {
namespace {

// The worker reads the "retried" history row's at_ms to start a fresh contact
// wait window, so a retried event gets its full contact_missing schedule again.
Transition RetryTransition() {
  Transition transition;
  transition.command = "retry";
  transition.verb_past = "retried";
  transition.from_states = {"failed"};
  transition.to_state = "pending";
  transition.history_action = "retried";
  transition.time_column = "received_at_ms";
  transition.make_due = true;
  return transition;
}

}  // namespace

CommandSpec RetryCommand() {
  CommandSpec spec = TransitionCommand(RetryTransition());
  spec.summary = "Put failed events back to pending so the worker sends them again now.";
  spec.description =
      "Selects failed events by id or uuid, by filter, or all of them with --all. Each\n"
      "becomes pending and due at once with a fresh retry schedule (attempts counter 0).\n"
      "created_at, the reason of the last failure and every delivery attempt are kept,\n"
      "and event_history records the retry. --since/--until compare the time received.\n";
  return spec;
}

}  // namespace connector::queue_tool

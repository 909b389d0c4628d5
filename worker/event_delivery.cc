#include "worker/event_delivery.h"

#include <cstdlib>

#include "common/log.h"

namespace connector {
namespace {

// Search results are trusted this long; a contact's id does not change, but
// an operator may merge or delete contacts.
constexpr int64_t kContactCacheTtlMs = 60 * 60 * 1000;

// Intercom's rate-limit window when a 429 carries no X-RateLimit-Reset.
constexpr int64_t kDefaultRateLimitWindowMs = 10'000;

std::string JoinNotes(const std::vector<std::string>& notes) {
  std::string joined;
  for (const std::string& note : notes) {
    if (!joined.empty()) joined += "; ";
    joined += note;
  }
  return joined;
}

std::optional<int64_t> HeaderInteger(const HttpResponse& response, const std::string& name) {
  std::string text = response.Header(name);
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return static_cast<int64_t>(value);
}

AttemptRecord MakeAttempt(const HttpResponse& response, const Classification& result,
                          int64_t started_at_ms, const std::string& identifier,
                          const std::string& notes) {
  AttemptRecord record;
  record.started_at_ms = started_at_ms;
  record.duration_ms = response.duration_ms;
  record.outcome = VerdictName(result.verdict);
  if (response.status != 0) record.http_status = response.status;
  record.identifier = identifier;
  record.request_id = result.request_id;
  record.error_code = result.error_code;
  record.error_message = result.error_message;
  if (response.status == 0) record.error = response.error;
  record.notes = notes;
  if (!response.dry_run_file.empty()) {
    // Without this mark the attempt looks like a real 202 from Intercom, and
    // an operator cannot tell which events to replay once a token is set.
    record.dry_run = true;
    std::string note = "dry run: written to " + response.dry_run_file + ", not sent to Intercom";
    record.notes = notes.empty() ? note : notes + "; " + note;
  }
  return record;
}

}  // namespace

DeliveryPolicy::DeliveryPolicy(const Config& config, const Clock& clock_in, Random& random)
    : clock(clock_in),
      filters(config.intercom),
      metadata(config.intercom.metadata_properties, config.intercom.metadata_separator),
      retry(config.worker.retry_schedule, config.worker.jitter, random),
      contact_missing(config.worker.contact_missing_schedule, config.worker.jitter, random),
      limiter(config.worker.rate_limit_per_minute, clock_in),
      gate(config.worker.pause_probe_interval.count(), config.worker.pause_log_interval.count(),
           clock_in),
      contacts(kContactCacheTtlMs, clock_in) {}

EventDelivery::EventDelivery(const IntercomConfig& config, Milliseconds lease, DeliveryPolicy& policy,
                             std::unique_ptr<HttpTransport> transport)
    : policy_(policy),
      transport_(std::move(transport)),
      client_(config, *transport_),
      lease_margin_ms_(std::min((config.connect_timeout + config.request_timeout).count(),
                                lease.count() / 2)) {}

Completion EventDelivery::Release(const ClaimedEvent& event, const std::string& why) {
  Completion completion;
  completion.event_id = event.id;
  completion.state = "pending";
  log::Info("released", {{"event_id", event.id}, {"reason", why}});
  return completion;
}

Completion EventDelivery::Handle(const ClaimedEvent& event, const WaitUntil& wait_until) {
  const Clock& clock = policy_.clock;

  // Filters first: a skipped event costs no request.
  FilterDecision decision =
      policy_.filters.Decide(EventContent{event.name, event.distinct_id, event.payload, event.person});
  if (!decision.send) {
    Completion completion;
    completion.event_id = event.id;
    completion.state = "skipped";
    completion.reason_change = ReasonChange::kSet;
    completion.reason = decision.reason;
    if (!decision.email.empty()) completion.email = decision.email;
    completion.history_action = "skipped";
    completion.history_detail = decision.reason;
    log::Info("skipped", {{"event_id", event.id}, {"reason", decision.reason}});
    return completion;
  }
  if (!policy_.gate.IsOpen() && !event.probe) return Release(event, "delivery paused");
  // A request must start well inside the lease: once it expires another
  // worker may claim the row and send it too. Waiting for a rate-limit slot
  // counts against the lease, so it is checked again after every wait.
  const int64_t send_deadline_ms = event.lease_expires_at_ms - lease_margin_ms_;
  if (clock.NowMs() >= send_deadline_ms) return Release(event, "lease ending before sending");
  int64_t slot_ms = 0;
  WaitUntil wait_in_lease = [&](int64_t until_ms) {
    slot_ms = until_ms;
    if (until_ms >= send_deadline_ms) return false;
    return wait_until(until_ms) && clock.NowMs() < send_deadline_ms;
  };
  // Hands the event back, due at the rate-limit slot it was waiting for, so
  // no worker claims it again before it could be sent.
  auto release_unsent = [&] {
    Completion completion = Release(event, "worker stopping or lease ending");
    if (slot_ms > clock.NowMs()) completion.next_attempt_at_ms = slot_ms;
    return completion;
  };

  Metadata metadata = policy_.metadata.Build(decision.properties);
  std::string notes = JoinNotes(metadata.notes);
  const std::string& email = decision.email;
  std::vector<AttemptRecord> attempts;

  // Address the contact by email unless an earlier search found that only
  // its Intercom id works (a lead, or an email several contacts share).
  ContactIdentifier contact{"email", email};
  if (std::optional<std::string> id = policy_.contacts.Find(email)) contact = {"id", *id};
  bool searched = false;

  while (true) {
    std::string body = IntercomClient::EventBody(event.name, event.created_at, contact, metadata.values);
    int64_t started = clock.NowMs();
    std::optional<HttpResponse> response = SendPaced(body, wait_in_lease);
    if (!response) return release_unsent();
    Classification result = Classify(*response);
    // Any HTTP response other than a rejection of the token shows the token
    // works again (a 404 or a 429 needs an accepted token too).
    if (response->status != 0 && result.verdict != Verdict::kPaused && policy_.gate.Open()) {
      log::Info("resumed", {{"event_id", event.id}, {"status", response->status}});
    }

    bool can_search = contact.field == "email" && !searched &&
                      (result.verdict == Verdict::kContactMissing ||
                       result.verdict == Verdict::kConflict);
    std::string attempt_notes = notes;
    if (can_search) {
      // Email alone cannot address a lead or a shared email; ask Intercom
      // which contact it is, once, and resend with its id.
      searched = true;
      std::optional<ContactSearch> search = SearchPaced(email, wait_in_lease);
      if (!search) return release_unsent();
      std::optional<FoundContact> found;
      if (search->ok) found = ContactDirectory::Choose(search->contacts);
      std::string search_note =
          !search->ok ? "contact search failed: " + Classify(search->response).summary
          : found     ? "contact search found " + found->role + " " + found->id + "; resent with id"
                      : "contact search found " + std::to_string(search->contacts.size()) +
                            " contacts, none chosen";
      attempt_notes = attempt_notes.empty() ? search_note : attempt_notes + "; " + search_note;
      attempts.push_back(MakeAttempt(*response, result, started, contact.field, attempt_notes));
      if (found) {
        policy_.contacts.Remember(email, found->id);
        contact = {"id", found->id};
        continue;
      }
    } else {
      attempts.push_back(MakeAttempt(*response, result, started, contact.field, attempt_notes));
    }

    if (contact.field == "id" && result.verdict == Verdict::kContactMissing) {
      // The cached contact is gone (merged or deleted); search again next time.
      policy_.contacts.Forget(email);
    }
    switch (result.verdict) {
      case Verdict::kDelivered:
      case Verdict::kFailed:
      case Verdict::kConflict:
        return Finish(event, email, result, std::move(attempts));
      case Verdict::kRetry:
        return Retry(event, email, result, std::move(attempts));
      case Verdict::kContactMissing:
        return ContactMissing(event, email, std::move(attempts));
      case Verdict::kPaused:
        return Paused(event, response->status, result, std::move(attempts));
      case Verdict::kRateLimited: {
        std::optional<int64_t> reset_s = HeaderInteger(*response, "X-RateLimit-Reset");
        int64_t until = reset_s && *reset_s * 1000 > clock.NowMs()
                            ? *reset_s * 1000
                            : clock.NowMs() + kDefaultRateLimitWindowMs;
        policy_.limiter.BlockUntil(until);
        Completion completion;
        completion.event_id = event.id;
        completion.state = "pending";
        completion.next_attempt_at_ms = until;
        completion.reason_change = ReasonChange::kSet;
        completion.reason = result.summary;
        completion.email = email;
        completion.attempts = std::move(attempts);
        if (policy_.metrics) policy_.metrics->retries.WithLabels({"rate_limited"}).Increment();
        log::Warn("retry_scheduled", {{"event_id", event.id}, {"status", 429},
                                      {"delay_ms", until - clock.NowMs()},
                                      {"reason", "rate limited"}});
        return completion;
      }
    }
  }
}

std::optional<HttpResponse> EventDelivery::SendPaced(const std::string& body,
                                                     const WaitUntil& wait_until) {
  if (!wait_until(policy_.limiter.Reserve())) return std::nullopt;
  if (policy_.metrics) policy_.metrics->in_flight.Add(1);
  HttpResponse response = client_.SubmitEvent(body);
  if (policy_.metrics) {
    policy_.metrics->in_flight.Add(-1);
    policy_.metrics->ObserveResponse(response);
  }
  ApplyRateLimitHeaders(response);
  return response;
}

std::optional<ContactSearch> EventDelivery::SearchPaced(const std::string& email,
                                                        const WaitUntil& wait_until) {
  if (!wait_until(policy_.limiter.Reserve())) return std::nullopt;
  if (policy_.metrics) policy_.metrics->in_flight.Add(1);
  ContactSearch search = client_.SearchByEmail(email);
  if (policy_.metrics) {
    policy_.metrics->in_flight.Add(-1);
    policy_.metrics->ObserveResponse(search.response);
  }
  ApplyRateLimitHeaders(search.response);
  return search;
}

void EventDelivery::ApplyRateLimitHeaders(const HttpResponse& response) {
  std::optional<int64_t> remaining = HeaderInteger(response, "X-RateLimit-Remaining");
  std::optional<int64_t> reset_s = HeaderInteger(response, "X-RateLimit-Reset");
  if (remaining && policy_.metrics) {
    policy_.metrics->rate_limit_remaining.Set(static_cast<double>(*remaining));
  }
  if (remaining && reset_s) policy_.limiter.OnHeaders(*remaining, *reset_s);
}

Completion EventDelivery::Finish(const ClaimedEvent& event, const std::string& email,
                                 const Classification& result,
                                 std::vector<AttemptRecord> attempts) {
  Completion completion;
  completion.event_id = event.id;
  completion.count_attempt = true;
  completion.email = email;
  completion.attempts = std::move(attempts);
  const AttemptRecord& last = completion.attempts.back();
  int status = last.http_status.value_or(0);
  if (result.verdict == Verdict::kDelivered) {
    completion.state = "delivered";
    completion.reason_change = ReasonChange::kClear;
    if (last.dry_run) {
      log::Info("delivered", {{"event_id", event.id}, {"status", status},
                              {"identifier", last.identifier}, {"dry_run", "true"}});
    } else {
      log::Info("delivered", {{"event_id", event.id}, {"status", status},
                              {"identifier", last.identifier}, {"duration_ms", last.duration_ms}});
    }
    return completion;
  }
  completion.state = "failed";
  completion.reason_change = ReasonChange::kSet;
  completion.reason = result.summary;
  completion.attempts.back().outcome = "failed";
  log::Warn("failed", {{"event_id", event.id}, {"status", status}, {"reason", result.summary},
                       {"request_id", result.request_id}});
  return completion;
}

Completion EventDelivery::Retry(const ClaimedEvent& event, const std::string& email,
                                const Classification& result,
                                std::vector<AttemptRecord> attempts) {
  int failures = event.attempts + 1;
  std::optional<int64_t> delay = policy_.retry.DelayAfter(failures);
  if (!delay) {
    Classification failed = result;
    failed.verdict = Verdict::kFailed;
    failed.summary = "retries used up after " + std::to_string(failures) +
                     " attempts; last error: " + result.summary;
    return Finish(event, email, failed, std::move(attempts));
  }
  Completion completion;
  completion.event_id = event.id;
  completion.state = "pending";
  completion.count_attempt = true;
  completion.next_attempt_at_ms = policy_.clock.NowMs() + *delay;
  completion.reason_change = ReasonChange::kSet;
  completion.reason = result.summary;
  completion.email = email;
  completion.attempts = std::move(attempts);
  if (policy_.metrics) policy_.metrics->retries.WithLabels({"transient"}).Increment();
  log::Warn("retry_scheduled", {{"event_id", event.id}, {"attempt", failures},
                                {"delay_ms", *delay}, {"reason", result.summary}});
  return completion;
}

Completion EventDelivery::ContactMissing(const ClaimedEvent& event, const std::string& email,
                                         std::vector<AttemptRecord> attempts) {
  int misses = event.contact_missing_attempts + 1;
  std::optional<int64_t> delay = policy_.contact_missing.DelayAfter(misses);
  std::string reason = "no Intercom contact for " + email;
  if (!delay) {
    Classification failed;
    failed.verdict = Verdict::kFailed;
    failed.summary = reason;
    return Finish(event, email, failed, std::move(attempts));
  }
  Completion completion;
  completion.event_id = event.id;
  completion.state = "pending";
  completion.count_attempt = true;
  completion.next_attempt_at_ms = policy_.clock.NowMs() + *delay;
  completion.reason_change = ReasonChange::kSet;
  completion.reason = reason + " yet";
  completion.email = email;
  completion.attempts = std::move(attempts);
  if (policy_.metrics) policy_.metrics->retries.WithLabels({"contact_missing"}).Increment();
  log::Warn("retry_scheduled", {{"event_id", event.id}, {"status", 404}, {"delay_ms", *delay},
                                {"reason", completion.reason}});
  return completion;
}

Completion EventDelivery::Paused(const ClaimedEvent& event, int status,
                                 const Classification& result,
                                 std::vector<AttemptRecord> attempts) {
  std::string cause =
      status >= 300 && status < 400
          ? "Intercom's address answered with a redirect (" + result.summary +
                "); check intercom.base_url, or the proxy between the worker and Intercom"
          : "Intercom rejected the access token (" + result.summary +
                "); check intercom.api_key and that intercom.region matches the "
                "workspace's region (us, eu or au)";
  bool newly_closed = policy_.gate.Close(cause);
  if (newly_closed) {
    if (policy_.metrics) policy_.metrics->pauses.Increment();
    log::Error("paused", {{"event_id", event.id}, {"reason", cause}});
  } else if (policy_.gate.ShouldLogAgain()) {
    log::Error("still_paused", {{"event_id", event.id}, {"reason", cause}});
  }
  // The event waits for the token to be fixed; the attempt does not count.
  Completion completion;
  completion.event_id = event.id;
  completion.state = "pending";
  completion.reason_change = ReasonChange::kSet;
  completion.reason = result.summary;
  completion.attempts = std::move(attempts);
  return completion;
}

}  // namespace connector

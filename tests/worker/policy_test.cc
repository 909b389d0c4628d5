// Unit tests of the worker's policy classes: retry schedule, rate limiter,
// pause gate, response classification, contact choice and the request body.

#include <gtest/gtest.h>

#include "tests/worker/fakes.h"
#include "worker/contact_directory.h"
#include "worker/intercom_client.h"
#include "worker/pause_gate.h"
#include "worker/rate_limiter.h"
#include "worker/response_classifier.h"
#include "worker/retry_policy.h"

namespace connector {
namespace {

using testing::FakeClock;
using testing::FixedRandom;

std::vector<Milliseconds> Seconds(std::initializer_list<int> values) {
  std::vector<Milliseconds> out;
  for (int value : values) out.push_back(std::chrono::seconds(value));
  return out;
}

TEST(RetryPolicyTest, FollowsScheduleWithoutJitter) {
  FixedRandom random(0.9);
  RetryPolicy policy(Seconds({5, 300, 1800}), 0.0, random);
  EXPECT_EQ(policy.DelayAfter(1), 5000);
  EXPECT_EQ(policy.DelayAfter(2), 300000);
  EXPECT_EQ(policy.DelayAfter(3), 1800000);
  EXPECT_FALSE(policy.DelayAfter(4).has_value());
  EXPECT_FALSE(policy.DelayAfter(0).has_value());
}

TEST(RetryPolicyTest, JitterScalesBothWays) {
  FixedRandom low(0.0);
  FixedRandom middle(0.5);
  FixedRandom high(0.75);
  EXPECT_EQ(RetryPolicy(Seconds({10}), 0.2, low).DelayAfter(1), 8000);
  EXPECT_EQ(RetryPolicy(Seconds({10}), 0.2, middle).DelayAfter(1), 10000);
  EXPECT_EQ(RetryPolicy(Seconds({10}), 0.2, high).DelayAfter(1), 11000);
}

TEST(RateLimiterTest, SpacesAtConfiguredRate) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(600, clock);  // one every 100 ms
  EXPECT_EQ(limiter.Reserve(), 1'000'000);
  EXPECT_EQ(limiter.Reserve(), 1'000'100);
  EXPECT_EQ(limiter.Reserve(), 1'000'200);
  clock.Advance(1000);
  EXPECT_EQ(limiter.Reserve(), 1'001'000);
}

TEST(RateLimiterTest, ZeroMeansUnlimited) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(0, clock);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.Reserve(), 1'000'000);
}

TEST(RateLimiterTest, SpreadsRemainingUntilReset) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(0, clock);
  limiter.OnHeaders(/*remaining=*/4, /*reset_s=*/1'002);  // 2000 ms left, 4 requests
  EXPECT_EQ(limiter.Reserve(), 1'000'000);
  EXPECT_EQ(limiter.Reserve(), 1'000'500);
  EXPECT_EQ(limiter.Reserve(), 1'001'000);
}

TEST(RateLimiterTest, HeadersKeepSlotsAlreadyHandedOut) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(600, clock);  // one every 100 ms
  EXPECT_EQ(limiter.Reserve(), 1'000'000);
  EXPECT_EQ(limiter.Reserve(), 1'000'100);
  EXPECT_EQ(limiter.Reserve(), 1'000'200);
  // A response with plenty left: the configured pace still applies, after
  // the slots other threads already hold.
  limiter.OnHeaders(/*remaining=*/1000, /*reset_s=*/1'010);
  EXPECT_EQ(limiter.Reserve(), 1'000'300);
}

TEST(RateLimiterTest, WaitsForResetWhenWindowSpent) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(10000, clock);
  limiter.OnHeaders(/*remaining=*/0, /*reset_s=*/1'003);
  EXPECT_EQ(limiter.Reserve(), 1'003'000);
  clock.Set(1'003'000);
  // The window the headers described is over: the configured pace applies.
  EXPECT_EQ(limiter.Reserve(), 1'003'006);
}

TEST(RateLimiterTest, BlockUntilHoldsEverySlot) {
  FakeClock clock(1'000'000);
  RateLimiter limiter(0, clock);
  limiter.BlockUntil(1'010'000);
  EXPECT_EQ(limiter.Reserve(), 1'010'000);
  EXPECT_EQ(limiter.Reserve(), 1'010'000);
}

TEST(PauseGateTest, ProbesOncePerInterval) {
  FakeClock clock(1'000'000);
  PauseGate gate(1000, 60000, clock);
  EXPECT_TRUE(gate.IsOpen());
  EXPECT_TRUE(gate.Close("bad token"));
  EXPECT_FALSE(gate.Close("bad token"));
  EXPECT_FALSE(gate.IsOpen());
  EXPECT_FALSE(gate.TakeProbe());
  clock.Advance(1000);
  EXPECT_TRUE(gate.TakeProbe());
  EXPECT_FALSE(gate.TakeProbe());
  clock.Advance(1000);
  EXPECT_TRUE(gate.TakeProbe());
  EXPECT_TRUE(gate.Open());
  EXPECT_FALSE(gate.Open());
  EXPECT_FALSE(gate.TakeProbe());
}

TEST(PauseGateTest, ReturnedProbeIsDueAgain) {
  FakeClock clock(1'000'000);
  PauseGate gate(1000, 60000, clock);
  gate.Close("bad token");
  clock.Advance(1000);
  EXPECT_TRUE(gate.TakeProbe());
  gate.ReturnProbe();
  EXPECT_TRUE(gate.TakeProbe());
}

TEST(PauseGateTest, LogsAgainAtBoundedRate) {
  FakeClock clock(1'000'000);
  PauseGate gate(1000, 60000, clock);
  gate.Close("bad token");
  EXPECT_FALSE(gate.ShouldLogAgain());
  clock.Advance(59999);
  EXPECT_FALSE(gate.ShouldLogAgain());
  clock.Advance(1);
  EXPECT_TRUE(gate.ShouldLogAgain());
  EXPECT_FALSE(gate.ShouldLogAgain());
}

HttpResponse Answer(int status, const std::string& body = "") {
  HttpResponse response;
  response.status = status;
  response.body = body;
  return response;
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  return R"({"type":"error.list","request_id":"r1","errors":[{"code":")" + code +
         R"(","message":")" + message + R"("}]})";
}

TEST(ResponseClassifierTest, TableOfAnswers) {
  struct Case {
    HttpResponse response;
    Verdict verdict;
  };
  HttpResponse network;
  network.error = "Connection refused";
  const Case cases[] = {
      {Answer(202), Verdict::kDelivered},
      {Answer(200), Verdict::kDelivered},
      {Answer(201, "{}"), Verdict::kDelivered},
      {Answer(202, " \r\n"), Verdict::kDelivered},
      {Answer(204), Verdict::kDelivered},
      {Answer(200, R"({"type":"event","id":"e1"})"), Verdict::kDelivered},
      {Answer(200, ErrorBody("parameter_invalid", "bad")), Verdict::kRetry},
      {Answer(200, R"({"errors":[{"code":"x"}]})"), Verdict::kRetry},
      {Answer(202, "<html>Sign in to the Wi-Fi</html>"), Verdict::kRetry},
      {Answer(202, "[]"), Verdict::kRetry},
      {Answer(202, "{\"type\":"), Verdict::kRetry},
      {Answer(301), Verdict::kPaused},
      {Answer(302), Verdict::kPaused},
      {Answer(308), Verdict::kPaused},
      {Answer(408), Verdict::kRetry},
      {Answer(500), Verdict::kRetry},
      {Answer(503, "<html>busy</html>"), Verdict::kRetry},
      {network, Verdict::kRetry},
      {Answer(429, ErrorBody("rate_limit_exceeded", "slow down")), Verdict::kRateLimited},
      {Answer(401, ErrorBody("unauthorized", "Access Token Invalid")), Verdict::kPaused},
      {Answer(403), Verdict::kPaused},
      {Answer(400, ErrorBody("token_revoked", "revoked")), Verdict::kPaused},
      {Answer(404, ErrorBody("not_found", "User Not Found")), Verdict::kContactMissing},
      {Answer(404, ErrorBody("route_not_found", "no route")), Verdict::kFailed},
      {Answer(409, ErrorBody("conflict", "Multiple existing users")), Verdict::kConflict},
      {Answer(400, ErrorBody("parameter_invalid", "bad")), Verdict::kFailed},
      {Answer(406), Verdict::kFailed},
      {Answer(422, ErrorBody("parameter_invalid", "too many event names")), Verdict::kFailed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.response.status) + " " + c.response.body);
    EXPECT_EQ(Classify(c.response).verdict, c.verdict);
  }
}

TEST(ResponseClassifierTest, KeepsIntercomErrorDetails) {
  Classification result = Classify(Answer(422, ErrorBody("parameter_invalid", "Name too long")));
  EXPECT_EQ(result.request_id, "r1");
  EXPECT_EQ(result.error_code, "parameter_invalid");
  EXPECT_EQ(result.error_message, "Name too long");
  EXPECT_EQ(result.summary, "HTTP 422 parameter_invalid: Name too long");
}

TEST(ResponseClassifierTest, OversizedBodyIsNeverSuccess) {
  HttpResponse accepted = Answer(202, "{}");
  accepted.body_too_large = true;
  Classification result = Classify(accepted);
  EXPECT_EQ(result.verdict, Verdict::kRetry);
  EXPECT_EQ(result.summary, "HTTP 202 with an unexpected body over 1048576 bytes, starting \"{}\"");

  HttpResponse server_error = Answer(500, std::string(300, 'x'));
  server_error.body_too_large = true;
  result = Classify(server_error);
  EXPECT_EQ(result.verdict, Verdict::kRetry);
  EXPECT_EQ(result.summary,
            "HTTP 500 with a body over 1048576 bytes, starting \"" + std::string(200, 'x') + "\"");
}

TEST(ResponseClassifierTest, SuccessSummaryNamesBody) {
  EXPECT_EQ(Classify(Answer(202)).summary, "HTTP 202");
  EXPECT_EQ(Classify(Answer(200, ErrorBody("parameter_invalid", "Name too long"))).summary,
            "HTTP 200 but the body is an Intercom error, parameter_invalid: Name too long");
  EXPECT_EQ(Classify(Answer(200, "<html>Sign in</html>")).summary,
            "HTTP 200 with an unexpected body \"<html>Sign in</html>\"");
  EXPECT_EQ(Classify(Answer(201, R"({"type":"error.list"})")).summary,
            R"(HTTP 201 with an unexpected body "{"type":"error.list"}")");
}

TEST(ResponseClassifierTest, FailureSummaryQuotesBody) {
  EXPECT_EQ(Classify(Answer(400)).summary, "HTTP 400");
  EXPECT_EQ(Classify(Answer(400, "Bad Request")).summary, "HTTP 400 with body \"Bad Request\"");
  EXPECT_EQ(Classify(Answer(422, "{}")).summary, "HTTP 422 with body \"{}\"");

  // Control characters and bytes that are not UTF-8 are escaped, and UTF-8 stays.
  EXPECT_EQ(Classify(Answer(400, "caf\xc3\xa9\r\n\tline\x01\x7f\xff\xc3 \\")).summary,
            "HTTP 400 with body \"caf\xc3\xa9\\r\\n\\tline\\x01\\x7f\\xff\\xc3 \\\\\"");

  // The first 200 bytes, then the size. A character cut at the end is escaped.
  std::string long_page = std::string(199, 'a') + "\xc3\xa9" + std::string(100, 'b');
  EXPECT_EQ(Classify(Answer(503, long_page)).summary,
            "HTTP 503 with body \"" + std::string(199, 'a') + "\\xc3\"... (301 bytes)");

  // Intercom's own code and message win over the body, escaped too.
  EXPECT_EQ(Classify(Answer(422, ErrorBody("parameter_invalid", "two\\nlines"))).summary,
            "HTTP 422 parameter_invalid: two\\nlines");
}

TEST(ResponseClassifierTest, RedirectSummaryNamesLocation) {
  HttpResponse redirect = Answer(302, "<a href=\"https://example.com/login\">moved</a>");
  redirect.headers.emplace_back("location", "https://example.com/login");
  Classification result = Classify(redirect);
  EXPECT_EQ(result.verdict, Verdict::kPaused);
  EXPECT_EQ(result.summary,
            "HTTP 302 redirect to \"https://example.com/login\", which the worker does not "
            "follow; check intercom.base_url");
  // Without a Location the body is quoted as for any other failure.
  EXPECT_EQ(Classify(Answer(307, "moved")).summary, "HTTP 307 with body \"moved\"");
}

TEST(ContactDirectoryTest, ChoosesOnlyUserThenOnlyLead) {
  std::vector<FoundContact> one_user_and_lead = {{"l1", "lead", "a@x.io"}, {"u1", "user", "a@x.io"}};
  EXPECT_EQ(ContactDirectory::Choose(one_user_and_lead)->id, "u1");
  EXPECT_EQ(ContactDirectory::Choose({{"l1", "lead", "a@x.io"}})->id, "l1");
  EXPECT_FALSE(ContactDirectory::Choose({}).has_value());
  EXPECT_FALSE(
      ContactDirectory::Choose({{"u1", "user", "a@x.io"}, {"u2", "user", "a@x.io"}}).has_value());
  EXPECT_FALSE(
      ContactDirectory::Choose({{"l1", "lead", "a@x.io"}, {"l2", "lead", "a@x.io"}}).has_value());
}

TEST(ContactDirectoryTest, CacheExpires) {
  FakeClock clock(1'000'000);
  ContactDirectory directory(1000, clock);
  directory.Remember("Ann@Example.com", "c1");
  EXPECT_EQ(directory.Find("ann@example.com"), "c1");
  clock.Advance(1000);
  EXPECT_FALSE(directory.Find("ann@example.com").has_value());
}

TEST(IntercomClientTest, EventBodyFieldsInOrder) {
  Poco::JSON::Object::Ptr metadata = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  EXPECT_EQ(IntercomClient::EventBody("$identify", 1700000000, {"email", "a@example.com"}, metadata),
            R"({"event_name":"$identify","created_at":1700000000,"email":"a@example.com"})");
  metadata->set("plan", "pro");
  EXPECT_EQ(IntercomClient::EventBody("signed_up", 5, {"id", "abc"}, metadata),
            R"({"event_name":"signed_up","created_at":5,"id":"abc","metadata":{"plan":"pro"}})");
}

}  // namespace
}  // namespace connector

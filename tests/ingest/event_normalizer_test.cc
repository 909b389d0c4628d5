#include "common/event_normalizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace connector {
namespace {

// 2026-01-01T00:00:00Z, the receive time of every request in these tests.
constexpr int64_t kReceivedMs = 1767225600000;
// 2025-12-31T10:00:00Z.
constexpr int64_t kTenAm = 1767175200;

CaptureContext Context(int max_events = 0, std::string fallback_token = "") {
  CaptureContext context;
  context.received_at_ms = kReceivedMs;
  context.max_events = max_events;
  context.fallback_token = std::move(fallback_token);
  return context;
}

EventNormalizer FixedUuidNormalizer() {
  return EventNormalizer([](int64_t) { return std::string("00000000-0000-7000-8000-000000000001"); });
}

// Returns the error for `json`, failing the test when there is none.
CaptureError ParseError(const std::string& json, const CaptureContext& context = Context()) {
  try {
    EventNormalizer().ParseCapture(json, context);
  } catch (const CaptureError& error) {
    return error;
  }
  ADD_FAILURE() << "no CaptureError for " << json;
  return CaptureError(CaptureError::Kind::kInvalid, "");
}

TEST(EventNormalizer, BatchObjectLikePosthogNode) {
  std::string body = R"({"api_key":"phc_top","sent_at":"2026-01-01T00:00:00.000Z","batch":[
    {"event":"$identify","distinct_id":"u1","uuid":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
     "timestamp":"2026-01-01T00:00:00.000Z","properties":{"$set":{"email":"a@example.com"}}},
    {"event":"clicked","distinct_id":"u2","timestamp":"2026-01-01T00:00:00.000Z"}]})";
  std::vector<QueuedEvent> events = FixedUuidNormalizer().ParseCapture(body, Context());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "$identify");
  EXPECT_EQ(events[0].distinct_id, "u1");
  EXPECT_EQ(events[0].uuid, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(events[0].project_token, "phc_top");
  EXPECT_EQ(events[0].received_at_ms, kReceivedMs);
  EXPECT_EQ(events[0].created_at, kReceivedMs / 1000);
  EXPECT_NE(events[0].payload.find(R"("$set":{"email":"a@example.com"})"), std::string::npos);
  EXPECT_FALSE(events[0].person.has_value());
  EXPECT_EQ(events[1].uuid, "00000000-0000-7000-8000-000000000001");
  EXPECT_EQ(events[1].project_token, "phc_top");
}

TEST(EventNormalizer, PlainArrayAndSingleEvent) {
  auto array = EventNormalizer().ParseCapture(
      R"([{"event":"a","distinct_id":"d1"},{"event":"b","distinct_id":"d2"}])", Context());
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[1].event, "b");
  EXPECT_FALSE(array[0].project_token.has_value());

  auto single = EventNormalizer().ParseCapture(R"({"event":"a","distinct_id":"d1"})", Context());
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].payload, R"({"event":"a","distinct_id":"d1"})");
}

TEST(EventNormalizer, PayloadKeepsKeyOrderAndUnicode) {
  std::string body = "{\"z\":1,\"event\":\"caf\xC3\xA9\",\"distinct_id\":\"d\",\"a\":[1.5,null,true]}";
  auto events = EventNormalizer().ParseCapture(body, Context());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, body);
  EXPECT_EQ(events[0].event, "caf\xC3\xA9");
}

TEST(EventNormalizer, PayloadKeeps64BitIntegersExact) {
  const char* const numbers[] = {
      "9223372036854775807", "-9223372036854775807", "-9223372036854775808",
      "-9007199254740993",   "18446744073709551615",
  };
  for (const char* number : numbers) {
    std::string body = R"({"event":"e","distinct_id":"d","properties":{"seats":)" +
                       std::string(number) + "}}";
    auto events = EventNormalizer().ParseCapture(body, Context());
    ASSERT_EQ(events.size(), 1u) << body;
    EXPECT_EQ(events[0].payload, body);
  }
}

TEST(EventNormalizer, LargerIntegersStoredAsDoubles) {
  struct Case {
    std::string number;
    std::string stored;  // how the payload writes the nearest double
  };
  const Case cases[] = {
      {"18446744073709551616", "1.8446744073709552e+19"},
      {"-9223372036854775809", "-9.223372036854776e+18"},
      {"12345678901234567890123", "1.2345678901234568e+22"},
  };
  for (const Case& c : cases) {
    std::string body = R"({"batch":[{"event":"e","distinct_id":"d","properties":{"seats":)" +
                       c.number + "}}]}";
    auto events = EventNormalizer().ParseCapture(body, Context());
    ASSERT_EQ(events.size(), 1u) << body;
    EXPECT_EQ(events[0].payload,
              R"({"event":"e","distinct_id":"d","properties":{"seats":)" + c.stored + "}}");
  }
}

TEST(EventNormalizer, NumberBeyondDoubleRejectedByPath) {
  std::string body = R"({"batch":[{"event":"e","distinct_id":"d"},)"
                     R"({"event":"e","distinct_id":"d","properties":{"seats":1e400}}]})";
  CaptureError error = ParseError(body);
  EXPECT_EQ(error.kind(), CaptureError::Kind::kInvalid);
  std::string message = error.what();
  EXPECT_NE(message.find("$.batch[1].properties.seats is 1e400"), std::string::npos) << message;
  EXPECT_NE(message.find("send it as a string, such as \"1e400\""), std::string::npos) << message;
  EXPECT_EQ(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(EventNormalizer, LargeNumericDistinctIdExact) {
  auto negative =
      EventNormalizer().ParseCapture(R"({"event":"e","distinct_id":-9223372036854775807})", Context());
  EXPECT_EQ(negative[0].distinct_id, "-9223372036854775807");
  auto unsigned_id =
      EventNormalizer().ParseCapture(R"({"event":"e","distinct_id":18446744073709551615})", Context());
  EXPECT_EQ(unsigned_id[0].distinct_id, "18446744073709551615");
}

TEST(EventNormalizer, TokenFromEachPlace) {
  struct Case {
    std::string body;
    std::string fallback;
    std::optional<std::string> token;
  };
  const Case cases[] = {
      {R"({"event":"e","distinct_id":"d","api_key":"t1"})", "", "t1"},
      {R"({"event":"e","distinct_id":"d","token":"t2"})", "", "t2"},
      {R"({"event":"e","distinct_id":"d","$token":"t3"})", "", "t3"},
      {R"({"event":"e","distinct_id":"d","properties":{"token":"t4"}})", "", "t4"},
      {R"({"api_key":"t5","batch":[{"event":"e","distinct_id":"d"}]})", "", "t5"},
      {R"({"token":"t6","batch":[{"event":"e","distinct_id":"d"}]})", "", "t6"},
      {R"({"event":"e","distinct_id":"d"})", "t7", "t7"},
      // The event's own token wins over the batch's and the query's.
      {R"({"api_key":"top","batch":[{"event":"e","distinct_id":"d","properties":{"token":"t8"}}]})",
       "query", "t8"},
      {R"({"event":"e","distinct_id":"d","api_key":""})", "", std::nullopt},
      {R"({"event":"e","distinct_id":"d"})", "", std::nullopt},
  };
  for (const Case& c : cases) {
    auto events = EventNormalizer().ParseCapture(c.body, Context(0, c.fallback));
    ASSERT_EQ(events.size(), 1u) << c.body;
    EXPECT_EQ(events[0].project_token, c.token) << c.body;
  }
}

TEST(EventNormalizer, DistinctIdForms) {
  auto from_properties = EventNormalizer().ParseCapture(
      R"({"event":"e","properties":{"distinct_id":"p1"}})", Context());
  EXPECT_EQ(from_properties[0].distinct_id, "p1");
  auto number = EventNormalizer().ParseCapture(R"({"event":"e","distinct_id":12345})", Context());
  EXPECT_EQ(number[0].distinct_id, "12345");
  auto long_id = EventNormalizer().ParseCapture(
      R"({"event":"e","distinct_id":")" + std::string(300, 'x') + "\"}", Context());
  EXPECT_EQ(long_id[0].distinct_id, std::string(200, 'x'));
  auto with_nul = EventNormalizer().ParseCapture(R"({"event":"a\u0000b","distinct_id":"c\u0000d"})",
                                                 Context());
  EXPECT_EQ(with_nul[0].event, "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(with_nul[0].distinct_id, "c\xEF\xBF\xBD" "d");
}

TEST(EventNormalizer, InvalidEventsRejectedByName) {
  struct Case {
    std::string body;
    std::string expected_text;
  };
  const Case cases[] = {
      {R"({"distinct_id":"d"})", "event name is missing"},
      {R"({"event":"","distinct_id":"d"})", "event name is \"\""},
      {R"({"event":42,"distinct_id":"d"})", "event name is 42"},
      {R"({"event":"e"})", "distinct_id is missing"},
      {R"({"event":"e","distinct_id":""})", "distinct_id is missing or empty"},
      {R"({"event":"e","distinct_id":{"a":1}})", "distinct_id"},
      {R"({"event":"e","distinct_id":true})", "distinct_id true is not a string"},
      {R"({"event":"e","distinct_id":"d","uuid":"not-a-uuid"})", "uuid \"not-a-uuid\" is not a UUID"},
      {R"({"event":"e","distinct_id":"d","properties":[1]})", "properties is"},
      {R"([{"event":"e","distinct_id":"d"},{"event":"e"}])", "events[1]: distinct_id"},
      {R"({"batch":[{"event":"e","distinct_id":"d"},"x"]})", "batch[1]: is \"x\""},
      {R"({"batch":{}})", "batch is"},
      {R"({"batch":[]})", "batch is empty"},
      {R"([])", "events is empty"},
      {R"("just a string")", "not a JSON object or array"},
      {R"(42)", "not a JSON object or array"},
      {R"({"event":"e",)", "not valid JSON"},
      {R"({"event":"e","distinct_id":"d"} trailing)", "not valid JSON"},
      {std::string(100, '[') + std::string(100, ']'), "not valid JSON"},
  };
  for (const Case& c : cases) {
    CaptureError error = ParseError(c.body);
    EXPECT_EQ(error.kind(), CaptureError::Kind::kInvalid) << c.body;
    EXPECT_NE(std::string(error.what()).find(c.expected_text), std::string::npos)
        << c.body << " gave: " << error.what();
  }
}

TEST(EventNormalizer, TooManyEventsIsTooLarge) {
  std::string body = R"([{"event":"e","distinct_id":"d"},{"event":"e","distinct_id":"d"},)"
                     R"({"event":"e","distinct_id":"d"}])";
  EXPECT_EQ(EventNormalizer().ParseCapture(body, Context(3)).size(), 3u);
  CaptureError error = ParseError(body, Context(2));
  EXPECT_EQ(error.kind(), CaptureError::Kind::kTooLarge);
  EXPECT_NE(std::string(error.what()).find("max_events_per_request=2"), std::string::npos);
}

// Poco spends time in the square of an object's key count, so an event with
// more than 1,000 properties is rejected before parsing.
TEST(EventNormalizer, TooManyPropertiesIsTooLarge) {
  auto with_properties = [](int count) {
    std::string body = R"({"event":"e","distinct_id":"d","properties":{)";
    for (int i = 0; i < count; ++i) body += (i > 0 ? ",\"p" : "\"p") + std::to_string(i) + "\":0";
    return body + "}}";
  };
  EXPECT_EQ(EventNormalizer().ParseCapture(with_properties(1000), Context()).size(), 1u);
  CaptureError error = ParseError(with_properties(1001));
  EXPECT_EQ(error.kind(), CaptureError::Kind::kTooLarge);
  EXPECT_NE(std::string(error.what()).find("body has an object with more than 1000 keys"),
            std::string::npos)
      << error.what();
  EXPECT_NE(std::string(error.what()).find("send fewer properties per event"), std::string::npos);
}

TEST(EventNormalizer, GeneratedUuidsAreDistinctV7) {
  auto events = EventNormalizer().ParseCapture(
      R"([{"event":"e","distinct_id":"d"},{"event":"e","distinct_id":"d","uuid":null}])", Context());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].uuid, events[1].uuid);
  for (const QueuedEvent& event : events) {
    ASSERT_EQ(event.uuid.size(), 36u);
    EXPECT_EQ(event.uuid[14], '7') << event.uuid;
    EXPECT_NE(std::string("89ab").find(event.uuid[19]), std::string::npos) << event.uuid;
    // The first 48 bits are the receive time in milliseconds.
    EXPECT_EQ(std::stoll(event.uuid.substr(0, 8) + event.uuid.substr(9, 4), nullptr, 16),
              kReceivedMs);
  }
}

TEST(EventNormalizer, CreatedAtTable) {
  struct Case {
    std::string fields;  // JSON members added to {"event":"e","distinct_id":"d", ...}
    int64_t created_at;
  };
  const Case cases[] = {
      // ISO 8601 with Z, with and without fractions (fractions are cut, not rounded).
      {R"("timestamp":"2025-12-31T10:00:00Z")", kTenAm},
      {R"("timestamp":"2025-12-31T10:00:00.999Z")", kTenAm},
      {R"("timestamp":"2025-12-31T10:00:00.123456789Z")", kTenAm},
      {R"("timestamp":"2025-12-31T10:00Z")", kTenAm},
      // Offsets in each form.
      {R"("timestamp":"2025-12-31T12:00:00+02:00")", kTenAm},
      {R"("timestamp":"2025-12-31T05:30:00.000-04:30")", kTenAm},
      {R"("timestamp":"2025-12-31T15:30:00+0530")", kTenAm},
      {R"("timestamp":"2026-01-01T01:00:00+15")", kTenAm},
      // No offset means UTC; a space may replace the T.
      {R"("timestamp":"2025-12-31T10:00:00")", kTenAm},
      {R"("timestamp":"2025-12-31 10:00:00.5")", kTenAm},
      {R"("timestamp":"2025-12-31")", kTenAm - 10 * 3600},
      {R"("timestamp":"2024-02-29T00:00:00Z")", 1709164800},
      // Numbers: seconds, fractional seconds, milliseconds, and as strings.
      {R"("timestamp":1767175200)", kTenAm},
      {R"("timestamp":1767175200.9)", kTenAm},
      {R"("timestamp":1767175200123)", kTenAm},
      {R"("timestamp":"1767175200")", kTenAm},
      {R"("timestamp":"1767175200123")", kTenAm},
      // sent_at cancels clock skew: received + (timestamp - sent_at).
      {R"("timestamp":"2025-12-31T10:00:00Z","sent_at":"2025-12-31T10:00:30Z")",
       kReceivedMs / 1000 - 30},
      {R"("timestamp":"2026-01-01T01:00:00Z","sent_at":"2026-01-01T01:00:05.000+00:00")",
       kReceivedMs / 1000 - 5},
      {R"("timestamp":1767175200000,"sent_at":1767175230000)", kReceivedMs / 1000 - 30},
      // ...unless the event opts out.
      {R"("timestamp":"2025-12-31T10:00:00Z","sent_at":"2025-12-31T10:00:30Z",)"
       R"("properties":{"$ignore_sent_at":true})",
       kTenAm},
      // sent_at alone changes nothing.
      {R"("sent_at":"2025-12-31T10:00:30Z")", kReceivedMs / 1000},
      // Missing or null timestamp: the receive time; offset counts back from it.
      {"\"x\":0", kReceivedMs / 1000},
      {R"("timestamp":null)", kReceivedMs / 1000},
      {R"("offset":5000)", kReceivedMs / 1000 - 5},
  };
  for (const Case& c : cases) {
    std::string body = R"({"event":"e","distinct_id":"d",)" + c.fields + "}";
    auto events = EventNormalizer().ParseCapture(body, Context());
    ASSERT_EQ(events.size(), 1u) << body;
    EXPECT_EQ(events[0].created_at, c.created_at) << body;
  }
}

TEST(EventNormalizer, BatchSentAtAppliesToEachEvent) {
  std::string body = R"({"sent_at":"2025-12-31T10:01:00Z","batch":[
      {"event":"e","distinct_id":"d","timestamp":"2025-12-31T10:00:00Z"},
      {"event":"e","distinct_id":"d","timestamp":"2025-12-31T10:00:00Z","sent_at":"2025-12-31T10:00:00Z"}]})";
  auto events = EventNormalizer().ParseCapture(body, Context());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].created_at, kReceivedMs / 1000 - 60);
  EXPECT_EQ(events[1].created_at, kReceivedMs / 1000);
}

TEST(EventNormalizer, InvalidTimesRejected) {
  const std::string cases[] = {
      R"("timestamp":"yesterday")",
      R"("timestamp":"2025-13-01T00:00:00Z")",
      R"("timestamp":"2025-02-29T00:00:00Z")",
      R"("timestamp":"2025-12-31T24:00:00Z")",
      R"("timestamp":"2025-12-31T10:00:00+25:00")",
      R"("timestamp":"2025-12-31T10:00:00Zjunk")",
      R"("timestamp":"0x1p40")",
      R"("timestamp":" 1767225600")",
      R"("timestamp":"+1767225600")",
      R"("timestamp":"1767225600 ")",
      R"("timestamp":-5)",
      R"("timestamp":1e20)",
      R"("timestamp":true)",
      R"("timestamp":false)",
      R"("timestamp":{})",
      R"("timestamp":"2025-12-31T10:00:00Z","sent_at":"soon")",
      R"("offset":"5s")",
  };
  for (const std::string& fields : cases) {
    std::string body = R"({"event":"e","distinct_id":"d",)" + fields + "}";
    CaptureError error = ParseError(body);
    EXPECT_EQ(error.kind(), CaptureError::Kind::kInvalid) << body;
    EXPECT_NE(std::string(error.what()).find("send"), std::string::npos) << error.what();
  }
}

TEST(EventNormalizer, OutOfRangeTimeMessageNamesCause) {
  struct Case {
    std::string fields;
    std::string expected_text;
    std::string unexpected_text;
  };
  const Case cases[] = {
      {R"("timestamp":"1900-01-01")", R"(timestamp "1900-01-01" is outside the years 1970 to 9999)",
       "sent_at"},
      {R"("timestamp":-5)", "timestamp -5 is outside the years 1970 to 9999", "sent_at"},
      {R"("timestamp":"1900-01-01","sent_at":"2025-12-31T10:00:00Z")",
       R"(timestamp "1900-01-01" corrected by sent_at "2025-12-31T10:00:00Z" falls outside)", ""},
      {R"("timestamp":"2025-12-31T10:00:00Z","sent_at":"9000-01-01")",
       R"(timestamp "2025-12-31T10:00:00Z" corrected by sent_at "9000-01-01" falls outside)", ""},
      {R"("offset":1e300)", "offset 1e+300 puts the event outside the years 1970 to 9999",
       "sent_at"},
      {R"("offset":-1e300)", "offset -1e+300 puts the event outside", "sent_at"},
  };
  for (const Case& c : cases) {
    std::string body = R"({"event":"e","distinct_id":"d",)" + c.fields + "}";
    std::string message = ParseError(body).what();
    EXPECT_NE(message.find(c.expected_text), std::string::npos) << body << " gave: " << message;
    if (!c.unexpected_text.empty()) {
      EXPECT_EQ(message.find(c.unexpected_text), std::string::npos) << body << " gave: " << message;
    }
  }
}

TEST(EventNormalizer, SentAtCorrectsClockBefore1970) {
  // A device whose clock reads 1900 sends both times from that clock, so the
  // correction moves the event to the receive time instead of rejecting it.
  auto events = EventNormalizer().ParseCapture(
      R"({"event":"e","distinct_id":"d","timestamp":"1900-01-01T00:00:00Z",)"
      R"("sent_at":"1900-01-01T00:00:05Z"})",
      Context());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].created_at, kReceivedMs / 1000 - 5);
}

TEST(ParseIso8601Ms, FormsAndRejections) {
  EXPECT_EQ(ParseIso8601Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601Ms("1970-01-01T00:00:00.001Z"), 1);
  EXPECT_EQ(ParseIso8601Ms("1970-01-01t00:00:01.5z"), 1500);
  EXPECT_EQ(ParseIso8601Ms("2026-01-01T00:00:00.000+00:00"), kReceivedMs);
  EXPECT_EQ(ParseIso8601Ms("2025-12-31T23:59:60Z"), kReceivedMs - 1);  // leap second
  EXPECT_EQ(ParseIso8601Ms("9999-12-31T23:59:59.999Z"), 253402300799999);
  EXPECT_EQ(ParseIso8601Ms(""), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2026-01-01T"), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2026-01-01T00:00:00."), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2026-1-01"), std::nullopt);
  EXPECT_EQ(ParseIso8601Ms("2026-01-01T00:00:00+1"), std::nullopt);
}

TEST(EventNormalizer, WebhookKeepsPerson) {
  std::string body = R"({"event":{"uuid":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","event":"$identify",
      "distinct_id":"u1","properties":{"plan":"pro"},"timestamp":"2025-12-31T10:00:00Z",
      "url":"https://app.posthog.com/events/1","elements_chain":""},
      "person":{"id":"p-1","properties":{"email":"a@example.com"},"name":"A","url":"https://x/p"}})";
  QueuedEvent event = EventNormalizer().ParseWebhook(body, Context(0, "phc_query"));
  EXPECT_EQ(event.event, "$identify");
  EXPECT_EQ(event.distinct_id, "u1");
  EXPECT_EQ(event.uuid, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(event.created_at, kTenAm);
  EXPECT_EQ(event.project_token, "phc_query");
  ASSERT_TRUE(event.person.has_value());
  EXPECT_NE(event.person->find(R"("properties":{"email":"a@example.com"})"), std::string::npos);
  EXPECT_NE(event.payload.find(R"("plan":"pro")"), std::string::npos);
}

TEST(EventNormalizer, WebhookWithoutPerson) {
  QueuedEvent event =
      EventNormalizer().ParseWebhook(R"({"event":{"event":"e","distinct_id":"d"}})", Context());
  EXPECT_FALSE(event.person.has_value());
}

TEST(EventNormalizer, InvalidWebhooksRejected) {
  const std::string cases[] = {
      R"([])",
      R"({"person":{}})",
      R"({"event":"signed_up","distinct_id":"d"})",
      R"({"event":{"event":"e","distinct_id":"d"},"person":"p"})",
      R"({"event":{"distinct_id":"d"}})",
  };
  for (const std::string& body : cases) {
    EXPECT_THROW(EventNormalizer().ParseWebhook(body, Context()), CaptureError) << body;
  }
}

TEST(CheckProjectTokens, AllowList) {
  std::vector<QueuedEvent> events(2);
  events[0].project_token = "phc_good";
  events[1].project_token = "phc_good";
  EXPECT_NO_THROW(CheckProjectTokens(events, {}, "add a token"));
  EXPECT_NO_THROW(CheckProjectTokens(events, {"phc_other", "phc_good"}, "add a token"));

  events[1].project_token = "phc_secret_bad";
  try {
    CheckProjectTokens(events, {"phc_good"}, "add a token");
    ADD_FAILURE() << "unknown token accepted";
  } catch (const CaptureError& error) {
    EXPECT_EQ(error.kind(), CaptureError::Kind::kUnauthorized);
    EXPECT_EQ(std::string(error.what()).find("phc_secret_bad"), std::string::npos);
  }

  events[1].project_token.reset();
  EXPECT_NO_THROW(CheckProjectTokens(events, {}, "add a token"));
  try {
    CheckProjectTokens(events, {"phc_good"}, "add a token");
    ADD_FAILURE() << "event without a token accepted";
  } catch (const CaptureError& error) {
    EXPECT_EQ(error.kind(), CaptureError::Kind::kUnauthorized);
    EXPECT_EQ(std::string(error.what()), "event 1: project token is missing; add a token");
  }
}

}  // namespace
}  // namespace connector

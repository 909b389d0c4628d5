#include "worker/filters.h"

#include <gtest/gtest.h>

namespace connector {
namespace {

IntercomConfig FilterConfig() {
  IntercomConfig config;
  config.triggering_events = {"$identify", "signed_up"};
  config.ignored_email_domains = {"example.org", "Test.IO"};
  return config;
}

struct FilterCase {
  const char* name;
  EventContent event;
  bool send;
  const char* reason_part;             // a substring of the reason, or the email when sent
};

TEST(FiltersTest, TableOfCases) {
  Filters filters(FilterConfig());
  const FilterCase cases[] = {
      {"triggering event with email", {"$identify", "ann@example.com", "{}", std::nullopt}, true,
       "ann@example.com"},
      {"second triggering event", {"signed_up", "ann@example.com", "{}", std::nullopt}, true,
       "ann@example.com"},
      {"other event skipped", {"$pageview", "ann@example.com", "{}", std::nullopt}, false,
       "event $pageview is not in intercom.triggering_events"},
      {"event names are exact", {"Signed_Up", "ann@example.com", "{}", std::nullopt}, false,
       "not in intercom.triggering_events"},
      {"no email skipped", {"$identify", "user-1", R"({"properties": {}})", std::nullopt}, false,
       "no valid email"},
      {"ignored domain skipped", {"$identify", "ann@example.org", "{}", std::nullopt}, false,
       "email domain example.org is in intercom.ignored_email_domains"},
      {"ignored domain any case", {"$identify", "ann@EXAMPLE.Org", "{}", std::nullopt}, false,
       "example.org"},
      {"configured domain upper case", {"$identify", "bob@test.io", "{}", std::nullopt}, false,
       "test.io"},
      {"subdomain not ignored", {"$identify", "ann@mail.example.org", "{}", std::nullopt}, true,
       "ann@mail.example.org"},
      {"email from person", {"$identify", "user-1", "{}", R"({"properties": {"email": "p@example.com"}})"},
       true, "p@example.com"},
      {"payload not an object", {"$identify", "ann@example.com", "[1]", std::nullopt}, false,
       "payload is not a JSON object"},
  };
  for (const FilterCase& c : cases) {
    SCOPED_TRACE(c.name);
    FilterDecision decision = filters.Decide(c.event);
    EXPECT_EQ(decision.send, c.send);
    if (c.send) {
      EXPECT_EQ(decision.email, c.reason_part);
    } else {
      EXPECT_NE(decision.reason.find(c.reason_part), std::string::npos) << decision.reason;
    }
  }
}

TEST(FiltersTest, PassesPropertiesForMetadata) {
  Filters filters(FilterConfig());
  FilterDecision decision =
      filters.Decide({"$identify", "ann@example.com", R"({"properties": {"plan": "pro"}})", std::nullopt});
  ASSERT_TRUE(decision.send);
  ASSERT_FALSE(decision.properties.isNull());
  EXPECT_EQ(decision.properties->getValue<std::string>("plan"), "pro");
}

TEST(FiltersTest, PropertiesKeepLargeIntegersExact) {
  Filters filters(FilterConfig());
  EventContent event{"$identify", "ann@example.com",
                     R"({"properties": {"low": -9223372036854775807, "high": 18446744073709551615}})",
                     std::nullopt};
  FilterDecision decision = filters.Decide(event);
  ASSERT_TRUE(decision.send) << decision.reason;
  ASSERT_FALSE(decision.properties.isNull());
  EXPECT_EQ(decision.properties->get("low").convert<Poco::Int64>(), -9223372036854775807LL);
  EXPECT_EQ(decision.properties->get("high").convert<Poco::UInt64>(), 18446744073709551615ULL);
}

}  // namespace
}  // namespace connector

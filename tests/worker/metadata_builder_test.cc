#include "worker/metadata_builder.h"

#include <Poco/JSON/Parser.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace connector {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

Poco::JSON::Object::Ptr Json(const std::string& text) {
  Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string Text(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

TEST(MetadataBuilderTest, DefaultSendsNothing) {
  MetadataBuilder builder({}, "_");
  Metadata metadata = builder.Build(Json(R"({"plan": "pro"})"));
  EXPECT_EQ(metadata.values->size(), 0u);
  EXPECT_TRUE(metadata.notes.empty());
}

TEST(MetadataBuilderTest, KeepsScalarsInConfiguredOrder) {
  MetadataBuilder builder({"plan", "seats", "trial", "price", "missing"}, "_");
  Metadata metadata = builder.Build(
      Json(R"({"trial": true, "seats": 5, "plan": "pro", "price": 9.5, "other": "x"})"));
  EXPECT_EQ(Text(metadata.values), R"({"plan":"pro","seats":5,"trial":true,"price":9.5})");
  EXPECT_TRUE(metadata.notes.empty());
}

TEST(MetadataBuilderTest, DropsPostHogKeys) {
  MetadataBuilder builder({"$browser", "plan"}, "_");
  Metadata metadata = builder.Build(Json(R"({"$browser": "Firefox", "plan": "pro"})"));
  EXPECT_EQ(Text(metadata.values), R"({"plan":"pro"})");
  EXPECT_THAT(metadata.notes, Contains("dropped PostHog property $browser"));
}

TEST(MetadataBuilderTest, RenamesDotsAndDollars) {
  MetadataBuilder builder({"utm.source", "cost$"}, "__");
  Metadata metadata = builder.Build(Json(R"({"utm.source": "ads", "cost$": 3})"));
  EXPECT_EQ(Text(metadata.values), R"({"utm__source":"ads","cost__":3})");
  EXPECT_THAT(metadata.notes, Contains("renamed utm.source to utm__source"));
}

TEST(MetadataBuilderTest, KeepsRichLinkAndMoney) {
  MetadataBuilder builder({"article", "price"}, "_");
  Metadata metadata = builder.Build(Json(
      R"({"article": {"url": "https://example.org/a", "value": "A"}, "price": {"amount": 34999, "currency": "eur"}})"));
  EXPECT_EQ(Text(metadata.values),
            R"({"article":{"url":"https://example.org/a","value":"A"},"price":{"amount":34999,"currency":"eur"}})");
  EXPECT_TRUE(metadata.notes.empty());
}

TEST(MetadataBuilderTest, FlattensObjectsDropsArraysAndNulls) {
  MetadataBuilder builder({"plan", "tags", "gone", "money"}, "_");
  Metadata metadata = builder.Build(Json(
      R"({"plan": {"name": "pro", "limits": {"seats": 3}, "$internal": 1}, "tags": ["a"], "gone": null, "money": {"amount": 1.5, "currency": "eur"}})"));
  EXPECT_EQ(Text(metadata.values),
            R"({"plan_limits_seats":3,"plan_name":"pro","money_amount":1.5,"money_currency":"eur"})");
  EXPECT_THAT(metadata.notes, Contains("flattened plan"));
  EXPECT_THAT(metadata.notes, Contains("dropped PostHog property plan_$internal"));
  EXPECT_THAT(metadata.notes, Contains("dropped tags: arrays are not accepted"));
  EXPECT_THAT(metadata.notes, Contains("dropped gone: null"));
  EXPECT_THAT(metadata.notes, Contains("flattened money"));
}

TEST(MetadataBuilderTest, CutsLongStringsOnCharacterBoundary) {
  MetadataBuilder builder({"bio"}, "_");
  std::string bio;
  for (int i = 0; i < 300; ++i) bio += "\xc3\xa9";  // "é", two bytes each
  Poco::JSON::Object::Ptr properties = new Poco::JSON::Object;
  properties->set("bio", bio);
  Metadata metadata = builder.Build(properties);
  EXPECT_EQ(metadata.values->getValue<std::string>("bio").size(), 255u * 2);
  EXPECT_THAT(metadata.notes, Contains("cut bio to 255 characters"));
}

TEST(MetadataBuilderTest, KeepsAtMostTenKeys) {
  std::vector<std::string> names;
  Poco::JSON::Object::Ptr properties = new Poco::JSON::Object;
  for (int i = 0; i < 12; ++i) {
    names.push_back("k" + std::to_string(i));
    properties->set(names.back(), i);
  }
  MetadataBuilder builder(names, "_");
  Metadata metadata = builder.Build(properties);
  EXPECT_EQ(metadata.values->size(), 10u);
  EXPECT_TRUE(metadata.values->has("k9"));
  EXPECT_FALSE(metadata.values->has("k10"));
  EXPECT_THAT(metadata.notes, Contains("dropped k10: more than 10 keys"));
  EXPECT_THAT(metadata.notes, Contains("dropped k11: more than 10 keys"));
}

TEST(MetadataBuilderTest, NullPropertiesGiveEmptyMetadata) {
  MetadataBuilder builder({"plan"}, "_");
  Metadata metadata = builder.Build(nullptr);
  EXPECT_EQ(metadata.values->size(), 0u);
}

// Builds metadata for one property `name` holding the JSON `value`.
Metadata BuildOne(const std::string& name, const std::string& value) {
  MetadataBuilder builder({name}, "_");
  return builder.Build(Json("{\"" + name + "\": " + value + "}"));
}

TEST(MetadataBuilderTest, ConvertsDateTimeToUnixSeconds) {
  struct Case {
    const char* text;
    Poco::Int64 seconds;
  };
  const Case cases[] = {
      {"2026-12-04T10:15:00Z", 1796379300},
      {"2026-12-04t10:15:00z", 1796379300},
      {"2026-12-04 10:15:00Z", 1796379300},
      {"2024-02-29T00:00:00Z", 1709164800},
      {"9999-12-31T23:59:59Z", 253402300799},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Metadata metadata = BuildOne("renewal_date", std::string("\"") + c.text + "\"");
    EXPECT_EQ(Text(metadata.values), "{\"renewal_date\":" + std::to_string(c.seconds) + "}");
    EXPECT_THAT(metadata.notes, Contains("converted renewal_date to Unix seconds"));
  }
}

TEST(MetadataBuilderTest, ConvertsPlainDateToMidnightUtc) {
  Metadata metadata = BuildOne("renewal_date", R"("2026-12-04")");
  EXPECT_EQ(Text(metadata.values), R"({"renewal_date":1796342400})");
  EXPECT_THAT(metadata.notes, Contains("converted renewal_date to Unix seconds"));
}

TEST(MetadataBuilderTest, AppliesUtcOffsetOfDate) {
  struct Case {
    const char* text;
    Poco::Int64 seconds;
  };
  const Case cases[] = {
      {"2026-12-04T10:15:00+02:00", 1796372100},
      {"2026-12-04T10:15:00-05:30", 1796399100},
      {"2026-12-04T10:15:00+00:00", 1796379300},
      {"2026-12-04T10:15:00-00:00", 1796379300},
      {"2026-12-05T09:59:00+23:44", 1796379300},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Metadata metadata = BuildOne("renewal_date", std::string("\"") + c.text + "\"");
    EXPECT_EQ(Text(metadata.values), "{\"renewal_date\":" + std::to_string(c.seconds) + "}");
  }
}

TEST(MetadataBuilderTest, DropsFractionalSecondsOfDate) {
  struct Case {
    const char* text;
    Poco::Int64 seconds;
  };
  const Case cases[] = {
      {"2026-12-04T10:15:00.999Z", 1796379300},
      {"2026-12-04T10:15:00.5+02:00", 1796372100},
      {"2026-12-04T10:15:00.123456789012Z", 1796379300},
      // Before 1970, dropping the fraction still rounds toward the past, so -0.5 s gives -1.
      {"1969-12-31T23:59:59.5Z", -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Metadata metadata = BuildOne("renewal_date", std::string("\"") + c.text + "\"");
    EXPECT_EQ(Text(metadata.values), "{\"renewal_date\":" + std::to_string(c.seconds) + "}");
  }
}

TEST(MetadataBuilderTest, ConvertsDatesBefore1970) {
  struct Case {
    const char* text;
    Poco::Int64 seconds;
  };
  const Case cases[] = {
      {"1969-07-20T20:17:40Z", -14182940},
      {"1969-07-20T21:17:40+01:00", -14182940},
      {"1900-01-01", -2208988800},
      {"0001-01-01T00:00:00Z", -62135596800},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Metadata metadata = BuildOne("birth_date", std::string("\"") + c.text + "\"");
    EXPECT_EQ(Text(metadata.values), "{\"birth_date\":" + std::to_string(c.seconds) + "}");
  }
}

TEST(MetadataBuilderTest, CountsLeapSecondAsSecond59) {
  Metadata utc = BuildOne("renewal_date", R"("2016-12-31T23:59:60Z")");
  EXPECT_EQ(Text(utc.values), R"({"renewal_date":1483228799})");

  Metadata offset = BuildOne("renewal_date", R"("2017-01-01T00:59:60+01:00")");
  EXPECT_EQ(Text(offset.values), R"({"renewal_date":1483228799})");
}

TEST(MetadataBuilderTest, KeepsInvalidDateAsStringWithNote) {
  const char* invalid[] = {
      "soon",
      "",
      "2026-13-40",
      "2026-02-30",
      "2025-02-29",
      "1900-02-29",
      "2026-00-10",
      "2026-12-00",
      "2026-1-04",
      "26-12-04",
      " 2026-12-04",
      "2026-12-04 ",
      "2026/12/04",
      "2026-12-04T10:15:00",
      "2026-12-04T10:15Z",
      "2026-12-04T24:00:00Z",
      "2026-12-04T10:60:00Z",
      "2026-12-04T10:15:61Z",
      "2026-12-04T10:15:60Z",
      "2026-12-04T10:15:00.Z",
      "2026-12-04T10:15:00,5Z",
      "2026-12-04T10:15:00+0200",
      "2026-12-04T10:15:00+02",
      "2026-12-04T10:15:00+24:00",
      "2026-12-04T10:15:00+02:60",
      "2026-12-04T10:15:00Zjunk",
      "2026-12-04X10:15:00Z",
      "+2026-12-04",
  };
  for (const char* text : invalid) {
    SCOPED_TRACE(text);
    Metadata metadata = BuildOne("renewal_date", std::string("\"") + text + "\"");
    EXPECT_EQ(metadata.values->getValue<std::string>("renewal_date"), text);
    EXPECT_THAT(metadata.notes,
                Contains("kept renewal_date as a string: not an RFC 3339 date-time or "
                         "YYYY-MM-DD date"));
  }
}

TEST(MetadataBuilderTest, KeepsDateStringUnderOtherKeys) {
  MetadataBuilder builder({"renewal", "date", "renewal_date_text", "Renewal_Date"}, "_");
  Metadata metadata = builder.Build(Json(
      R"({"renewal": "2026-12-04T10:15:00Z", "date": "2026-12-04", "renewal_date_text": "2026-12-04", "Renewal_Date": "2026-12-04"})"));
  EXPECT_EQ(Text(metadata.values),
            R"({"renewal":"2026-12-04T10:15:00Z","date":"2026-12-04","renewal_date_text":"2026-12-04","Renewal_Date":"2026-12-04"})");
  EXPECT_TRUE(metadata.notes.empty());
}

TEST(MetadataBuilderTest, ConvertsDateUnderRenamedOrFlattenedKey) {
  MetadataBuilder builder({"trial.end_date", "plan"}, "_");
  Metadata metadata = builder.Build(Json(
      R"({"trial.end_date": "2026-12-04", "plan": {"start_date": "2026-12-04T10:15:00Z"}})"));
  EXPECT_EQ(Text(metadata.values),
            R"({"trial_end_date":1796342400,"plan_start_date":1796379300})");
  EXPECT_THAT(metadata.notes, Contains("converted trial_end_date to Unix seconds"));
  EXPECT_THAT(metadata.notes, Contains("converted plan_start_date to Unix seconds"));
}

TEST(MetadataBuilderTest, KeepsNumbersUnderDateKey) {
  // The builder sends numbers as they are. It does not take a large integer
  // for milliseconds or round a fraction.
  MetadataBuilder builder({"seconds_date", "millis_date", "negative_date", "fraction_date",
                           "flag_date"},
                          "_");
  Metadata metadata = builder.Build(Json(
      R"({"seconds_date": 1796379300, "millis_date": 1796379300000, "negative_date": -14182940, "fraction_date": 1796379300.5, "flag_date": true})"));
  EXPECT_EQ(Text(metadata.values),
            R"({"seconds_date":1796379300,"millis_date":1796379300000,"negative_date":-14182940,"fraction_date":1796379300.5,"flag_date":true})");
  EXPECT_TRUE(metadata.notes.empty());
}

}  // namespace
}  // namespace connector

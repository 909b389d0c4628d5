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

}  // namespace
}  // namespace connector

#include "worker/email_resolver.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace connector {
namespace {

Poco::JSON::Object::Ptr Json(const std::string& text) {
  if (text.empty()) return nullptr;
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

struct ResolveCase {
  const char* name;
  const char* distinct_id;
  const char* event;
  const char* person;
  const char* email;                   // expected; "" for none
  const char* source;
};

TEST(EmailResolverTest, TableOfCases) {
  const ResolveCase cases[] = {
      {"distinct_id wins", "a@example.com",
       R"({"properties": {"$set": {"email": "b@example.com"}}})", "", "a@example.com",
       "distinct_id"},
      {"top-level $set", "user-1", R"({"$set": {"email": "top@example.com"}})", "",
       "top@example.com", "$set.email"},
      {"$set inside properties (posthog-node)", "user-1",
       R"({"properties": {"$set": {"email": "node@example.com"}}})", "", "node@example.com",
       "properties.$set.email"},
      {"top-level $set before properties.$set", "user-1",
       R"({"$set": {"email": "top@example.com"}, "properties": {"$set": {"email": "in@example.com"}}})",
       "", "top@example.com", "$set.email"},
      {"$set_once when no $set", "user-1",
       R"({"properties": {"$set_once": {"email": "once@example.com"}}})", "",
       "once@example.com", "properties.$set_once.email"},
      {"top-level $set_once", "user-1", R"({"$set_once": {"email": "once@example.com"}})", "",
       "once@example.com", "$set_once.email"},
      {"$set before $set_once", "user-1",
       R"({"properties": {"$set": {"email": "set@example.com"}, "$set_once": {"email": "once@example.com"}}})",
       "", "set@example.com", "properties.$set.email"},
      {"properties.email", "user-1", R"({"properties": {"email": "p@example.com"}})", "",
       "p@example.com", "properties.email"},
      {"webhook person properties", "user-1", R"({"properties": {}})",
       R"({"id": "x", "properties": {"email": "person@example.com"}})", "person@example.com",
       "person.properties.email"},
      {"webhook person email", "user-1", R"({})", R"({"email": "direct@example.com"})",
       "direct@example.com", "person.email"},
      {"whitespace trimmed", "  a@example.com \n", R"({})", "", "a@example.com", "distinct_id"},
      {"invalid $set does not hide valid properties.email", "user-1",
       R"({"properties": {"$set": {"email": "not an email"}, "email": "ok@example.com"}})", "",
       "ok@example.com", "properties.email"},
      {"invalid distinct_id falls through", "a@b",
       R"({"properties": {"email": "ok@example.com"}})", "", "ok@example.com",
       "properties.email"},
      {"non-string email ignored", "user-1",
       R"({"properties": {"$set": {"email": 42}, "email": "ok@example.com"}})", "",
       "ok@example.com", "properties.email"},
      {"$set not an object", "user-1", R"({"properties": {"$set": "x@example.com"}})", "", "", ""},
      {"no email anywhere", "user-1", R"({"properties": {"name": "Ann"}})", "", "", ""},
      {"only invalid candidates", "user@", R"({"properties": {"email": "x@@example.com"}})",
       R"({"properties": {"email": "a b@example.com"}})", "", ""},
  };
  for (const ResolveCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<ResolvedEmail> found =
        EmailResolver::Resolve(c.distinct_id, Json(c.event), Json(c.person));
    if (std::string(c.email).empty()) {
      EXPECT_FALSE(found.has_value());
      continue;
    }
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->email, c.email);
    EXPECT_EQ(found->source, c.source);
  }
}

TEST(EmailResolverTest, ValidatesAddresses) {
  EXPECT_TRUE(EmailResolver::IsValidEmail("a@example.com"));
  EXPECT_TRUE(EmailResolver::IsValidEmail("first.last+tag@sub.example.co.uk"));
  EXPECT_FALSE(EmailResolver::IsValidEmail(""));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a@b"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("@example.com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a@.com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a@example..com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a@-example.com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a b@example.com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail("a@@example.com"));
  EXPECT_FALSE(EmailResolver::IsValidEmail(std::string(250, 'a') + "@example.com"));
}

TEST(EmailResolverTest, DomainIsLowerCase) {
  EXPECT_EQ(EmailResolver::Domain("Ann@Example.COM"), "example.com");
}

}  // namespace
}  // namespace connector

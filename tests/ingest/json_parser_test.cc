#include "common/json_parser.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace connector {
namespace {

constexpr size_t kDepth = 64;

// Parses {"v": <number_text>} and returns the value of "v".
Poco::Dynamic::Var ParseNumber(const std::string& number_text) {
  Poco::Dynamic::Var root = ParseJsonExactNumbers(R"({"v":)" + number_text + "}", kDepth);
  return root.extract<Poco::JSON::Object::Ptr>()->get("v");
}

std::string Stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  value.extract<Poco::JSON::Object::Ptr>()->stringify(out);
  return out.str();
}

// Returns the error for `text`, failing the test when there is none.
JsonNumberOutOfRange OutOfRangeError(const std::string& text) {
  try {
    ParseJsonExactNumbers(text, kDepth);
  } catch (const JsonNumberOutOfRange& error) {
    return error;
  }
  ADD_FAILURE() << "no JsonNumberOutOfRange for " << text;
  return JsonNumberOutOfRange("", "");
}

TEST(JsonParser, SignedIntegersStayExact) {
  const char* const cases[] = {
      "0",
      "-0",
      "42",
      "9007199254740993",      // 2^53 + 1, which a double cannot hold
      "-9007199254740993",     // Poco 1.11 alone gives -9007199254740992
      "9223372036854775807",   // INT64_MAX
      "-9223372036854775807",  // Poco 1.11 alone gives INT64_MIN
      "-9223372036854775808",  // INT64_MIN
  };
  for (const char* text : cases) {
    Poco::Dynamic::Var value = ParseNumber(text);
    ASSERT_EQ(value.type(), typeid(Poco::Int64)) << text;
    EXPECT_EQ(value.extract<Poco::Int64>(), std::strtoll(text, nullptr, 10)) << text;
  }
}

TEST(JsonParser, UnsignedIntegersStayExact) {
  const char* const cases[] = {
      "9223372036854775808",   // INT64_MAX + 1
      "18446744073709551615",  // UINT64_MAX
  };
  for (const char* text : cases) {
    Poco::Dynamic::Var value = ParseNumber(text);
    ASSERT_EQ(value.type(), typeid(Poco::UInt64)) << text;
    EXPECT_EQ(value.extract<Poco::UInt64>(), std::strtoull(text, nullptr, 10)) << text;
  }
}

TEST(JsonParser, IntegersBeyond64BitsBecomeDoubles) {
  struct Case {
    const char* text;
    double expected;
  };
  const Case cases[] = {
      {"18446744073709551616", 18446744073709551616.0},     // 2^64; Poco 1.11 alone gives 0
      {"18446744073709551619", 18446744073709551616.0},     // Poco 1.11 alone gives 3
      {"-9223372036854775809", -9223372036854775808.0},     // Poco 1.11 alone clamps to INT64_MIN
      {"12345678901234567890123", 1.2345678901234568e22},  // Poco 1.11 alone rejects it
  };
  for (const Case& c : cases) {
    Poco::Dynamic::Var value = ParseNumber(c.text);
    ASSERT_EQ(value.type(), typeid(double)) << c.text;
    EXPECT_EQ(value.extract<double>(), c.expected) << c.text;
  }
}

TEST(JsonParser, FractionsBecomeNearestDouble) {
  const char* const cases[] = {
      "0.1", "-2.5", "1e22", "1E-7", "1.5e+300", "0.30000000000000004", "1.7976931348623157e308",
      "4.9e-324", "1e-400", "-0.0", "1.0",
  };
  for (const char* text : cases) {
    Poco::Dynamic::Var value = ParseNumber(text);
    ASSERT_EQ(value.type(), typeid(double)) << text;
    EXPECT_EQ(value.extract<double>(), std::strtod(text, nullptr)) << text;
  }
}

TEST(JsonParser, StringifiedNumbersParseBackEqual) {
  const char* const cases[] = {
      "-9223372036854775807", "18446744073709551615", "18446744073709551616",
      "12345678901234567890123", "0.30000000000000004", "1.7976931348623157e308", "5e-324",
  };
  for (const char* text : cases) {
    Poco::Dynamic::Var first = ParseJsonExactNumbers(R"({"v":)" + std::string(text) + "}", kDepth);
    std::string stored = Stringify(first);
    Poco::Dynamic::Var second = ParseJsonExactNumbers(stored, kDepth);
    EXPECT_EQ(Stringify(second), stored) << text;
    Poco::Dynamic::Var before = first.extract<Poco::JSON::Object::Ptr>()->get("v");
    Poco::Dynamic::Var after = second.extract<Poco::JSON::Object::Ptr>()->get("v");
    EXPECT_EQ(after.type(), before.type()) << text << " stored as " << stored;
    EXPECT_TRUE(after == before) << text << " stored as " << stored;
  }
}

TEST(JsonParser, DigitsInStringsAreNotNumbers) {
  // Each string contains digits, an escaped quote or a trailing backslash. If
  // the scan counted any of them as a number, the real numbers would get the
  // wrong values.
  std::string text = R"({"k\"1":"x\"2","3 4":["5\\",-9223372036854775807,"\\\"6",)"
                     R"(18446744073709551616,"e-7"]})";
  Poco::JSON::Object::Ptr root =
      ParseJsonExactNumbers(text, kDepth).extract<Poco::JSON::Object::Ptr>();
  Poco::JSON::Array::Ptr array = root->getArray("3 4");
  ASSERT_EQ(array->size(), 5u);
  EXPECT_EQ(array->get(0).extract<std::string>(), "5\\");
  ASSERT_EQ(array->get(1).type(), typeid(Poco::Int64));
  EXPECT_EQ(array->get(1).extract<Poco::Int64>(), -9223372036854775807LL);
  ASSERT_EQ(array->get(3).type(), typeid(double));
  EXPECT_EQ(array->get(3).extract<double>(), 18446744073709551616.0);
  EXPECT_EQ(root->getValue<std::string>("k\"1"), "x\"2");
}

TEST(JsonParser, NumberBeyondDoubleNamesPath) {
  JsonNumberOutOfRange error =
      OutOfRangeError(R"({"batch":[{},{"properties":{"$set":{"n":[1,2,-1e400]}}}]})");
  EXPECT_EQ(error.path(), "$.batch[1].properties['$set'].n[2]");
  EXPECT_EQ(error.number(), "-1e400");

  error = OutOfRangeError(R"([{"it's":1e999}])");
  EXPECT_EQ(error.path(), R"($[0]['it\'s'])");
  EXPECT_EQ(error.number(), "1e999");

  // An integer too long for a double is cut in the message.
  error = OutOfRangeError(R"({"v":)" + std::string(400, '9') + "}");
  EXPECT_EQ(error.path(), "$.v");
  EXPECT_EQ(error.number(), std::string(61, '9') + "...");
}

TEST(JsonParser, FirstOutOfRangeNumberReported) {
  JsonNumberOutOfRange error = OutOfRangeError(R"({"a":1e400,"b":1e500})");
  EXPECT_EQ(error.path(), "$.a");
  EXPECT_EQ(error.number(), "1e400");
}

TEST(JsonParser, InvalidJsonStillRejected) {
  const std::string cases[] = {
      R"({"a":1,})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":-})",
      R"({"a":1e400,)",
      R"([1] 2)",
      std::string(100, '[') + std::string(100, ']'),
  };
  for (const std::string& text : cases) {
    EXPECT_THROW(ParseJsonExactNumbers(text, kDepth), Poco::Exception) << text;
  }
}

// Returns {"k0":0,...} with `keys` keys.
std::string ObjectWithKeys(int keys) {
  std::string text = "{";
  for (int i = 0; i < keys; ++i) {
    if (i > 0) text += ",";
    text += "\"k" + std::to_string(i) + "\":0";
  }
  return text + "}";
}

// Returns the JsonTooLarge message for `text`, or "" when it parses.
std::string TooLargeMessage(const std::string& text, const JsonLimits& limits) {
  try {
    ParseJsonExactNumbers(text, limits);
  } catch (const JsonTooLarge& error) {
    return error.what();
  }
  return "";
}

TEST(JsonParser, KeyLimitIsPerObject) {
  JsonLimits limits;
  limits.max_object_keys = 3;
  EXPECT_EQ(TooLargeMessage(ObjectWithKeys(3), limits), "");
  EXPECT_EQ(TooLargeMessage("[" + ObjectWithKeys(3) + "," + ObjectWithKeys(3) + "]", limits), "");
  EXPECT_EQ(TooLargeMessage(R"({"a":{"b":1,"c":2,"d":3},"e":4,"f":5})", limits), "");
  EXPECT_EQ(TooLargeMessage(ObjectWithKeys(4), limits),
            "an object with more than 3 keys, the limit per object, at byte 22");
  // Strings that are values, or keys with escaped quotes, count once each.
  EXPECT_EQ(TooLargeMessage(R"({"a\"b":"c","d":["e","f"],"g":"h"})", limits), "");
  EXPECT_NE(TooLargeMessage(R"({"a\"b":"c","d":["e","f"],"g":"h","i":"j"})", limits), "");
}

TEST(JsonParser, ValueLimitCountsEveryValue) {
  JsonLimits limits;
  limits.max_values = 7;
  // An object, an array, a string, a number, three literals: seven values.
  EXPECT_EQ(TooLargeMessage(R"({"a":["s",1,true,false,null]})", limits), "");
  EXPECT_EQ(TooLargeMessage(R"({"a":["s",1,true,false,null,2]})", limits),
            "more than 7 JSON values (objects, arrays, strings, numbers, literals), the limit "
            "per document, reached at byte 28");
  limits.max_values = 2;
  EXPECT_EQ(TooLargeMessage(R"([{}])", limits), "");
  EXPECT_NE(TooLargeMessage(R"([{},[]])", limits), "");
}

TEST(JsonParser, ContainerLimitCountsObjectsAndArrays) {
  JsonLimits limits;
  limits.max_containers = 3;
  EXPECT_EQ(TooLargeMessage(R"([{},[],"s",1])", limits), "");
  EXPECT_EQ(TooLargeMessage(R"([{},[],{}])", limits),
            "more than 3 JSON objects and arrays, the limit per document, reached at byte 7");
}

// Past the depth limit the scan stops, so Poco reports the depth, not a size.
// The 100 brackets exceed max_values, but the scan stops after 66 of them.
TEST(JsonParser, DeepTextFailsOnDepthNotSize) {
  JsonLimits limits;
  limits.max_depth = 64;
  limits.max_values = 80;
  std::string deep = std::string(100, '[') + std::string(100, ']');
  EXPECT_THROW(ParseJsonExactNumbers(deep, limits), Poco::Exception);
  std::string limit_deep = std::string(64, '[') + "1" + std::string(64, ']');
  EXPECT_NO_THROW(ParseJsonExactNumbers(limit_deep, limits));
}

}  // namespace
}  // namespace connector

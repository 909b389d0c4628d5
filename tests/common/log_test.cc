#include "common/log.h"

#include <gtest/gtest.h>

namespace connector::log {
namespace {

TEST(LogTest, PlainValuesStayBare) {
  EXPECT_EQ(FormatFields("delivered", {{"event_id", int64_t{42}}, {"status", 202}}),
            "msg=delivered event_id=42 status=202");
}

TEST(LogTest, ValuesWithSpacesAreQuoted) {
  EXPECT_EQ(FormatFields("failed", {{"reason", "no contact"}}), "msg=failed reason=\"no contact\"");
  EXPECT_EQ(FormatFields("x", {{"v", "a\"b\nc"}}), "msg=x v=\"a\\\"b\\nc\"");
  EXPECT_EQ(FormatFields("x", {{"v", ""}}), "msg=x v=\"\"");
  EXPECT_EQ(FormatFields("x", {{"v", "k=v"}}), "msg=x v=\"k=v\"");
}

TEST(LogTest, ParsesLevels) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_FALSE(ParseLevel("verbose", level));
}

}  // namespace
}  // namespace connector::log

#include "ingest/rejection_log_limiter.h"

#include <gtest/gtest.h>

namespace connector {
namespace {

TEST(RejectionLogLimiter, DropsOverLimitAndCountsThem) {
  RejectionLogLimiter limiter(2);
  EXPECT_EQ(limiter.Admit(1000), 0);
  EXPECT_EQ(limiter.Admit(1100), 0);
  EXPECT_EQ(limiter.Admit(1200), -1);
  EXPECT_EQ(limiter.Admit(1999), -1);
  // A new one-second window: the first line reports the two dropped ones.
  EXPECT_EQ(limiter.Admit(2000), 2);
  EXPECT_EQ(limiter.Admit(2001), 0);
  EXPECT_EQ(limiter.Admit(2002), -1);
}

TEST(RejectionLogLimiter, ClockGoingBackStartsNewWindow) {
  RejectionLogLimiter limiter(1);
  EXPECT_EQ(limiter.Admit(5000), 0);
  EXPECT_EQ(limiter.Admit(5001), -1);
  EXPECT_EQ(limiter.Admit(4000), 1);
}

}  // namespace
}  // namespace connector

// The messages for a listen address that cannot be bound, from OpsServer and
// from DescribeListenFailure directly.

#include "common/listen_error.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "common/log.h"
#include "common/metrics.h"
#include "common/ops_server.h"

namespace connector {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ListenErrorTest, BusyMetricsPortNamesAddressAndKey) {
  log::Setup(log::Level::kError);
  // Bound with SO_REUSEADDR and without SO_REUSEPORT, as OpsServer binds, so
  // the OpsServer bind fails.
  Poco::Net::ServerSocket holder;
  holder.bind(Poco::Net::SocketAddress("127.0.0.1:0"), true, false);
  holder.listen();
  std::string busy = holder.address().toString();

  MetricsRegistry metrics;
  OpsServer ops(busy, "[worker] metrics_listen", metrics);
  try {
    ops.Start();
    FAIL() << "OpsServer started on the busy address " << busy;
  } catch (const std::runtime_error& error) {
    std::string message = error.what();
    EXPECT_THAT(message, HasSubstr("[worker] metrics_listen = \"" + busy + "\""));
    EXPECT_THAT(message, HasSubstr("address already in use"));
    EXPECT_THAT(message, HasSubstr("Stop that process"));
    EXPECT_THAT(message, HasSubstr("set [worker] metrics_listen to a port"));
    // The message once suggested 127.0.0.1:9465, the worker's default port,
    // to every process.
    EXPECT_THAT(message, Not(HasSubstr("127.0.0.1:9465")));
    EXPECT_THAT(message, Not(HasSubstr("such as")));
  }
}

TEST(ListenErrorTest, ForeignHostNamesInterfaces) {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737), never an address of this machine.
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress("192.0.2.1:0"), true, false);
    GTEST_SKIP() << "this machine has 192.0.2.1";
  } catch (const Poco::Exception& error) {
    ASSERT_EQ(error.code(), EADDRNOTAVAIL) << error.displayText();
    std::string message = DescribeListenFailure("[ingest] listen", "192.0.2.1:0", error);
    EXPECT_THAT(message, HasSubstr("[ingest] listen = \"192.0.2.1:0\""));
    EXPECT_THAT(message, HasSubstr("not an address of this machine"));
  }
}

TEST(ListenErrorTest, PermissionDeniedNamesLowPorts) {
  Poco::IOException error("Permission denied", "0.0.0.0:80", EACCES);
  std::string message = DescribeListenFailure("[ingest] listen", "0.0.0.0:80", error);
  EXPECT_THAT(message, HasSubstr("[ingest] listen = \"0.0.0.0:80\": permission denied."));
  EXPECT_THAT(message, HasSubstr("CAP_NET_BIND_SERVICE"));
}

TEST(ListenErrorTest, OtherErrorKeepsPocoText) {
  Poco::Net::HostNotFoundException error("no-such-host.invalid");
  std::string message =
      DescribeListenFailure("[ingest] metrics_listen", "no-such-host.invalid:9464", error);
  EXPECT_THAT(message, HasSubstr("no-such-host.invalid"));
  EXPECT_THAT(message, HasSubstr(error.displayText()));
  EXPECT_THAT(message, HasSubstr("Set [ingest] metrics_listen to HOST:PORT"));
}

}  // namespace
}  // namespace connector

// The [ingest] and [worker] metrics_listen keys.

#include <gtest/gtest.h>

#include "common/config.h"

namespace connector {
namespace {

TEST(MetricsConfigTest, DefaultsAreLoopbackPorts) {
  Config config = ParseConfig("", "test");
  EXPECT_EQ(config.ingest.metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config.worker.metrics_listen, "127.0.0.1:9465");
}

TEST(MetricsConfigTest, EmptyDisablesMetrics) {
  Config config = ParseConfig("[ingest]\nmetrics_listen = \"\"\n[worker]\nmetrics_listen = \"\"\n",
                              "test");
  EXPECT_EQ(config.ingest.metrics_listen, "");
  EXPECT_EQ(config.worker.metrics_listen, "");
}

TEST(MetricsConfigTest, AddressWithoutPortIsRejected) {
  for (const char* section : {"ingest", "worker"}) {
    std::string text = std::string("[") + section + "]\nmetrics_listen = \"localhost\"\n";
    try {
      ParseConfig(text, "test.toml");
      ADD_FAILURE() << section << ": no ConfigError";
    } catch (const ConfigError& error) {
      std::string message = error.what();
      EXPECT_NE(message.find("metrics_listen"), std::string::npos) << message;
      EXPECT_NE(message.find("\"localhost\""), std::string::npos) << message;
      EXPECT_NE(message.find("HOST:PORT"), std::string::npos) << message;
    }
  }
}

TEST(MetricsConfigTest, ExampleFileDocumentsBothKeys) {
  Config config = LoadConfigFile(std::string(CONNECTOR_SOURCE_DIR) +
                                 "/config/intercom-connector.example.toml");
  EXPECT_EQ(config.ingest.metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config.worker.metrics_listen, "127.0.0.1:9465");
}

TEST(MetricsConfigTest, PackagedFileLoads) {
  Config config = LoadConfigFile(std::string(CONNECTOR_SOURCE_DIR) +
                                 "/packaging/intercom-connector.toml");
  EXPECT_EQ(config.queue.path, "/var/lib/intercom-connector/queue.db");
  EXPECT_EQ(config.worker.dry_run_file, "/var/lib/intercom-connector/intercom-requests.ndjson");
  EXPECT_EQ(config.ingest.metrics_listen, "127.0.0.1:9464");
}

}  // namespace
}  // namespace connector

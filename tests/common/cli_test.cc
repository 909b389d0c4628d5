#include "common/cli.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace connector {
namespace {

CommonFlags Parse(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), "program");
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  return ParseCommonFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(CliTest, ReadsConfigAndLevelBothForms) {
  CommonFlags flags = Parse({"--config", "a.toml", "--log-level=debug", "stats", "--json"});
  EXPECT_EQ(flags.config_path, "a.toml");
  EXPECT_EQ(flags.log_level, log::Level::kDebug);
  EXPECT_EQ(flags.rest, (std::vector<std::string>{"stats", "--json"}));
  EXPECT_EQ(Parse({"--config=b.toml"}).config_path, "b.toml");
}

TEST(CliTest, MissingValueRejected) {
  EXPECT_THROW(Parse({"--config"}), std::invalid_argument);
  EXPECT_THROW(Parse({"--config="}), std::invalid_argument);
  EXPECT_THROW(Parse({"--log-level", "loud"}), std::invalid_argument);
}

TEST(CliTest, HelpAndVersionFlags) {
  EXPECT_TRUE(Parse({"-h"}).help);
  EXPECT_TRUE(Parse({"--version"}).version);
  EXPECT_TRUE(Parse({}).config_path.empty());
}

}  // namespace
}  // namespace connector

// intercom-worker: delivers queued PostHog events to Intercom's POST /events.

#include <csignal>
#include <iostream>

#include "common/cli.h"
#include "common/database.h"
#include "common/log.h"
#include "worker/worker.h"

namespace {

const char kUsage[] =
    "Usage: intercom-worker [--config PATH] [--log-level LEVEL]\n"
    "\n"
    "Claims due events from the queue database and sends the matching ones to\n"
    "Intercom's POST /events, recording every attempt. Without an API token\n"
    "(intercom.api_key or INTERCOM_API_KEY) it writes each request it would send\n"
    "as one JSON line to worker.dry_run_file and treats it as delivered.\n"
    "Stops cleanly on SIGTERM or SIGINT.\n"
    "\n";

}  // namespace

int main(int argc, char** argv) {
  connector::CommonFlags flags;
  try {
    flags = connector::ParseCommonFlags(argc, argv);
    if (!flags.rest.empty()) {
      throw std::invalid_argument("unknown argument \"" + flags.rest.front() + "\"; see --help");
    }
  } catch (const std::invalid_argument& error) {
    std::cerr << "intercom-worker: " << error.what() << "\n";
    return 2;
  }
  if (flags.help) {
    std::cout << kUsage << connector::CommonFlagsHelp();
    return 0;
  }
  if (flags.version) {
    std::cout << "intercom-worker " << connector::Version() << "\n";
    return 0;
  }

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  connector::log::Setup(flags.log_level);
  try {
    connector::Config config = connector::LoadConfig(flags);
    connector::SystemClock clock;
    connector::SystemRandom random;
    connector::Worker worker(config, clock, random);
    worker.Start();

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    connector::log::Info("signal", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
    worker.Stop();
  } catch (const connector::ConfigError& error) {
    std::cerr << "intercom-worker: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    connector::log::Error("startup_failed", {{"error", error.what()}});
    return 1;
  }
  return 0;
}

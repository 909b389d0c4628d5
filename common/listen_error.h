#pragma once

#include <Poco/Exception.h>

#include <string>

namespace connector {

// Builds the message for a listening socket that could not be bound:
// `config_key` (such as "[ingest] listen") set to `listen`, and Poco's
// `error` from the bind. The message names the address, the key to change
// and the likely fix for the error, such as stopping the process that
// listens on a busy port. It never suggests another address to use, because no default
// is known to be free.
std::string DescribeListenFailure(const std::string& config_key, const std::string& listen,
                                  const Poco::Exception& error);

}  // namespace connector

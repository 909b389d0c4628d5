#include "common/listen_error.h"

#include <cerrno>

namespace connector {

std::string DescribeListenFailure(const std::string& config_key, const std::string& listen,
                                  const Poco::Exception& error) {
  std::string prefix = "cannot listen on " + config_key + " = \"" + listen + "\": ";
  // Poco::Net passes the errno of the failed socket call as the exception's
  // code. Its message repeats the address, so the known cases use the
  // strerror text alone.
  switch (error.code()) {
    case EADDRINUSE:
      return prefix + "address already in use, usually by another process. Stop that " +
             "process (`ss -ltnp` lists the listening processes), or set " + config_key +
             " to a port that no other process uses.";
    case EACCES:
      return prefix + "permission denied. Ports below 1024 need root or the " +
             "CAP_NET_BIND_SERVICE capability, so set " + config_key +
             " to a port of 1024 or above, or grant the capability.";
    case EADDRNOTAVAIL:
      return prefix + "cannot assign requested address, because the host is not an " +
             "address of this machine. Set " + config_key + " to an address of one of " +
             "its network interfaces, or to 0.0.0.0 for all of them.";
    default:
      return prefix + error.displayText() + ". Set " + config_key +
             " to HOST:PORT with an address of this machine and a port that no other " +
             "process uses.";
  }
}

}  // namespace connector

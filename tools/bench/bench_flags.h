#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace connector::bench {

// Command-line flags of the form --name=value (or --name for "true"), as the
// bench tools take them. Unknown names are an error, so a typo in run.sh
// fails loudly instead of running with a default.
class BenchFlags {
 public:
  // Parses argv[first..argc). Throws std::invalid_argument on a malformed flag.
  BenchFlags(int argc, char** argv, int first = 1);

  // Each getter returns the flag's value, or `fallback` when it was not given,
  // and marks the name as known. Throws std::invalid_argument naming the flag
  // when the value is not a number.
  std::string String(const std::string& name, const std::string& fallback);
  int64_t Integer(const std::string& name, int64_t fallback);
  double Number(const std::string& name, double fallback);

  // Throws std::invalid_argument naming the first flag that no getter requested.
  void RejectUnknown() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

}  // namespace connector::bench

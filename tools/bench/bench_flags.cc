#include "tools/bench/bench_flags.h"

#include <stdexcept>

namespace connector::bench {

BenchFlags::BenchFlags(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() < 3) {
      throw std::invalid_argument("invalid argument \"" + arg + "\"; expected --name=value");
    }
    size_t equals = arg.find('=');
    if (equals == std::string::npos) {
      values_[arg.substr(2)] = "true";
    } else {
      values_[arg.substr(2, equals - 2)] = arg.substr(equals + 1);
    }
  }
}

std::string BenchFlags::String(const std::string& name, const std::string& fallback) {
  used_[name] = true;
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t BenchFlags::Integer(const std::string& name, int64_t fallback) {
  std::string text = String(name, "");
  if (text.empty()) return fallback;
  size_t end = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (end != text.size()) {
    throw std::invalid_argument("invalid --" + name + "=" + text + "; expected an integer");
  }
  return value;
}

double BenchFlags::Number(const std::string& name, double fallback) {
  std::string text = String(name, "");
  if (text.empty()) return fallback;
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  if (end != text.size()) {
    throw std::invalid_argument("invalid --" + name + "=" + text + "; expected a number");
  }
  return value;
}

void BenchFlags::RejectUnknown() const {
  for (const auto& [name, value] : values_) {
    if (used_.count(name) == 0) throw std::invalid_argument("unknown flag --" + name);
  }
}

}  // namespace connector::bench

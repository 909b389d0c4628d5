#pragma once

#include <string_view>
#include <vector>

namespace connector {

// One numbered SQL file from schema/, compiled into the binary.
struct Migration {
  int version;             // the file's number; PRAGMA user_version after it
  std::string_view name;   // file name, for messages
  std::string_view sql;
};

// Returns the migrations in the order they apply, numbered 1, 2, ... without gaps.
const std::vector<Migration>& Migrations();

}  // namespace connector

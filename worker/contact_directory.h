#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "worker/intercom_client.h"

namespace connector {

// Remembers the Intercom contact id that a contact search found for an
// email, so later events for a lead (which Intercom addresses only by id) or
// for an email shared by several contacts cost one request instead of two.
// Only found contacts are cached, for `ttl_ms`, because a contact that is
// missing now may be created any moment. Thread-safe.
class ContactDirectory {
 public:
  static constexpr size_t kMaxEntries = 100000;

  ContactDirectory(int64_t ttl_ms, const Clock& clock) : ttl_ms_(ttl_ms), clock_(clock) {}

  std::optional<std::string> Find(const std::string& email);
  void Remember(const std::string& email, const std::string& contact_id);
  void Forget(const std::string& email);

  // Picks the contact to address among search results for one email: the
  // only user, or else the only lead. Returns nullopt when there is none or
  // the choice is ambiguous.
  static std::optional<FoundContact> Choose(const std::vector<FoundContact>& contacts);

 private:
  struct Entry {
    std::string contact_id;
    int64_t expires_at_ms;
  };

  const int64_t ttl_ms_;
  const Clock& clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // key: lower-case email
};

}  // namespace connector

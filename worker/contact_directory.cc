#include "worker/contact_directory.h"

#include <algorithm>
#include <cctype>

namespace connector {
namespace {

std::string Key(const std::string& email) {
  std::string key = email;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return key;
}

}  // namespace

std::optional<std::string> ContactDirectory::Find(const std::string& email) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto entry = entries_.find(Key(email));
  if (entry == entries_.end()) return std::nullopt;
  if (entry->second.expires_at_ms <= clock_.NowMs()) {
    entries_.erase(entry);
    return std::nullopt;
  }
  return entry->second.contact_id;
}

void ContactDirectory::Remember(const std::string& email, const std::string& contact_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A crude bound: searches are rare, so clearing a full cache costs little.
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[Key(email)] = Entry{contact_id, clock_.NowMs() + ttl_ms_};
}

void ContactDirectory::Forget(const std::string& email) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(Key(email));
}

std::optional<FoundContact> ContactDirectory::Choose(const std::vector<FoundContact>& contacts) {
  std::vector<FoundContact> users;
  std::vector<FoundContact> leads;
  for (const FoundContact& contact : contacts) {
    (contact.role == "user" ? users : leads).push_back(contact);
  }
  if (users.size() == 1) return users.front();
  if (users.empty() && leads.size() == 1) return leads.front();
  return std::nullopt;
}

}  // namespace connector

#pragma once

#include <cstdint>
#include <string>

namespace connector::testing {

// A tmpfs of `size_mb` MiB mounted on `path` for the life of the object.
// Mounting needs root (CAP_SYS_ADMIN); mounted() is false without it.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, int size_mb);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes a filler file until the disk is full, then shrinks it so that
  // about `leave_free_bytes` stay free, and returns its size in bytes.
  int64_t Fill(int64_t leave_free_bytes = 0);
  void Free();

 private:
  std::string Filler() const { return path_ + "/filler"; }

  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace connector::testing

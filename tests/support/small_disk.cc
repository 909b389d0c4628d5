#include "tests/support/small_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace connector::testing {

SmallDisk::SmallDisk(const std::string& path, int size_mb) : path_(path) {
  std::filesystem::create_directories(path);
  std::string options = "size=" + std::to_string(size_mb) + "m,mode=0700";
  mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
  if (!mounted_) error_ = std::strerror(errno);
}

SmallDisk::~SmallDisk() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

int64_t SmallDisk::Fill(int64_t leave_free_bytes) {
  int fd = ::open(Filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string chunk(4096, 'x');
  int64_t written = 0;
  while (true) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += n;
  }
  if (leave_free_bytes > 0) {
    written = std::max<int64_t>(0, written - leave_free_bytes);
    if (::ftruncate(fd, written) != 0) written = -1;
  }
  ::close(fd);
  return written;
}

void SmallDisk::Free() { std::filesystem::remove(Filler()); }

}  // namespace connector::testing

// A temporary directory under /tmp for one test, removed with everything in
// it (symlinks are removed, never followed) when the object goes.
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace dquic::h3static::test {

class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/h3static-test-XXXXXX";
    const char* p = mkdtemp(tmpl);
    if (p != nullptr) root_ = p;
  }
  ~TempTree() {
    if (!root_.empty())
      nftw(
          root_.c_str(),
          [](const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }, 16,
          FTW_DEPTH | FTW_PHYS);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  bool ok() const { return !root_.empty(); }
  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const { return root_ + "/" + std::string(rel); }

  bool mkdir(std::string_view rel) const { return ::mkdir(path(rel).c_str(), 0755) == 0; }
  bool write(std::string_view rel, std::string_view content) const {
    std::FILE* f = std::fopen(path(rel).c_str(), "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
    return std::fclose(f) == 0 && ok;
  }
  bool symlink(std::string_view target, std::string_view rel) const {
    return ::symlink(std::string(target).c_str(), path(rel).c_str()) == 0;
  }
  // Sets the modification time (seconds, nanoseconds).
  bool set_mtime(std::string_view rel, std::int64_t sec, long nsec = 0) const {
    const struct timespec ts[2] = {{static_cast<time_t>(sec), nsec},
                                   {static_cast<time_t>(sec), nsec}};
    return utimensat(AT_FDCWD, path(rel).c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0;
  }

 private:
  std::string root_;
};

}  // namespace dquic::h3static::test

// Opens a request's file under the served root without ever leaving it.
//
// Policy: symbolic links are refused everywhere under the root, whether
// they point inside or outside it (a link is never followed, so no link can
// lead out, loop, or reach /proc magic links). Directories are served by
// their "index.html"; only regular files are served (FIFOs, sockets and
// devices are refused). Resolution uses openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) when the kernel has it, otherwise a walk that opens
// each segment with openat(O_NOFOLLOW) from the previous directory: both
// give the same answers. Mount points under the root are crossed (the
// operator chose them).
#pragma once

#include <cstdint>
#include <string_view>

#include "apps/h3-static/unique_fd.h"

namespace dquic::h3static {

enum class ResolveError : std::uint8_t {
  kOk = 0,
  kNotFound,  // no such file, a file used as a directory, a directory
              // without index.html (never listed): 404
  kRefused,   // symlink, escape attempt, not a regular file: 404
  kNoAccess,  // permission denied: 404 (not 403, reveals nothing)
  kInternal,  // out of descriptors, I/O error: 500
};

std::string_view resolve_error_name(ResolveError e);

// What validators and the body need (RFC 9110 §8.8).
struct FileInfo {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // since the Unix epoch
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
};

struct ResolvedFile {
  UniqueFd fd;  // open O_RDONLY, on a regular file
  FileInfo info;
  bool is_index = false;  // the path named a directory; this is its index.html
};

inline constexpr char kIndexFile[] = "index.html";

class FileResolver {
 public:
  enum class Mode : std::uint8_t { kAuto, kOpenat2, kSegmentWalk };

  FileResolver() = default;
  // Opens the root directory; false (errno set) when it is not one. kAuto
  // probes openat2 once and falls back to the walk when the kernel or a
  // seccomp filter refuses it; kOpenat2 fails instead of falling back.
  bool open(const char* root_dir, Mode mode = Mode::kAuto);
  bool is_open() const { return root_.valid(); }
  // The mode in use after open() (never kAuto).
  Mode mode() const { return mode_; }

  // `relative` is a NormalizedPath (no leading '/', "" for the root).
  // Thread-safe: no state changes after open().
  ResolveError resolve(std::string_view relative, ResolvedFile& out) const;

 private:
  ResolveError open_openat2(const char* path, UniqueFd& out) const;
  ResolveError open_walk(std::string_view path, UniqueFd& out) const;

  UniqueFd root_;
  Mode mode_ = Mode::kAuto;
};

}  // namespace dquic::h3static

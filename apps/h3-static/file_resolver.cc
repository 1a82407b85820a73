#include "apps/h3-static/file_resolver.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "apps/h3-static/request_path.h"

namespace dquic::h3static {
namespace {

// O_NONBLOCK: opening a FIFO that slipped under the root must not block the
// worker; O_NOCTTY: a terminal device must not become ours.
constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
constexpr int kDirFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr std::uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

ResolveError from_errno(int e) {
  switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return ResolveError::kNotFound;
    case ELOOP:  // a symlink met with O_NOFOLLOW / RESOLVE_NO_SYMLINKS
    case EXDEV:  // RESOLVE_BENEATH: the path would leave the root
      return ResolveError::kRefused;
    case EACCES:
    case EPERM:
      return ResolveError::kNoAccess;
    default:
      return ResolveError::kInternal;
  }
}

long sys_openat2(int dirfd, const char* path, int flags, std::uint64_t resolve) {
  open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = resolve;
  return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

bool fill_info(int fd, FileInfo& info, bool& is_dir, bool& is_reg) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  is_dir = S_ISDIR(st.st_mode);
  is_reg = S_ISREG(st.st_mode);
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info.inode = st.st_ino;
  info.device = st.st_dev;
  return true;
}

}  // namespace

std::string_view resolve_error_name(ResolveError e) {
  switch (e) {
    case ResolveError::kOk:
      return "ok";
    case ResolveError::kNotFound:
      return "not-found";
    case ResolveError::kRefused:
      return "refused";
    case ResolveError::kNoAccess:
      return "no-access";
    case ResolveError::kInternal:
      return "internal";
  }
  return "?";
}

bool FileResolver::open(const char* root_dir, Mode mode) {
  // The root itself may be reached through a symlink (operator's choice).
  root_.reset(::open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_.valid()) return false;
  mode_ = mode;
  if (mode == Mode::kAuto) {
    const long fd = sys_openat2(root_.get(), ".", kDirFlags, kResolve);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      mode_ = Mode::kOpenat2;
    } else {
      mode_ = Mode::kSegmentWalk;  // ENOSYS (kernel < 5.6), EPERM (seccomp)
    }
  }
  return true;
}

ResolveError FileResolver::open_openat2(const char* path, UniqueFd& out) const {
  const long fd = sys_openat2(root_.get(), path, kFileFlags, kResolve);
  if (fd < 0) return from_errno(errno);
  out.reset(static_cast<int>(fd));
  return ResolveError::kOk;
}

ResolveError FileResolver::open_walk(std::string_view path, UniqueFd& out) const {
  char name[kMaxRequestPath + 1];
  UniqueFd dir;  // the directory reached so far (root_ while invalid)
  std::size_t pos = 0;
  for (;;) {
    std::size_t slash = path.find('/', pos);
    const bool last = slash == std::string_view::npos;
    if (last) slash = path.size();
    const std::string_view seg = path.substr(pos, slash - pos);
    // The caller normalised the path; refuse anyway what would climb or
    // stay (defence in depth: this is the last line before the kernel).
    if (seg.empty() || seg == "." || seg == ".." || seg.size() > kMaxRequestPath)
      return ResolveError::kRefused;
    std::memcpy(name, seg.data(), seg.size());
    name[seg.size()] = '\0';
    const int at = dir.valid() ? dir.get() : root_.get();
    const int fd = ::openat(at, name, last ? kFileFlags : kDirFlags);
    if (fd < 0) return from_errno(errno);
    if (last) {
      out.reset(fd);
      return ResolveError::kOk;
    }
    dir.reset(fd);
    pos = slash + 1;
  }
}

ResolveError FileResolver::resolve(std::string_view relative, ResolvedFile& out) const {
  out = ResolvedFile{};
  if (!root_.valid()) return ResolveError::kInternal;
  if (relative.size() > kMaxRequestPath) return ResolveError::kNotFound;
  if (relative.find('\0') != std::string_view::npos) return ResolveError::kRefused;

  UniqueFd fd;
  ResolveError e;
  if (relative.empty()) {
    fd.reset(::openat(root_.get(), ".", kFileFlags | O_DIRECTORY));
    e = fd.valid() ? ResolveError::kOk : from_errno(errno);
  } else if (mode_ == Mode::kOpenat2) {
    char path[kMaxRequestPath + 1];
    std::memcpy(path, relative.data(), relative.size());
    path[relative.size()] = '\0';
    e = open_openat2(path, fd);
  } else {
    e = open_walk(relative, fd);
  }
  if (e != ResolveError::kOk) return e;

  bool is_dir = false, is_reg = false;
  if (!fill_info(fd.get(), out.info, is_dir, is_reg)) return ResolveError::kInternal;
  if (is_dir) {
    // Directories are served by their index file, opened relative to the
    // directory fd itself: no second path walk to race against.
    const int idx = ::openat(fd.get(), kIndexFile, kFileFlags);
    if (idx < 0) return from_errno(errno);
    fd.reset(idx);
    if (!fill_info(fd.get(), out.info, is_dir, is_reg)) return ResolveError::kInternal;
    out.is_index = true;
  }
  if (!is_reg) return ResolveError::kRefused;
  // Regular file: blocking reads are what we want from here on.
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags >= 0) (void)fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  out.fd = std::move(fd);
  return ResolveError::kOk;
}

}  // namespace dquic::h3static

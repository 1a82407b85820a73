#include "runtime/keylog_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dquic {

std::unique_ptr<KeylogFile> KeylogFile::open(const std::string& option_path, std::string* err) {
  std::string source = "--keylog";
  std::string path = option_path;
  if (path.empty()) {
    const char* env = std::getenv("SSLKEYLOGFILE");
    if (env == nullptr || *env == '\0') return nullptr;
    source = "SSLKEYLOGFILE";
    path = env;
  }
  // 0600 at creation: the lines are traffic secrets. An existing file keeps
  // the mode its owner gave it.
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  std::FILE* f = fd >= 0 ? ::fdopen(fd, "a") : nullptr;
  if (f == nullptr) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    *err = source + ": cannot open " + path + ": " + std::strerror(e);
    return nullptr;
  }
  return std::unique_ptr<KeylogFile>(new KeylogFile(f, path));
}

KeylogFile::~KeylogFile() {
  std::fclose(file_);
}

KeylogSink KeylogFile::sink() {
  std::FILE* f = file_;
  return [f](std::string_view line) {
    std::fprintf(f, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(f);  // a capture being decrypted live sees the key at once
  };
}

}  // namespace dquic

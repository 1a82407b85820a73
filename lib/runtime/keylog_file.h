// The programs' TLS key log file (NSS key log format, quic/tls_keylog.h),
// for decrypting captures with Wireshark or tshark: the --keylog path, else
// $SSLKEYLOGFILE (the convention of OpenSSL, NSS, GnuTLS and browsers),
// opened for appending and created 0600 since every line is a secret. The
// sink writes each line whole (stdio's lock), so the workers of several
// lcores may share one file; a handshake writes a few lines, nothing is
// written per packet.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "quic/tls_keylog.h"

namespace dquic {

class KeylogFile {
 public:
  // nullptr without an error when neither the option nor the variable is
  // set; nullptr with one line in *err naming the source ("--keylog: cannot
  // open F: why", or "SSLKEYLOGFILE: ...") when the file cannot be opened.
  static std::unique_ptr<KeylogFile> open(const std::string& option_path, std::string* err);
  ~KeylogFile();
  KeylogFile(const KeylogFile&) = delete;
  KeylogFile& operator=(const KeylogFile&) = delete;

  // Valid while this object lives.
  KeylogSink sink();
  const std::string& path() const { return path_; }

 private:
  KeylogFile(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
};

}  // namespace dquic

// KeylogFile (runtime/keylog_file.h): --keylog or $SSLKEYLOGFILE, appended,
// created 0600, whole lines; a path that cannot be opened is one line
// naming where it came from.
#include "runtime/keylog_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace dquic {
namespace {

class KeylogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/dquic_keylog_test_" + std::to_string(getpid());
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    unsetenv("SSLKEYLOGFILE");
  }
  void TearDown() override {
    unsetenv("SSLKEYLOGFILE");
    for (const char* f : {"/a.log", "/env.log"})
      std::remove((dir_ + f).c_str());
    rmdir(dir_.c_str());
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

TEST_F(KeylogFileTest, OptionPathCreated0600AndAppended) {
  const std::string path = dir_ + "/a.log";
  {
    std::ofstream pre(path);
    pre << "EARLIER line\n";
  }
  chmod(path.c_str(), 0600);
  std::string err;
  std::unique_ptr<KeylogFile> k = KeylogFile::open(path, &err);
  ASSERT_NE(k, nullptr) << err;
  EXPECT_TRUE(err.empty());
  EXPECT_EQ(k->path(), path);
  KeylogSink sink = k->sink();
  sink("CLIENT_TRAFFIC_SECRET_0 aa bb");
  sink("SERVER_TRAFFIC_SECRET_0 cc dd");
  // Each line is flushed as written: readable before the file is closed.
  EXPECT_EQ(read(path),
            "EARLIER line\nCLIENT_TRAFFIC_SECRET_0 aa bb\nSERVER_TRAFFIC_SECRET_0 cc dd\n");
  k.reset();

  // A new file gets mode 0600 whatever the umask allows.
  std::remove(path.c_str());
  const mode_t old = umask(0);
  k = KeylogFile::open(path, &err);
  umask(old);
  ASSERT_NE(k, nullptr) << err;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(KeylogFileTest, EnvironmentWhenNoOptionAndOptionWins) {
  std::string err;
  EXPECT_EQ(KeylogFile::open("", &err), nullptr);  // neither: off, no error
  EXPECT_TRUE(err.empty());

  const std::string env_path = dir_ + "/env.log";
  setenv("SSLKEYLOGFILE", env_path.c_str(), 1);
  std::unique_ptr<KeylogFile> k = KeylogFile::open("", &err);
  ASSERT_NE(k, nullptr) << err;
  EXPECT_EQ(k->path(), env_path);
  k->sink()("CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02");
  k.reset();
  EXPECT_EQ(read(env_path), "CLIENT_HANDSHAKE_TRAFFIC_SECRET 01 02\n");

  // The option is used when both are given.
  const std::string path = dir_ + "/a.log";
  k = KeylogFile::open(path, &err);
  ASSERT_NE(k, nullptr) << err;
  EXPECT_EQ(k->path(), path);
}

TEST_F(KeylogFileTest, UnopenablePathIsOneLineNamingItsSource) {
  std::string err;
  EXPECT_EQ(KeylogFile::open(dir_ + "/missing/dir/k.log", &err), nullptr);
  EXPECT_EQ(err.rfind("--keylog: cannot open " + dir_ + "/missing/dir/k.log: ", 0), 0u) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);

  err.clear();
  setenv("SSLKEYLOGFILE", (dir_ + "/missing/k.log").c_str(), 1);
  EXPECT_EQ(KeylogFile::open("", &err), nullptr);
  EXPECT_EQ(err.rfind("SSLKEYLOGFILE: cannot open ", 0), 0u) << err;
}

}  // namespace
}  // namespace dquic

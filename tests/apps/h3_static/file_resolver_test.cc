#include "apps/h3-static/file_resolver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "apps/h3-static/request_path.h"
#include "temp_tree.h"

namespace dquic::h3static {
namespace {

using test::TempTree;

// Every case runs with openat2 and with the per-segment walk.
class FileResolverTest : public ::testing::TestWithParam<FileResolver::Mode> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tree_.ok());
    // Outside the served root, next to it: what traversal would reach.
    ASSERT_TRUE(tree_.mkdir("www"));
    ASSERT_TRUE(tree_.write("secret.txt", "secret"));
    ASSERT_TRUE(tree_.write("www/index.html", "<h1>root</h1>"));
    ASSERT_TRUE(tree_.write("www/a.txt", "hello"));
    ASSERT_TRUE(tree_.mkdir("www/docs"));
    ASSERT_TRUE(tree_.write("www/docs/index.html", "docs"));
    ASSERT_TRUE(tree_.write("www/docs/page.css", "body{}"));
    ASSERT_TRUE(tree_.mkdir("www/empty"));
    ASSERT_TRUE(tree_.mkdir("www/sub"));
    ASSERT_TRUE(tree_.mkdir("www/sub/deeper"));
    ASSERT_TRUE(tree_.write("www/sub/deeper/f.bin", std::string(1000, 'x')));
    // Symlinks: out of the root (absolute and relative), inside it, loops.
    ASSERT_TRUE(tree_.symlink("/etc", "www/etc"));
    ASSERT_TRUE(tree_.symlink("/etc/passwd", "www/passwd"));
    ASSERT_TRUE(tree_.symlink("../secret.txt", "www/up.txt"));
    ASSERT_TRUE(tree_.symlink("..", "www/parent"));
    ASSERT_TRUE(tree_.symlink("a.txt", "www/inside.txt"));
    ASSERT_TRUE(tree_.symlink("docs", "www/docs-link"));
    ASSERT_TRUE(tree_.symlink("loop1", "www/loop2"));
    ASSERT_TRUE(tree_.symlink("loop2", "www/loop1"));
    ASSERT_TRUE(tree_.symlink("self", "www/self"));
    ASSERT_TRUE(tree_.mkdir("www/linkidx"));
    ASSERT_TRUE(tree_.symlink("/etc/passwd", "www/linkidx/index.html"));
    ASSERT_EQ(mkfifo(tree_.path("www/fifo").c_str(), 0644), 0);
    ASSERT_TRUE(resolver_.open(tree_.path("www").c_str(), GetParam()));
    ASSERT_EQ(resolver_.mode(), GetParam());
  }

  ResolveError resolve(std::string_view rel, ResolvedFile* out = nullptr) {
    ResolvedFile f;
    const ResolveError e = resolver_.resolve(rel, f);
    if (e == ResolveError::kOk) {
      EXPECT_TRUE(f.fd.valid());
    } else {
      EXPECT_FALSE(f.fd.valid());
    }
    if (out != nullptr) *out = std::move(f);
    return e;
  }

  static std::string read_all(const ResolvedFile& f) {
    std::string s(f.info.size, '\0');
    const ssize_t n = pread(f.fd.get(), s.data(), s.size(), 0);
    return n == static_cast<ssize_t>(s.size()) ? s : std::string("<short read>");
  }

  TempTree tree_;
  FileResolver resolver_;
};

TEST_P(FileResolverTest, RegularFile) {
  ResolvedFile f;
  ASSERT_EQ(resolve("a.txt", &f), ResolveError::kOk);
  EXPECT_EQ(read_all(f), "hello");
  EXPECT_EQ(f.info.size, 5u);
  EXPECT_FALSE(f.is_index);
  struct stat st;
  ASSERT_EQ(stat(tree_.path("www/a.txt").c_str(), &st), 0);
  EXPECT_EQ(f.info.inode, st.st_ino);
  EXPECT_EQ(f.info.device, st.st_dev);
  EXPECT_EQ(f.info.mtime_ns, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
  ASSERT_EQ(resolve("sub/deeper/f.bin", &f), ResolveError::kOk);
  EXPECT_EQ(f.info.size, 1000u);
}

TEST_P(FileResolverTest, DirectoriesServeIndexHtml) {
  ResolvedFile f;
  ASSERT_EQ(resolve("", &f), ResolveError::kOk);
  EXPECT_TRUE(f.is_index);
  EXPECT_EQ(read_all(f), "<h1>root</h1>");
  ASSERT_EQ(resolve("docs", &f), ResolveError::kOk);
  EXPECT_TRUE(f.is_index);
  EXPECT_EQ(read_all(f), "docs");
  EXPECT_EQ(resolve("empty"), ResolveError::kNotFound);  // no listing
  EXPECT_EQ(resolve("sub"), ResolveError::kNotFound);
}

TEST_P(FileResolverTest, Missing) {
  EXPECT_EQ(resolve("nope.html"), ResolveError::kNotFound);
  EXPECT_EQ(resolve("nope/x"), ResolveError::kNotFound);
  EXPECT_EQ(resolve("a.txt/x"), ResolveError::kNotFound);  // file used as a directory
  EXPECT_EQ(resolve("docs/nope.css"), ResolveError::kNotFound);
}

TEST_P(FileResolverTest, SymlinksOutsideRefused) {
  EXPECT_NE(resolve("etc/passwd"), ResolveError::kOk);
  EXPECT_NE(resolve("etc"), ResolveError::kOk);
  EXPECT_EQ(resolve("passwd"), ResolveError::kRefused);
  EXPECT_EQ(resolve("up.txt"), ResolveError::kRefused);
  EXPECT_NE(resolve("parent/secret.txt"), ResolveError::kOk);
  EXPECT_NE(resolve("parent"), ResolveError::kOk);
  EXPECT_NE(resolve("linkidx"), ResolveError::kOk);  // index.html is a link out
}

TEST_P(FileResolverTest, SymlinksInsideRefusedToo) {
  // Policy (file_resolver.h): no symlink is followed.
  EXPECT_EQ(resolve("inside.txt"), ResolveError::kRefused);
  EXPECT_NE(resolve("docs-link/page.css"), ResolveError::kOk);
  EXPECT_NE(resolve("docs-link"), ResolveError::kOk);
}

TEST_P(FileResolverTest, SymlinkLoopsRefused) {
  EXPECT_EQ(resolve("loop1"), ResolveError::kRefused);
  EXPECT_NE(resolve("loop1/x"), ResolveError::kOk);
  EXPECT_EQ(resolve("self"), ResolveError::kRefused);
}

TEST_P(FileResolverTest, DotDotRefusedEvenUnnormalised) {
  // The resolver's own defence, should a caller skip normalisation.
  EXPECT_NE(resolve(".."), ResolveError::kOk);
  EXPECT_NE(resolve("../secret.txt"), ResolveError::kOk);
  EXPECT_NE(resolve("docs/../../secret.txt"), ResolveError::kOk);
  EXPECT_NE(resolve("/etc/passwd"), ResolveError::kOk);
  EXPECT_NE(resolve(std::string_view("a.txt\0x", 7)), ResolveError::kOk);
}

TEST_P(FileResolverTest, NonRegularFilesRefused) {
  EXPECT_EQ(resolve("fifo"), ResolveError::kRefused);  // and does not block
}

TEST_P(FileResolverTest, NormalisedTraversalAttempts) {
  // End to end with request_path: nothing reaches secret.txt.
  for (const char* target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2e/secret.txt", "/..%2fsecret.txt",
        "/%2fsecret.txt", "/..\\secret.txt", "/secret.txt%00.html", "/up.txt", "/parent/secret.txt",
        "/etc/passwd", "/loop1"}) {
    NormalizedPath p;
    if (normalize_request_path(target, {}, p) != PathError::kOk) continue;
    EXPECT_NE(resolve(p.view()), ResolveError::kOk) << target;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, FileResolverTest,
                         ::testing::Values(FileResolver::Mode::kOpenat2,
                                           FileResolver::Mode::kSegmentWalk),
                         [](const auto& info) {
                           return info.param == FileResolver::Mode::kOpenat2 ? "openat2" : "walk";
                         });

TEST(FileResolver, RootMustBeADirectory) {
  TempTree tree;
  ASSERT_TRUE(tree.write("f", "x"));
  FileResolver r;
  EXPECT_FALSE(r.open(tree.path("f").c_str()));
  EXPECT_FALSE(r.open(tree.path("missing").c_str()));
  EXPECT_TRUE(r.open(tree.root().c_str()));
  EXPECT_NE(r.mode(), FileResolver::Mode::kAuto);
  ResolvedFile f;
  FileResolver closed;
  EXPECT_EQ(closed.resolve("x", f), ResolveError::kInternal);
}

}  // namespace
}  // namespace dquic::h3static

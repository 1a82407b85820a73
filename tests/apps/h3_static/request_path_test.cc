#include "apps/h3-static/request_path.h"

#include <gtest/gtest.h>

#include <string>

namespace dquic::h3static {
namespace {

struct Normalized {
  PathError error;
  std::string path;
  bool trailing_slash;
};

Normalized normalize(std::string_view target, bool allow_hidden = false) {
  NormalizedPath out;
  PathOptions opts;
  opts.allow_hidden = allow_hidden;
  const PathError e = normalize_request_path(target, opts, out);
  return {e, std::string(out.view()), out.trailing_slash};
}

TEST(RequestPath, PlainPaths) {
  EXPECT_EQ(normalize("/").error, PathError::kOk);
  EXPECT_EQ(normalize("/").path, "");
  EXPECT_TRUE(normalize("/").trailing_slash);
  EXPECT_EQ(normalize("/index.html").path, "index.html");
  EXPECT_FALSE(normalize("/index.html").trailing_slash);
  EXPECT_EQ(normalize("/a/b/c.txt").path, "a/b/c.txt");
  EXPECT_EQ(normalize("/a/b/").path, "a/b");
  EXPECT_TRUE(normalize("/a/b/").trailing_slash);
}

TEST(RequestPath, QueryAndFragmentStripped) {
  EXPECT_EQ(normalize("/a.html?x=1&y=/../etc").path, "a.html");
  EXPECT_EQ(normalize("/a.html#frag").path, "a.html");
  EXPECT_EQ(normalize("/?q").path, "");
  // A '?' that was encoded is part of the name.
  EXPECT_EQ(normalize("/a%3fb").path, "a?b");
}

TEST(RequestPath, EmptyAndDotSegmentsCollapse) {
  EXPECT_EQ(normalize("//a///b//").path, "a/b");
  EXPECT_EQ(normalize("/./a/./b/.").path, "a/b");
  EXPECT_EQ(normalize("/%2e/a").path, "a");
  EXPECT_EQ(normalize("/////").path, "");
}

TEST(RequestPath, PercentDecoding) {
  EXPECT_EQ(normalize("/hello%20world.txt").path, "hello world.txt");
  EXPECT_EQ(normalize("/%41%62%63").path, "Abc");
  EXPECT_EQ(normalize("/%e2%82%ac").path, "\xe2\x82\xac");  // UTF-8 euro sign
  EXPECT_EQ(normalize("/100%25").path, "100%");
  // Decoding happens once: %2541 is "%41", not "A".
  EXPECT_EQ(normalize("/%2541").path, "%41");
}

TEST(RequestPath, MalformedEscapesRejected) {
  for (const char* t : {"/%", "/a%", "/a%4", "/%4/x", "/%zz", "/%g0", "/%0g", "/a%%41"})
    EXPECT_EQ(normalize(t).error, PathError::kMalformedEscape) << t;
}

TEST(RequestPath, DotDotRejectedRawAndEncoded) {
  for (const char* t :
       {"/..", "/../etc/passwd", "/a/../b", "/a/..", "/a/b/../../..", "/%2e%2e",
        "/%2e%2e/etc/passwd", "/%2E%2e/", "/%2E%2E/x", "/.%2e/x", "/%2e./x", "/a/%2e%2e", "//..//"})
    EXPECT_EQ(normalize(t).error, PathError::kDotDot) << t;
}

TEST(RequestPath, EncodedSlashRejected) {
  for (const char* t : {"/%2f", "/%2F", "/a%2fb", "/..%2f", "/..%2fetc%2fpasswd", "/%2e%2e%2f"})
    EXPECT_EQ(normalize(t).error, PathError::kEncodedSlash) << t;
}

TEST(RequestPath, BackslashRejected) {
  for (const char* t : {"/a\\b", "/..\\etc", "/\\", "/%5c", "/%5C..", "/..%5c"})
    EXPECT_EQ(normalize(t).error, PathError::kBackslash) << t;
}

TEST(RequestPath, NulAndControlCharactersRejected) {
  EXPECT_EQ(normalize("/a%00.html").error, PathError::kNul);
  EXPECT_EQ(normalize("/%00").error, PathError::kNul);
  EXPECT_EQ(normalize(std::string_view("/a\0b", 4)).error, PathError::kNul);
  EXPECT_EQ(normalize("/a%0ab").error, PathError::kControlChar);
  EXPECT_EQ(normalize("/a%7f").error, PathError::kControlChar);
  EXPECT_EQ(normalize("/a b").error, PathError::kControlChar);
  EXPECT_EQ(normalize("/a\tb").error, PathError::kControlChar);
}

TEST(RequestPath, NotOriginForm) {
  EXPECT_EQ(normalize("").error, PathError::kNotOriginForm);
  EXPECT_EQ(normalize("*").error, PathError::kNotOriginForm);
  EXPECT_EQ(normalize("index.html").error, PathError::kNotOriginForm);
  EXPECT_EQ(normalize("https://example.com/").error, PathError::kNotOriginForm);
  EXPECT_EQ(normalize("?x").error, PathError::kNotOriginForm);
}

TEST(RequestPath, HiddenSegments) {
  EXPECT_EQ(normalize("/.git/config").error, PathError::kHidden);
  EXPECT_EQ(normalize("/a/.env").error, PathError::kHidden);
  EXPECT_EQ(normalize("/%2egit").error, PathError::kHidden);
  EXPECT_EQ(normalize("/.well-known/x", true).path, ".well-known/x");
  // Even with hidden files allowed, ".." stays refused.
  EXPECT_EQ(normalize("/..", true).error, PathError::kDotDot);
  EXPECT_EQ(normalize("/a.b/c..d/x...").error, PathError::kOk);
  EXPECT_EQ(normalize("/a/...x").error, PathError::kHidden);
  EXPECT_EQ(normalize("/c..d").path, "c..d");
}

TEST(RequestPath, TooLong) {
  std::string ok = "/" + std::string(kMaxRequestPath, 'a');
  EXPECT_EQ(normalize(ok).error, PathError::kOk);
  EXPECT_EQ(normalize(ok + "b").error, PathError::kTooLong);
  std::string segs;
  for (std::size_t i = 0; i < kMaxRequestPath; ++i)
    segs += "/a";
  EXPECT_EQ(normalize(segs).error, PathError::kTooLong);
  // Escapes count decoded: three bytes of input, one of output.
  std::string enc = "/";
  for (std::size_t i = 0; i < kMaxRequestPath; ++i)
    enc += "%41";
  EXPECT_EQ(normalize(enc).error, PathError::kOk);
}

TEST(RequestPath, Statuses) {
  EXPECT_EQ(path_error_status(PathError::kMalformedEscape), 400);
  EXPECT_EQ(path_error_status(PathError::kNul), 400);
  EXPECT_EQ(path_error_status(PathError::kBackslash), 400);
  EXPECT_EQ(path_error_status(PathError::kControlChar), 400);
  EXPECT_EQ(path_error_status(PathError::kNotOriginForm), 400);
  EXPECT_EQ(path_error_status(PathError::kDotDot), 404);
  EXPECT_EQ(path_error_status(PathError::kEncodedSlash), 404);
  EXPECT_EQ(path_error_status(PathError::kHidden), 404);
  EXPECT_EQ(path_error_status(PathError::kTooLong), 414);
  EXPECT_EQ(path_error_name(PathError::kDotDot), "dot-dot");
}

}  // namespace
}  // namespace dquic::h3static

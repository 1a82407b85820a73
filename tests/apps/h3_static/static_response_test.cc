#include "apps/h3-static/static_response.h"

#include <gtest/gtest.h>

#include <string>

#include "apps/h3-static/http_date.h"
#include "temp_tree.h"

namespace dquic::h3static {
namespace {

using test::TempTree;

constexpr std::int64_t kNow = 1796256000;    // Thu, 03 Dec 2026 00:00:00 GMT
constexpr std::int64_t kMtime = 1796000000;  // Mon, 30 Nov 2026 00:53:20 GMT
constexpr long kMtimeNs = 123456789;
constexpr const char* kMtimeText = "Mon, 30 Nov 2026 00:53:20 GMT";

class StaticResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tree_.ok());
    ASSERT_TRUE(tree_.mkdir("www"));
    ASSERT_TRUE(tree_.write("secret.txt", "secret"));
    ASSERT_TRUE(tree_.write("www/index.html", "<!doctype html><p>hi</p>\n"));
    body_ = std::string(1000, '\0');
    for (std::size_t i = 0; i < body_.size(); ++i)
      body_[i] = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(tree_.write("www/data.bin", body_));
    ASSERT_TRUE(tree_.write("www/style.css", "p{}"));
    ASSERT_TRUE(tree_.write("www/empty.txt", ""));
    ASSERT_TRUE(tree_.mkdir("www/sub"));
    ASSERT_TRUE(tree_.write("www/sub/index.html", "sub"));
    ASSERT_TRUE(tree_.symlink("/etc", "www/etc"));
    ASSERT_TRUE(tree_.symlink("../secret.txt", "www/leak.txt"));
    ASSERT_TRUE(tree_.symlink("loop", "www/loop"));
    ASSERT_TRUE(tree_.set_mtime("www/data.bin", kMtime, kMtimeNs));
    ASSERT_TRUE(tree_.set_mtime("www/index.html", kMtime));
    ASSERT_TRUE(resolver_.open(tree_.path("www").c_str()));
    config_.resolver = &resolver_;
  }

  ResponsePlan get(std::string_view path, std::string_view method = "GET") {
    StaticRequest r;
    r.method = method;
    r.path = path;
    return plan(r);
  }
  ResponsePlan plan(const StaticRequest& r) {
    ResponsePlan p;
    plan_static_response(config_, r, kNow, p);
    return p;
  }
  static std::string header(const ResponsePlan& p, std::string_view name) {
    const auto v = p.header(name);
    return v ? std::string(*v) : std::string("<absent>");
  }
  static std::string read_body(const ResponsePlan& p) {
    if (p.body_kind == BodyKind::kText) return std::string(p.text);
    if (p.body_kind != BodyKind::kFile) return "";
    std::string s(p.body_length, '\0');
    const ssize_t n = pread(p.file_fd.get(), s.data(), s.size(), static_cast<off_t>(p.body_offset));
    return n == static_cast<ssize_t>(s.size()) ? s : "<short read>";
  }
  std::string etag_of(std::string_view path) { return header(get(path), "etag"); }

  TempTree tree_;
  FileResolver resolver_;
  StaticConfig config_;
  std::string body_;
};

TEST_F(StaticResponseTest, Get200) {
  const ResponsePlan p = get("/data.bin");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(header(p, "content-type"), "application/octet-stream");
  EXPECT_EQ(header(p, "content-length"), "1000");
  EXPECT_EQ(header(p, "last-modified"), kMtimeText);
  EXPECT_EQ(header(p, "accept-ranges"), "bytes");
  EXPECT_EQ(header(p, "date"), "Thu, 03 Dec 2026 00:00:00 GMT");
  EXPECT_EQ(header(p, "alt-svc"), "<absent>");
  EXPECT_EQ(header(p, "content-range"), "<absent>");
  const std::string etag = header(p, "etag");
  ASSERT_GE(etag.size(), 2u);
  EXPECT_EQ(etag.front(), '"');
  // mtime nanoseconds are in the tag.
  char ns_hex[32];
  std::snprintf(ns_hex, sizeof ns_hex, "-%llx\"",
                static_cast<unsigned long long>(kMtime * 1000000000LL + kMtimeNs));
  EXPECT_NE(etag.find(ns_hex), std::string::npos) << etag;
  ASSERT_EQ(p.body_kind, BodyKind::kFile);
  EXPECT_TRUE(p.file_fd.valid());
  EXPECT_EQ(p.body_offset, 0u);
  EXPECT_EQ(p.body_length, 1000u);
  EXPECT_EQ(read_body(p), body_);
}

TEST_F(StaticResponseTest, ContentTypesAndIndex) {
  EXPECT_EQ(header(get("/style.css"), "content-type"), "text/css; charset=utf-8");
  const ResponsePlan root = get("/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(header(root, "content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(read_body(root), "<!doctype html><p>hi</p>\n");
  const ResponsePlan sub = get("/sub");
  EXPECT_EQ(sub.status, 200);
  EXPECT_EQ(header(sub, "content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(read_body(sub), "sub");
  EXPECT_EQ(read_body(get("/sub/")), "sub");
  EXPECT_EQ(read_body(get("/sub/index.html?v=2")), "sub");
}

TEST_F(StaticResponseTest, EmptyFile) {
  const ResponsePlan p = get("/empty.txt");
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(header(p, "content-length"), "0");
  EXPECT_EQ(p.body_kind, BodyKind::kNone);
}

TEST_F(StaticResponseTest, Head) {
  StaticRequest r;
  r.method = "HEAD";
  r.path = "/data.bin";
  const ResponsePlan h = plan(r);
  const ResponsePlan g = get("/data.bin");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body_kind, BodyKind::kNone);
  EXPECT_FALSE(h.file_fd.valid());
  ASSERT_EQ(h.header_count, g.header_count);
  for (std::size_t i = 0; i < h.header_count; ++i) {
    EXPECT_EQ(h.headers[i].name, g.headers[i].name);
    EXPECT_EQ(h.headers[i].value_view(), g.headers[i].value_view());
  }
  // Range is defined for GET only (RFC 9110 §14.2).
  r.range = "bytes=0-9";
  EXPECT_EQ(plan(r).status, 200);
  EXPECT_EQ(header(plan(r), "content-length"), "1000");
  // HEAD of a missing file: 404 headers, no body.
  const ResponsePlan m = get("/missing", "HEAD");
  EXPECT_EQ(m.status, 404);
  EXPECT_EQ(m.body_kind, BodyKind::kNone);
  EXPECT_EQ(header(m, "content-length"), std::to_string(get("/missing").text.size()));
}

TEST_F(StaticResponseTest, MethodNotAllowed) {
  for (const char* m :
       {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "get", "Head", ""}) {
    const ResponsePlan p = get("/data.bin", m);
    EXPECT_EQ(p.status, 405) << m;
    EXPECT_EQ(header(p, "allow"), "GET, HEAD") << m;
    EXPECT_EQ(p.body_kind, BodyKind::kText);
    EXPECT_FALSE(p.file_fd.valid());
  }
}

TEST_F(StaticResponseTest, NotFound) {
  const ResponsePlan p = get("/nope.html");
  EXPECT_EQ(p.status, 404);
  EXPECT_EQ(p.resolve_error, ResolveError::kNotFound);
  EXPECT_EQ(header(p, "content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(read_body(p), "Not Found\n");
  EXPECT_EQ(header(p, "content-length"), "10");
  EXPECT_EQ(header(p, "etag"), "<absent>");
}

TEST_F(StaticResponseTest, TraversalRefused) {
  const std::pair<const char*, int> cases[] = {
      {"/../secret.txt", 404},
      {"/%2e%2e/secret.txt", 404},
      {"/%2E%2e/secret.txt", 404},
      {"/.%2e/secret.txt", 404},
      {"/..%2fsecret.txt", 404},
      {"/%2f", 404},
      {"/%2fetc%2fpasswd", 404},
      {"/secret.txt%00", 400},
      {"/%00", 400},
      {"/..\\secret.txt", 400},
      {"/%5c..%5csecret.txt", 400},
      {"/etc/passwd", 404},
      {"/etc", 404},
      {"/leak.txt", 404},
      {"/loop", 404},
      {"/loop/x", 404},
      {"/sub/../../secret.txt", 404},
      {"/%zz", 400},
      {"*", 400},
  };
  for (const auto& [path, status] : cases) {
    const ResponsePlan p = get(path);
    EXPECT_EQ(p.status, status) << path;
    EXPECT_NE(p.body_kind, BodyKind::kFile) << path;
    EXPECT_FALSE(p.file_fd.valid()) << path;
    EXPECT_EQ(read_body(p).find("secret"), std::string::npos) << path;
  }
}

TEST_F(StaticResponseTest, IfNoneMatch304) {
  const std::string etag = etag_of("/data.bin");
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  for (const std::string& inm : {etag, "W/" + etag, std::string("*"), "\"x\", " + etag}) {
    r.if_none_match = inm;
    const ResponsePlan p = plan(r);
    EXPECT_EQ(p.status, 304) << inm;
    EXPECT_EQ(header(p, "etag"), etag);
    EXPECT_EQ(header(p, "last-modified"), kMtimeText);
    EXPECT_EQ(header(p, "content-length"), "<absent>");
    EXPECT_EQ(p.body_kind, BodyKind::kNone);
    EXPECT_FALSE(p.file_fd.valid());
  }
  r.if_none_match = "\"stale\"";
  EXPECT_EQ(plan(r).status, 200);
  r.method = "HEAD";
  r.if_none_match = etag;
  EXPECT_EQ(plan(r).status, 304);
}

TEST_F(StaticResponseTest, IfModifiedSince304) {
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  r.if_modified_since = kMtimeText;
  EXPECT_EQ(plan(r).status, 304);
  r.if_modified_since = "Thu, 03 Dec 2026 00:00:00 GMT";
  EXPECT_EQ(plan(r).status, 304);
  r.if_modified_since = "Mon, 30 Nov 2026 00:53:19 GMT";
  EXPECT_EQ(plan(r).status, 200);
  r.if_modified_since = "Monday, 30-Nov-26 00:53:20 GMT";
  EXPECT_EQ(plan(r).status, 304);
  r.if_modified_since = "Mon Nov 30 00:53:20 2026";
  EXPECT_EQ(plan(r).status, 304);
  r.if_modified_since = "not a date";
  EXPECT_EQ(plan(r).status, 200);
  // With If-None-Match present, If-Modified-Since is ignored.
  r.if_modified_since = kMtimeText;
  r.if_none_match = "\"stale\"";
  EXPECT_EQ(plan(r).status, 200);
}

TEST_F(StaticResponseTest, Range206) {
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  r.range = "bytes=10-19";
  const ResponsePlan p = plan(r);
  EXPECT_EQ(p.status, 206);
  EXPECT_EQ(header(p, "content-range"), "bytes 10-19/1000");
  EXPECT_EQ(header(p, "content-length"), "10");
  EXPECT_EQ(header(p, "content-type"), "application/octet-stream");
  EXPECT_EQ(p.body_offset, 10u);
  EXPECT_EQ(p.body_length, 10u);
  EXPECT_EQ(read_body(p), body_.substr(10, 10));

  r.range = "bytes=-5";
  const ResponsePlan s = plan(r);
  EXPECT_EQ(s.status, 206);
  EXPECT_EQ(header(s, "content-range"), "bytes 995-999/1000");
  EXPECT_EQ(read_body(s), body_.substr(995));

  r.range = "bytes=990-";
  EXPECT_EQ(header(plan(r), "content-range"), "bytes 990-999/1000");
}

TEST_F(StaticResponseTest, Range416) {
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  r.range = "bytes=1000-";
  const ResponsePlan p = plan(r);
  EXPECT_EQ(p.status, 416);
  EXPECT_EQ(header(p, "content-range"), "bytes */1000");
  EXPECT_EQ(p.body_kind, BodyKind::kText);
  EXPECT_FALSE(p.file_fd.valid());
  r.path = "/empty.txt";
  r.range = "bytes=0-";
  EXPECT_EQ(header(plan(r), "content-range"), "bytes */0");
}

TEST_F(StaticResponseTest, RangeIgnoredOrMultiple) {
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  for (const char* f : {"bytes=5-1", "lines=1-2", "bytes=x", "bytes=0-1,4-5"}) {
    r.range = f;
    const ResponsePlan p = plan(r);
    EXPECT_EQ(p.status, 200) << f;
    EXPECT_EQ(header(p, "content-length"), "1000") << f;
    EXPECT_EQ(p.body_length, 1000u) << f;
  }
}

TEST_F(StaticResponseTest, IfRange) {
  const std::string etag = etag_of("/data.bin");
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  r.range = "bytes=0-9";
  r.if_range = etag;
  EXPECT_EQ(plan(r).status, 206);
  r.if_range = "\"stale\"";
  EXPECT_EQ(plan(r).status, 200);
  const std::string weak = "W/" + etag;
  r.if_range = weak;  // weak tags never match If-Range
  EXPECT_EQ(plan(r).status, 200);
  r.if_range = kMtimeText;
  EXPECT_EQ(plan(r).status, 206);
  r.if_range = "Thu, 03 Dec 2026 00:00:00 GMT";  // not exact
  EXPECT_EQ(plan(r).status, 200);
  // If-Range without Range changes nothing; with an unsatisfiable range
  // that does not match, the full file is sent instead of 416.
  r.range.reset();
  r.if_range = etag;
  EXPECT_EQ(plan(r).status, 200);
  r.range = "bytes=5000-";
  r.if_range = "\"stale\"";
  EXPECT_EQ(plan(r).status, 200);
  r.if_range = etag;
  EXPECT_EQ(plan(r).status, 416);
}

TEST_F(StaticResponseTest, ConditionalBeforeRange) {
  // RFC 9110 §13.2.2: a 304 from If-None-Match wins over Range.
  StaticRequest r;
  r.method = "GET";
  r.path = "/data.bin";
  r.range = "bytes=0-9";
  const std::string etag = etag_of("/data.bin");  // outlives the view in r
  r.if_none_match = etag;
  EXPECT_EQ(plan(r).status, 304);
}

TEST_F(StaticResponseTest, AltSvc) {
  config_.alt_svc_port = 443;
  EXPECT_EQ(header(get("/data.bin"), "alt-svc"), "h3=\":443\"; ma=86400");
  config_.alt_svc_port = 8443;
  EXPECT_EQ(header(get("/missing"), "alt-svc"), "h3=\":8443\"; ma=86400");
}

TEST_F(StaticResponseTest, FutureMtimeClampedToNow) {
  ASSERT_TRUE(tree_.set_mtime("www/style.css", kNow + 86400));
  EXPECT_EQ(header(get("/style.css"), "last-modified"), "Thu, 03 Dec 2026 00:00:00 GMT");
}

TEST_F(StaticResponseTest, HiddenFiles) {
  ASSERT_TRUE(tree_.write("www/.env", "KEY=1"));
  EXPECT_EQ(get("/.env").status, 404);
  config_.path_options.allow_hidden = true;
  EXPECT_EQ(get("/.env").status, 200);
}

TEST_F(StaticResponseTest, NoResolver) {
  config_.resolver = nullptr;
  EXPECT_EQ(get("/data.bin").status, 500);
}

}  // namespace
}  // namespace dquic::h3static

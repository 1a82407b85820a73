#include "apps/h3-static/content_type.h"

#include <gtest/gtest.h>

namespace dquic::h3static {
namespace {

TEST(ContentType, KnownExtensions) {
  const std::pair<const char*, const char*> cases[] = {
      {"index.html", "text/html; charset=utf-8"},
      {"old.htm", "text/html; charset=utf-8"},
      {"s.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"},
      {"mod.mjs", "text/javascript; charset=utf-8"},
      {"d.json", "application/json"},
      {"readme.txt", "text/plain; charset=utf-8"},
      {"logo.svg", "image/svg+xml"},
      {"a.png", "image/png"},
      {"a.jpg", "image/jpeg"},
      {"a.jpeg", "image/jpeg"},
      {"a.gif", "image/gif"},
      {"a.webp", "image/webp"},
      {"noise.bmp", "image/bmp"},
      {"favicon.ico", "image/vnd.microsoft.icon"},
      {"m.wasm", "application/wasm"},
      {"f.woff", "font/woff"},
      {"f.woff2", "font/woff2"},
      {"doc.pdf", "application/pdf"},
      {"feed.xml", "application/xml"},
      {"v.mp4", "video/mp4"},
      {"v.webm", "video/webm"},
  };
  for (const auto& [name, type] : cases)
    EXPECT_EQ(content_type_for(name), type) << name;
}

TEST(ContentType, CaseInsensitiveAndPaths) {
  EXPECT_EQ(content_type_for("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("a/b.c/Photo.JpEg"), "image/jpeg");
  EXPECT_EQ(content_type_for("archive.tar.gz"), kDefaultContentType);
  EXPECT_EQ(content_type_for("page.html.bak"), kDefaultContentType);
  EXPECT_EQ(content_type_for("x.min.js"), "text/javascript; charset=utf-8");
}

TEST(ContentType, DefaultForUnknownOrNone) {
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
  EXPECT_EQ(content_type_for("a.exe"), kDefaultContentType);
  EXPECT_EQ(content_type_for("a."), kDefaultContentType);
  EXPECT_EQ(content_type_for(".html"), kDefaultContentType);  // hidden file, no extension
  EXPECT_EQ(content_type_for("dir.html/file"), kDefaultContentType);
  EXPECT_EQ(content_type_for(""), kDefaultContentType);
  EXPECT_EQ(content_type_for("a.htmlx"), kDefaultContentType);
  EXPECT_EQ(content_type_for("a.ht"), kDefaultContentType);
}

}  // namespace
}  // namespace dquic::h3static

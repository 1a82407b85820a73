// HTTP message validation (RFC 9114 §4.1-4.4).
#include "h3/h3_message.h"

#include <gtest/gtest.h>

#include <vector>

namespace dquic {
namespace {

using Fields = std::vector<QpackField>;

Fields get() {
  return {{":method", "GET"},
          {":scheme", "https"},
          {":authority", "example.com"},
          {":path", "/index.html"},
          {"accept", "*/*"}};
}

H3Error req(const Fields& f, H3RequestHead* h = nullptr) {
  return validate_request(f, h);
}

TEST(H3Message, ValidRequest) {
  H3RequestHead h;
  ASSERT_EQ(req(get(), &h), H3Error::kNoError);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.scheme, "https");
  EXPECT_EQ(h.authority, "example.com");
  EXPECT_EQ(h.path, "/index.html");
  EXPECT_FALSE(h.connect);
  EXPECT_FALSE(h.content_length);
  // Pseudo-headers in any order; Host instead of :authority; te: trailers.
  EXPECT_EQ(req({{":path", "/"},
                 {":method", "POST"},
                 {":scheme", "http"},
                 {"host", "a"},
                 {"te", "trailers"},
                 {"content-length", "12"},
                 {"content-length", "12"}},
                &h),
            H3Error::kNoError);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_EQ(
      req({{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a"}, {":path", "*"}}),
      H3Error::kNoError);
  EXPECT_EQ(req({{":method", "GET"}, {":scheme", "urn"}, {":path", "x:y"}}), H3Error::kNoError);
}

TEST(H3Message, RequestPseudoHeaderRules) {
  auto without = [](std::string_view name) {
    Fields f = get();
    std::erase_if(f, [&](const QpackField& x) { return x.name == name; });
    return f;
  };
  EXPECT_EQ(req(without(":method")), H3Error::kMessageError);
  EXPECT_EQ(req(without(":scheme")), H3Error::kMessageError);
  EXPECT_EQ(req(without(":path")), H3Error::kMessageError);
  EXPECT_EQ(req(without(":authority")), H3Error::kMessageError);  // https needs an authority
  Fields f = get();
  f.insert(f.begin() + 1, {":method", "GET"});  // duplicate
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.push_back({":path", "/late"});  // after a regular field
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.insert(f.begin(), {":status", "200"});  // response pseudo-header
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.insert(f.begin(), {":protocol", "websocket"});  // extended CONNECT not enabled
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.insert(f.begin(), {":foo", "x"});
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f[3].value = "";  // empty :path
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f[3].value = "index";  // not origin-form for https
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f[3].value = "*";  // only for OPTIONS
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.push_back({"host", "other.example"});  // disagrees with :authority
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f[0].value = "G T";
  EXPECT_EQ(req(f), H3Error::kMessageError);
}

TEST(H3Message, FieldSyntaxAndConnectionSpecific) {
  for (std::string_view bad : {"Accept", "x-Foo", "", "a b", "a:b", "a\x01"}) {
    Fields f = get();
    f.push_back({bad, "v"});
    EXPECT_EQ(req(f), H3Error::kMessageError) << bad;
  }
  for (std::string_view bad :
       {std::string_view("a\0b", 3), std::string_view("a\rb"), std::string_view("a\nb"),
        std::string_view(" a"), std::string_view("a\t")}) {
    Fields f = get();
    f.push_back({"x", bad});
    EXPECT_EQ(req(f), H3Error::kMessageError);
  }
  for (std::string_view name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    Fields f = get();
    f.push_back({name, "x"});
    EXPECT_EQ(req(f), H3Error::kMessageError) << name;
  }
  Fields f = get();
  f.push_back({"te", "gzip"});
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.push_back({"content-length", "12a"});
  EXPECT_EQ(req(f), H3Error::kMessageError);
  f = get();
  f.push_back({"content-length", "1"});
  f.push_back({"content-length", "2"});
  EXPECT_EQ(req(f), H3Error::kMessageError);
  EXPECT_EQ(validate_regular_field({"x-ok", "fine value"}), H3Error::kNoError);
}

TEST(H3Message, Connect) {
  H3RequestHead h;
  ASSERT_EQ(req({{":method", "CONNECT"}, {":authority", "proxy:443"}}, &h), H3Error::kNoError);
  EXPECT_TRUE(h.connect);
  EXPECT_EQ(h.authority, "proxy:443");
  // §4.4: no :scheme / :path, :authority required.
  EXPECT_EQ(req({{":method", "CONNECT"}}), H3Error::kMessageError);
  EXPECT_EQ(req({{":method", "CONNECT"}, {":authority", "p:1"}, {":path", "/"}}),
            H3Error::kMessageError);
  EXPECT_EQ(req({{":method", "CONNECT"}, {":authority", "p:1"}, {":scheme", "https"}}),
            H3Error::kMessageError);
}

TEST(H3Message, Responses) {
  H3ResponseHead h;
  ASSERT_EQ(validate_response(Fields{{":status", "200"}, {"content-length", "5"}}, &h),
            H3Error::kNoError);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_FALSE(h.informational());
  ASSERT_EQ(validate_response(Fields{{":status", "103"}}, &h), H3Error::kNoError);
  EXPECT_TRUE(h.informational());
  for (std::string_view s : {"20", "2000", "abc", "099", "600", "101"})
    EXPECT_EQ(validate_response(Fields{{":status", s}}, nullptr), H3Error::kMessageError) << s;
  EXPECT_EQ(validate_response(Fields{{"server", "x"}}, nullptr), H3Error::kMessageError);
  EXPECT_EQ(validate_response(Fields{{":status", "200"}, {":status", "200"}}, nullptr),
            H3Error::kMessageError);
  EXPECT_EQ(validate_response(Fields{{":status", "200"}, {":path", "/"}}, nullptr),
            H3Error::kMessageError);
  EXPECT_EQ(validate_response(Fields{{":status", "200"}, {"Server", "x"}}, nullptr),
            H3Error::kMessageError);
}

TEST(H3Message, Trailers) {
  EXPECT_EQ(validate_trailers(Fields{{"grpc-status", "0"}}), H3Error::kNoError);
  EXPECT_EQ(validate_trailers(Fields{}), H3Error::kNoError);
  EXPECT_EQ(validate_trailers(Fields{{":status", "200"}}), H3Error::kMessageError);
  EXPECT_EQ(validate_trailers(Fields{{"transfer-encoding", "chunked"}}), H3Error::kMessageError);
}

TEST(H3Message, ContentLength) {
  H3ContentLength c;
  c.expect(10);
  EXPECT_EQ(c.on_data(4), H3Error::kNoError);
  EXPECT_EQ(c.on_end(), H3Error::kMessageError);  // short
  EXPECT_EQ(c.on_data(6), H3Error::kNoError);
  EXPECT_EQ(c.on_end(), H3Error::kNoError);
  EXPECT_EQ(c.on_data(1), H3Error::kMessageError);  // beyond
  H3ContentLength none;
  EXPECT_EQ(none.on_data(1000), H3Error::kNoError);
  EXPECT_EQ(none.on_end(), H3Error::kNoError);
  EXPECT_EQ(none.received(), 1000u);
}

}  // namespace
}  // namespace dquic

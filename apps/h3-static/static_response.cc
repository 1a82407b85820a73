#include "apps/h3-static/static_response.h"

#include <cstdio>
#include <cstring>

#include "apps/h3-static/content_type.h"
#include "apps/h3-static/http_conditional.h"
#include "apps/h3-static/http_date.h"
#include "apps/h3-static/http_range.h"

namespace dquic::h3static {
namespace {

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

std::string_view error_text(int status) {
  switch (status) {
    case 400:
      return "Bad Request\n";
    case 404:
      return "Not Found\n";
    case 405:
      return "Method Not Allowed\n";
    case 414:
      return "URI Too Long\n";
    case 416:
      return "Range Not Satisfiable\n";
    default:
      return "Internal Server Error\n";
  }
}

void add_number(ResponsePlan& out, std::string_view name, std::uint64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
  out.add_header(name, std::string_view(buf, static_cast<std::size_t>(n)));
}

void add_common(const StaticConfig& config, std::int64_t now, ResponsePlan& out) {
  // RFC 9110 §6.6.1: an origin server with a clock sends Date.
  out.add_header("date", format_http_date(now).view());
  if (config.alt_svc_port != 0) {
    // RFC 7838 §3; RFC 9114 §3.1.1 ("h3").
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "h3=\":%u\"; ma=86400",
                                static_cast<unsigned>(config.alt_svc_port));
    out.add_header("alt-svc", std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

// A refusal with a short text body (none for HEAD, but the same length).
void error_response(const StaticConfig& config, int status, bool head, std::int64_t now,
                    ResponsePlan& out) {
  out.status = status;
  out.file_fd.reset();
  const std::string_view text = error_text(status);
  if (status == 405) out.add_header("allow", "GET, HEAD");  // RFC 9110 §15.5.6
  out.add_header("content-type", kTextPlain);
  add_number(out, "content-length", text.size());
  add_common(config, now, out);
  out.body_kind = head ? BodyKind::kNone : BodyKind::kText;
  out.text = head ? std::string_view() : text;
}

int resolve_status(ResolveError e) {
  return e == ResolveError::kInternal ? 500 : 404;
}

}  // namespace

std::optional<std::string_view> ResponsePlan::header(std::string_view name) const {
  for (std::size_t i = 0; i < header_count; ++i)
    if (headers[i].name == name) return headers[i].value_view();
  return std::nullopt;
}

void ResponsePlan::add_header(std::string_view name, std::string_view value) {
  if (header_count == kMaxHeaders || value.size() >= sizeof(HeaderField::value)) return;
  HeaderField& f = headers[header_count++];
  f.name = name;
  std::memcpy(f.value, value.data(), value.size());
  f.value_length = static_cast<std::uint8_t>(value.size());
}

void plan_static_response(const StaticConfig& config, const StaticRequest& request,
                          std::int64_t now, ResponsePlan& out) {
  out = ResponsePlan{};
  // RFC 9110 §9.1: method names are case-sensitive.
  const bool head = request.method == "HEAD";
  if (!head && request.method != "GET") return error_response(config, 405, false, now, out);

  NormalizedPath path;
  out.path_error = normalize_request_path(request.path, config.path_options, path);
  if (out.path_error != PathError::kOk)
    return error_response(config, path_error_status(out.path_error), head, now, out);

  if (config.resolver == nullptr) return error_response(config, 500, head, now, out);
  ResolvedFile file;
  out.resolve_error = config.resolver->resolve(path.view(), file);
  if (out.resolve_error != ResolveError::kOk)
    return error_response(config, resolve_status(out.resolve_error), head, now, out);

  const FileInfo& info = file.info;
  const EntityTag etag = make_etag(info);
  const std::int64_t last_modified = last_modified_seconds(info, now);
  const HttpDate last_modified_text = format_http_date(last_modified);

  // RFC 9110 §13.2.2 steps 3-4 (steps 1-2, If-Match and
  // If-Unmodified-Since, are not implemented).
  if (evaluate_conditions(request.if_none_match, request.if_modified_since, etag.view(),
                          last_modified, now) == Condition::kNotModified) {
    // RFC 9110 §15.4.5: 304 carries the validators, no content metadata.
    out.status = 304;
    out.add_header("etag", etag.view());
    out.add_header("last-modified", last_modified_text.view());
    add_common(config, now, out);
    return;
  }

  // RFC 9110 §14.2: Range is defined for GET only; step 5 of §13.2.2:
  // If-Range decides whether it is honoured.
  RangeResult range;
  if (!head && request.range &&
      (!request.if_range || if_range_matches(*request.if_range, etag.view(), last_modified, now)))
    range = parse_range(*request.range, info.size);

  const std::string_view type =
      file.is_index ? content_type_for(kIndexFile) : content_type_for(path.view());
  if (range.kind == RangeKind::kUnsatisfiable) {
    // RFC 9110 §15.5.17: 416 with "bytes */complete-length".
    char cr[72];
    const std::string_view text = error_text(416);
    out.status = 416;
    out.add_header("content-range", format_content_range(nullptr, info.size, cr, sizeof cr));
    out.add_header("content-type", kTextPlain);
    add_number(out, "content-length", text.size());
    out.add_header("accept-ranges", "bytes");
    add_common(config, now, out);
    out.body_kind = BodyKind::kText;
    out.text = text;
    return;
  }

  std::uint64_t offset = 0, length = info.size;
  if (range.kind == RangeKind::kSingle) {
    char cr[72];
    out.status = 206;
    offset = range.range.first;
    length = range.range.length();
    out.add_header("content-range", format_content_range(&range.range, info.size, cr, sizeof cr));
  } else {
    out.status = 200;
  }
  out.add_header("content-type", type);
  add_number(out, "content-length", length);
  out.add_header("last-modified", last_modified_text.view());
  out.add_header("etag", etag.view());
  out.add_header("accept-ranges", "bytes");  // RFC 9110 §14.3
  add_common(config, now, out);

  out.file_info = info;
  if (head || length == 0) {
    out.body_kind = BodyKind::kNone;
    return;
  }
  out.body_kind = BodyKind::kFile;
  out.file_fd = std::move(file.fd);
  out.body_offset = offset;
  out.body_length = length;
}

}  // namespace dquic::h3static

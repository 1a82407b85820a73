#include "runtime/impairment.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "runtime/nat_rebind.h"
#include "runtime/runtime_options.h"
#include "runtime/udp_frame.h"

namespace dquic {

namespace impairment_detail {

bool Rng::chance(std::uint32_t ppm) {
  if (ppm == 0) return false;
  if (ppm >= ImpairmentConfig::kMillion) return true;
  return below(ImpairmentConfig::kMillion) < ppm;
}

HeldRing::HeldRing(std::size_t capacity)
    : slots_(new Held[std::max<std::size_t>(capacity, 1)]),
      capacity_(std::max<std::size_t>(capacity, 1)) {}

Held HeldRing::pop() {
  const Held h = slots_[head_];
  head_ = (head_ + 1) % capacity_;
  --count_;
  return h;
}

}  // namespace impairment_detail

namespace {

bool is_delay(Duration d) {
  return d >= 0 && d <= ImpairmentConfig::kMaxDelay;
}

// Writing into `m` is safe only when no one else sees its data.
bool exclusively_owned(const rte_mbuf* m) {
  for (; m != nullptr; m = m->next) {
    if (rte_mbuf_refcnt_read(m) != 1 || RTE_MBUF_CLONED(m) || RTE_MBUF_HAS_EXTBUF(m)) return false;
  }
  return true;
}

std::uint8_t* byte_at(rte_mbuf* m, std::uint32_t offset) {
  while (offset >= m->data_len) {
    offset -= m->data_len;
    m = m->next;
  }
  return rte_pktmbuf_mtod_offset(m, std::uint8_t*, offset);
}

}  // namespace

bool ImpairmentConfig::valid() const {
  return drop_ppm <= kMillion && duplicate_ppm <= kMillion && corrupt_ppm <= kMillion &&
         reorder_ppm <= kMillion && is_delay(delay) && is_delay(jitter) &&
         is_delay(reorder_delay) && queue_capacity >= 1 && queue_capacity <= kMaxQueue &&
         (reorder_ppm == 0 || reorder_gap > 0 || reorder_delay > 0) && is_delay(blackhole_start) &&
         is_delay(rebind_after) &&
         (drop_sent_last == 0 || (drop_sent_first > 0 && drop_sent_first <= drop_sent_last)) &&
         (rebind == RebindKind::kNone || rebind_after > 0 || rebind_frames > 0) &&
         ((rebind == RebindKind::kLocalAddress || rebind == RebindKind::kPeerAddress) ==
          (rebind_to.family != IpFamily::kNone)) &&
         ((blackhole_on == 0 && blackhole_period == 0) ||
          (blackhole_on > 0 && blackhole_on < blackhole_period && is_delay(blackhole_period)));
}

Impairment::Impairment(const ImpairmentConfig& config, rte_mempool* pool, Blackhole* blackhole)
    : config_(config),
      pool_(pool),
      own_blackhole_(config),
      blackhole_(blackhole != nullptr ? blackhole : &own_blackhole_),
      drop_rng_(config.seed, 1),
      duplicate_rng_(config.seed, 2),
      corrupt_rng_(config.seed, 3),
      reorder_rng_(config.seed, 4),
      delay_rng_(config.seed, 5),
      line_(config.queue_capacity),
      reorder_(config.queue_capacity) {
  assert(config_.valid());
}

Impairment::~Impairment() {
  clear();
}

void Impairment::clear() {
  while (!line_.empty()) {
    rte_pktmbuf_free(line_.pop().m);
    ++counters_.flushed;
  }
  while (!reorder_.empty()) {
    rte_pktmbuf_free(reorder_.pop().m);
    ++counters_.flushed;
  }
}

rte_mbuf* Impairment::copy(rte_mbuf* m) {
  rte_mempool* pool = pool_ != nullptr ? pool_ : m->pool;
  return rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
}

rte_mbuf* Impairment::corrupt(rte_mbuf* m) {
  std::uint32_t lo = 0, hi = 0, udp_start = 0;
  const bool udp = config_.corrupt_offset == ImpairmentConfig::kUdpPayload;
  if (udp) {
    ParsedUdpFrame f;
    if (parse_udp_frame(m, &f) == UdpDropReason::kNone) {
      lo = f.payload_offset;
      hi = lo + f.payload_len;
      udp_start = f.l2_len + f.l3_len;
    }
  } else {
    lo = config_.corrupt_offset;
    hi = m->pkt_len;
  }
  if (hi <= lo) {
    ++counters_.corrupt_skipped;
    return m;
  }
  if (!exclusively_owned(m)) {
    // Someone else still reads these bytes (e.g. a clone): damage a copy.
    rte_mbuf* c = copy(m);
    if (c == nullptr) {
      ++counters_.copy_failures;
      return m;
    }
    rte_pktmbuf_free(m);
    m = c;
  }
  const std::uint32_t pos = lo + static_cast<std::uint32_t>(corrupt_rng_.below(hi - lo));
  const auto mask = static_cast<std::uint8_t>(1 + corrupt_rng_.below(255));  // never 0
  std::uint8_t* p = byte_at(m, pos);
  const std::uint8_t old_byte = *p;
  *p = static_cast<std::uint8_t>(old_byte ^ mask);
  if (udp) {
    // Keep the UDP checksum valid, so that the packet reaches QUIC and its
    // AEAD must reject it (RFC 9001 §5.3). Zero means no checksum (IPv4).
    auto* ck = rte_pktmbuf_mtod_offset(m, std::uint8_t*, udp_start + 6);
    const auto hc = static_cast<std::uint16_t>((ck[0] << 8) | ck[1]);
    if (hc != 0) {
      const bool high = (pos - udp_start) % 2 == 0;
      const auto old_word = static_cast<std::uint16_t>(high ? old_byte << 8 : old_byte);
      const auto new_word = static_cast<std::uint16_t>(high ? *p << 8 : *p);
      std::uint16_t updated = internet_checksum_update(hc, old_word, new_word);
      if (updated == 0) updated = 0xffff;  // RFC 768: a computed 0 is sent as all ones
      ck[0] = static_cast<std::uint8_t>(updated >> 8);
      ck[1] = static_cast<std::uint8_t>(updated);
    }
  }
  ++counters_.corrupted;
  return m;
}

bool Impairment::reorder_due(Time now) const {
  return !reorder_.empty() &&
         (line_emitted_ >= reorder_.front().after || reorder_.front().release <= now);
}

std::size_t Impairment::emit(Time now, std::span<rte_mbuf*> out, std::size_t n, bool all) {
  if (all) now = kNever;
  while (n < out.size()) {
    // A reordered packet goes right after the packet that completes its gap.
    if (!reorder_.empty() && line_emitted_ >= reorder_.front().after) {
      out[n++] = reorder_.pop().m;
      continue;
    }
    const bool line_due = !line_.empty() && line_.front().release <= now;
    const bool reorder_time_due = !reorder_.empty() && reorder_.front().release <= now;
    if (line_due && (!reorder_time_due || line_.front().release <= reorder_.front().release)) {
      out[n++] = line_.pop().m;
      ++line_emitted_;
      continue;
    }
    if (reorder_time_due) {
      out[n++] = reorder_.pop().m;
      continue;
    }
    break;
  }
  return n;
}

void Impairment::admit(rte_mbuf* m, Time now, std::span<rte_mbuf*> out, std::size_t* n) {
  if (corrupt_rng_.chance(config_.corrupt_ppm)) m = corrupt(m);
  // One jitter draw per packet, reordered or not, so that the delay stream
  // does not depend on the reorder choices.
  Time t = now + config_.delay;
  if (config_.jitter > 0) t += static_cast<Duration>(delay_rng_.below(config_.jitter + 1));
  t = std::max(t, line_last_);  // jitter never reorders

  if (reorder_rng_.chance(config_.reorder_ppm)) {
    if (held() >= config_.queue_capacity) {
      ++counters_.queue_full;
      rte_pktmbuf_free(m);
      return;
    }
    Time release = kNever;
    if (config_.reorder_delay > 0) {
      release = std::max(t + config_.reorder_delay, reorder_last_);
      reorder_last_ = release;
    }
    const std::uint64_t after = config_.reorder_gap > 0 ? line_admitted_ + config_.reorder_gap
                                                        : std::numeric_limits<std::uint64_t>::max();
    reorder_.push({m, release, after});
    ++counters_.reordered;
    return;
  }

  if (line_.empty() && t <= now && *n < out.size() && !reorder_due(now)) {
    // Nothing ahead of it: straight through, no queue.
    line_last_ = t;
    ++line_admitted_;
    ++line_emitted_;
    out[(*n)++] = m;
    *n = emit(now, out, *n, false);  // reordered packets whose gap it completed
    return;
  }
  if (held() >= config_.queue_capacity) {
    ++counters_.queue_full;
    rte_pktmbuf_free(m);
    return;
  }
  line_last_ = t;
  ++line_admitted_;
  if (t > now) ++counters_.delayed;
  line_.push({m, t, 0});
}

std::size_t Impairment::process(std::span<rte_mbuf* const> in, Time now, std::span<rte_mbuf*> out) {
  last_now_ = now;
  std::size_t n = emit(now, out, 0, false);  // what was due before these arrived
  for (rte_mbuf* m : in) {
    if (m == nullptr) continue;
    ++counters_.received;
    if (blackhole_->in_blackhole(now)) {
      ++counters_.blackholed;
      rte_pktmbuf_free(m);
      continue;
    }
    if (drop_rng_.chance(config_.drop_ppm)) {
      ++counters_.dropped;
      rte_pktmbuf_free(m);
      continue;
    }
    // Copy before any other impairment: the two go their own ways.
    rte_mbuf* dup = nullptr;
    if (duplicate_rng_.chance(config_.duplicate_ppm)) {
      dup = copy(m);
      if (dup == nullptr)
        ++counters_.copy_failures;
      else
        ++counters_.duplicated;
    }
    admit(m, now, out, &n);
    if (dup != nullptr) admit(dup, now, out, &n);
  }
  counters_.emitted += n;
  return n;
}

std::size_t Impairment::release(Time now, std::span<rte_mbuf*> out) {
  last_now_ = std::max(last_now_, now);
  const std::size_t n = emit(now, out, 0, false);
  counters_.emitted += n;
  return n;
}

std::size_t Impairment::flush(std::span<rte_mbuf*> out) {
  const std::size_t n = emit(kNever, out, 0, true);
  counters_.emitted += n;
  return n;
}

Time Impairment::next_release() const {
  if (!reorder_.empty() && line_emitted_ >= reorder_.front().after) return last_now_;
  Time t = kNever;
  if (!line_.empty()) t = line_.front().release;
  if (!reorder_.empty()) t = std::min(t, reorder_.front().release);
  return t;
}

// Option string parsing.
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A plain decimal: digits, optionally '.' and digits. No sign or exponent.
bool parse_decimal(std::string_view s, double* out) {
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '.'))
    return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  }
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_ppm(std::string_view s, std::uint32_t* out) {
  double v = 0, scale = 0;
  if (ends_with(s, "%")) {
    s.remove_suffix(1);
    scale = 1e4;
  } else if (ends_with(s, "ppm")) {
    s.remove_suffix(3);
    scale = 1;
  } else {
    scale = 1e6;
  }
  if (!parse_decimal(s, &v)) return false;
  const double ppm = std::round(v * scale);
  if (ppm > ImpairmentConfig::kMillion) return false;
  *out = static_cast<std::uint32_t>(ppm);
  return true;
}

bool parse_duration(std::string_view s, Duration* out) {
  Duration unit = 0;
  if (ends_with(s, "ns")) {
    unit = 1, s.remove_suffix(2);
  } else if (ends_with(s, "us")) {
    unit = kMicrosecond, s.remove_suffix(2);
  } else if (ends_with(s, "ms")) {
    unit = kMillisecond, s.remove_suffix(2);
  } else if (ends_with(s, "s")) {
    unit = kSecond, s.remove_suffix(1);
  } else {
    return false;
  }
  double v = 0;
  if (!parse_decimal(s, &v)) return false;
  const double ns = std::round(v * static_cast<double>(unit));
  if (ns > static_cast<double>(ImpairmentConfig::kMaxDelay)) return false;
  *out = static_cast<Duration>(ns);
  return true;
}

bool parse_u64(std::string_view s, std::uint64_t max, std::uint64_t* out, bool allow_hex) {
  int base = 10;
  if (allow_hex && (s.starts_with("0x") || s.starts_with("0X"))) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty() || s.front() == '-' || s.front() == '+') return false;
  std::uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

bool parse_impairment(std::string_view spec, ImpairmentConfig* config, std::string* error) {
  ImpairmentConfig c = *config;
  // Appended piece by piece (g++ 12 -O3 warns falsely on literal + string&&).
  const auto fail = [&](std::initializer_list<std::string_view> parts) {
    error->assign("impairment: ");
    for (std::string_view part : parts)
      error->append(part);
    return false;
  };
  static constexpr std::string_view kKeys[] = {"drop",
                                               "duplicate",
                                               "corrupt",
                                               "reorder",
                                               "delay",
                                               "jitter",
                                               "reorder_gap",
                                               "reorder_delay",
                                               "queue",
                                               "seed",
                                               "corrupt_offset",
                                               "blackhole",
                                               "blackhole_start",
                                               "rebind_port",
                                               "rebind_addr",
                                               "peer_rebind_addr",
                                               "rebind_to",
                                               "drop_sent"};
  bool seen[std::size(kKeys)] = {};
  bool rebind_seen = false;
  const std::string_view kProbability =
      "expected a percentage (1%), ppm (150ppm) or fraction (0.01) from 0 to 100%";
  const std::string_view kDuration = "expected a duration with a unit (5ms, 250us, 1s) up to 3600s";

  spec = trim(spec);
  if (spec.empty()) return true;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t end = spec.find(',', pos);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view item = trim(spec.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) return fail({"empty item in '", spec, "'"});
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return fail({"'", item, "' needs a value (key=value)"});
    const std::string_view key = trim(item.substr(0, eq));
    const std::string_view value = trim(item.substr(eq + 1));
    const auto bad = [&](std::string_view expected) {
      return fail({"bad value '", value, "' for ", key, ": ", expected});
    };
    std::size_t index = std::size(kKeys);
    for (std::size_t i = 0; i < std::size(kKeys); ++i) {
      if (kKeys[i] == key) index = i;
    }
    if (index == std::size(kKeys)) return fail({"unknown key '", key, "'"});
    if (seen[index]) return fail({"'", key, "' given twice"});
    seen[index] = true;

    std::uint64_t n = 0;
    if (key == "drop") {
      if (!parse_ppm(value, &c.drop_ppm)) return bad(kProbability);
    } else if (key == "duplicate") {
      if (!parse_ppm(value, &c.duplicate_ppm)) return bad(kProbability);
    } else if (key == "corrupt") {
      if (!parse_ppm(value, &c.corrupt_ppm)) return bad(kProbability);
    } else if (key == "reorder") {
      if (!parse_ppm(value, &c.reorder_ppm)) return bad(kProbability);
    } else if (key == "delay") {
      if (!parse_duration(value, &c.delay)) return bad(kDuration);
    } else if (key == "jitter") {
      if (!parse_duration(value, &c.jitter)) return bad(kDuration);
    } else if (key == "reorder_delay") {
      if (!parse_duration(value, &c.reorder_delay)) return bad(kDuration);
    } else if (key == "rebind_port" || key == "rebind_addr" || key == "peer_rebind_addr") {
      const RebindKind kind = key == "rebind_port"   ? RebindKind::kLocalPort
                              : key == "rebind_addr" ? RebindKind::kLocalAddress
                                                     : RebindKind::kPeerAddress;
      if (rebind_seen) return fail({"one of rebind_port, rebind_addr, peer_rebind_addr at a time"});
      rebind_seen = true;
      constexpr std::string_view kFrames = "frames";
      if (value.size() > kFrames.size() && value.ends_with(kFrames)) {
        if (!parse_u64(value.substr(0, value.size() - kFrames.size()), UINT32_MAX, &c.rebind_frames,
                       false) ||
            c.rebind_frames == 0)
          return bad("expected a duration above 0 with a unit (500ms) or a count (2000frames)");
        c.rebind_after = 0;
      } else {
        if (!parse_duration(value, &c.rebind_after) || c.rebind_after == 0)
          return bad("expected a duration above 0 with a unit (500ms) or a count (2000frames)");
        c.rebind_frames = 0;
      }
      c.rebind = kind;
    } else if (key == "drop_sent") {
      const std::size_t dash = value.find('-');
      std::uint64_t first = 0, last = 0;
      const bool ok = dash == std::string_view::npos
                          ? parse_u64(value, UINT32_MAX, &first, false) && (last = first, true)
                          : parse_u64(trim(value.substr(0, dash)), UINT32_MAX, &first, false) &&
                                parse_u64(trim(value.substr(dash + 1)), UINT32_MAX, &last, false);
      if (!ok || first == 0 || last < first)
        return bad("expected N or FIRST-LAST, datagram numbers from 1 (2-7)");
      c.drop_sent_first = first;
      c.drop_sent_last = last;
    } else if (key == "rebind_to") {
      if (!parse_ip_address(value, &c.rebind_to))
        return bad("expected an IPv4 or IPv6 address (198.18.0.12, fd00::12)");
    } else if (key == "blackhole_start") {
      if (!parse_duration(value, &c.blackhole_start)) return bad(kDuration);
    } else if (key == "blackhole") {
      // ON/PERIOD: dark for ON out of every PERIOD.
      const std::size_t slash = value.find('/');
      Duration on = 0, period = 0;
      if (slash == std::string_view::npos || !parse_duration(trim(value.substr(0, slash)), &on) ||
          !parse_duration(trim(value.substr(slash + 1)), &period) || on == 0 || on >= period)
        return bad("expected ON/PERIOD, two durations with 0 < ON < PERIOD (2s/5s)");
      c.blackhole_on = on;
      c.blackhole_period = period;
    } else if (key == "reorder_gap") {
      if (!parse_u64(value, 1u << 20, &n, false))
        return bad("expected an integer from 0 to 1048576");
      c.reorder_gap = static_cast<std::uint32_t>(n);
    } else if (key == "queue") {
      if (!parse_u64(value, ImpairmentConfig::kMaxQueue, &n, false) || n == 0)
        return bad("expected an integer from 1 to 16777216");
      c.queue_capacity = static_cast<std::uint32_t>(n);
    } else if (key == "seed") {
      if (!parse_u64(value, UINT64_MAX, &n, true)) return bad("expected an integer (or 0x hex)");
      c.seed = n;
    } else {  // corrupt_offset
      if (value == "udp") {
        c.corrupt_offset = ImpairmentConfig::kUdpPayload;
      } else {
        if (!parse_u64(value, 65535, &n, false))
          return bad("expected 'udp' or a byte offset from 0 to 65535");
        c.corrupt_offset = static_cast<std::uint32_t>(n);
      }
    }
  }
  if (c.reorder_ppm > 0 && c.reorder_gap == 0 && c.reorder_delay == 0)
    return fail({"reorder needs reorder_gap or reorder_delay above 0"});
  const bool moves_address =
      c.rebind == RebindKind::kLocalAddress || c.rebind == RebindKind::kPeerAddress;
  if (moves_address && c.rebind_to.family == IpFamily::kNone)
    return fail(
        {"rebind_addr and peer_rebind_addr need rebind_to=ADDRESS (the address that appears)"});
  if (!moves_address && c.rebind_to.family != IpFamily::kNone)
    return fail({"rebind_to goes with rebind_addr or peer_rebind_addr"});
  *config = c;
  return true;
}

}  // namespace dquic

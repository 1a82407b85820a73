#include "runtime/connection_snapshot.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <type_traits>

namespace dquic {
namespace {

static_assert(std::is_trivially_copyable_v<ConnectionSample>);

std::uint64_t to_us(Duration d) {
  return d <= 0 ? 0 : static_cast<std::uint64_t>(d / kMicrosecond);
}

std::size_t put(std::span<char> out, const char* s) {
  if (out.empty()) return 0;
  const std::size_t n = std::min(std::strlen(s), out.size() - 1);
  std::memcpy(out.data(), s, n);
  out[n] = '\0';
  return n;
}

}  // namespace

// Writer: the sequence goes odd, then the words, then even again (release:
// a reader that sees the even value sees the words). The release fence
// after the odd store keeps the word stores from moving above it.
void ConnectionSnapshot::publish(std::span<const ConnectionSample> samples, Time at) {
  const std::size_t n = std::min(samples.size(), kTopConnections);
  const std::uint64_t seq = sequence_.load(std::memory_order_relaxed);
  sequence_.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  count_.store(n, std::memory_order_relaxed);
  published_at_.store(static_cast<std::uint64_t>(at), std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    std::array<std::uint64_t, kWords> w;
    std::memcpy(w.data(), &samples[i], sizeof(ConnectionSample));
    for (std::size_t k = 0; k < kWords; ++k)
      words_[i][k].store(w[k], std::memory_order_relaxed);
  }
  sequence_.store(seq + 2, std::memory_order_release);
}

// Reader: an even sequence (acquire), the words, an acquire fence, the
// sequence again: unchanged means no publish overlapped the copy.
bool ConnectionSnapshot::read(ConnectionSampleList* out, int max_tries) const {
  for (int attempt = 0; attempt < max_tries; ++attempt) {
    if (attempt != 0) std::this_thread::yield();
    const std::uint64_t before = sequence_.load(std::memory_order_acquire);
    if ((before & 1) != 0) continue;
    const std::size_t n =
        std::min<std::size_t>(count_.load(std::memory_order_relaxed), kTopConnections);
    const std::uint64_t at = published_at_.load(std::memory_order_relaxed);
    std::array<std::array<std::uint64_t, kWords>, kTopConnections> copy;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < kWords; ++k)
        copy[i][k] = words_[i][k].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) != before) continue;
    out->count = n;
    out->published_at = static_cast<Time>(at);
    for (std::size_t i = 0; i < n; ++i)
      // Trivially copyable (static_assert above): a byte copy is a copy.
      std::memcpy(static_cast<void*>(&out->items[i]), copy[i].data(), sizeof(ConnectionSample));
    return true;
  }
  return false;
}

void TopConnections::offer(std::uint64_t key, std::uint32_t index) {
  if (limit_ == 0) return;
  if (size_ == limit_ && key <= keys_[size_ - 1]) return;
  // After the last key >= this one: equal keys keep their offer order.
  std::size_t at = size_ < limit_ ? size_ : limit_ - 1;
  while (at > 0 && keys_[at - 1] < key) {
    keys_[at] = keys_[at - 1];
    indices_[at] = indices_[at - 1];
    --at;
  }
  keys_[at] = key;
  indices_[at] = index;
  if (size_ < limit_) ++size_;
}

ConnectionSample sample_connection(const Connection& c) {
  ConnectionSample s;
  s.bytes_sent = c.stats().bytes_sent;
  s.bytes_received = c.stats().bytes_received;
  const RttEstimator& rtt = c.rtt();
  s.has_rtt_sample = rtt.has_sample();
  s.smoothed_rtt_us = to_us(rtt.smoothed_rtt());
  s.min_rtt_us = rtt.has_sample() ? to_us(rtt.min_rtt()) : 0;
  s.cwnd = c.congestion().congestion_window();
  s.bytes_in_flight = c.congestion().bytes_in_flight();
  s.peer = c.path().peer;
  s.state = c.state();
  const ByteSpan cid = c.local_cid().span();
  s.cid_length = static_cast<std::uint8_t>(std::min(cid.size(), s.cid.size()));
  std::copy_n(cid.begin(), s.cid_length, s.cid.begin());
  return s;
}

std::size_t format_cid_hex(std::span<const std::uint8_t> cid, std::span<char> out) {
  if (out.empty()) return 0;
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t n = 0;
  for (const std::uint8_t b : cid) {
    if (n + 2 >= out.size()) break;
    out[n++] = kHex[b >> 4];
    out[n++] = kHex[b & 0x0f];
  }
  out[n] = '\0';
  return n;
}

std::size_t format_peer_address(const PeerAddress& a, std::span<char> out) {
  char ip[INET6_ADDRSTRLEN] = {};
  const bool v6 = a.family == PeerAddress::Family::kIpv6;
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, a.address.data(), ip, sizeof(ip)) == nullptr)
    return put(out, "?");
  char text[INET6_ADDRSTRLEN + 16];
  std::snprintf(text, sizeof(text), v6 ? "[%s]:%u" : "%s:%u", ip, static_cast<unsigned>(a.port));
  return put(out, text);
}

const char* connection_state_name(ConnectionState s) {
  switch (s) {
    case ConnectionState::kHandshaking:
      return "handshaking";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kClosing:
      return "closing";
    case ConnectionState::kDraining:
      return "draining";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "unknown";
}

}  // namespace dquic

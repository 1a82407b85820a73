#include "pattern_source.h"

#include <rte_errno.h>

#include <algorithm>
#include <atomic>

#include "perf_protocol.h"

namespace dquic::perf {

std::unique_ptr<PatternSource> PatternSource::create(int socket, std::uint32_t budget_chunks,
                                                     std::string* err) {
  static std::atomic<unsigned> serial{0};
  const std::string name = "perf_pat" + std::to_string(serial.fetch_add(1));
  std::unique_ptr<PatternSource> p(new PatternSource);
  p->pool_ = rte_pktmbuf_pool_create(
      name.c_str(), 1, 0, 0, static_cast<std::uint16_t>(kPatternChunk + RTE_PKTMBUF_HEADROOM),
      socket);
  if (p->pool_ == nullptr) {
    *err = "pattern buffer: " + std::string(rte_strerror(rte_errno));
    return nullptr;
  }
  p->m_ = rte_pktmbuf_alloc(p->pool_);
  char* d = p->m_ == nullptr ? nullptr
                             : rte_pktmbuf_append(p->m_, static_cast<std::uint16_t>(kPatternChunk));
  if (d == nullptr) {
    *err = "pattern buffer: no mbuf";
    return nullptr;
  }
  for (std::size_t i = 0; i < kPatternChunk; ++i)
    d[i] = static_cast<char>(pattern_byte(i));
  p->data_ = reinterpret_cast<const std::uint8_t*>(d);
  // One reference is ours; the count is 16 bits.
  p->budget_ = std::clamp<std::uint32_t>(budget_chunks, 1, 60000);
  return p;
}

PatternSource::~PatternSource() {
  if (m_ != nullptr) rte_pktmbuf_free(m_);
  // Chunks still held by a live stream would point into the freed pool:
  // the owners destroy their connections first (see the header).
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

std::uint32_t PatternSource::chunks_held() const {
  return static_cast<std::uint32_t>(rte_mbuf_refcnt_read(m_)) - 1;
}

bool PatternSource::send(Connection& c, std::uint64_t stream, std::uint64_t* remaining, bool fin,
                         bool* fin_sent) {
  *fin_sent = false;
  if (*remaining == 0) {
    if (!fin) return true;
    if (c.write_mbuf(stream, m_, data_, 0, true) < 0) return false;
    *fin_sent = true;
    return true;
  }
  while (*remaining > 0 && has_room()) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(*remaining, kPatternChunk));
    const bool last = n == *remaining;
    const std::int64_t w = c.write_mbuf(stream, m_, data_, n, fin && last);
    if (w < 0) return false;
    if (w == 0) break;  // the stream's buffer is full: the next pump resumes
    *remaining -= n;
    if (fin && last) *fin_sent = true;
  }
  return true;
}

}  // namespace dquic::perf

// The codec works on packet memory owned by DPDK: bytes written into an mbuf
// through Writer are read back in place through Reader, and mbufs return to
// their pool. Runs under tests/dpdk_test_main.cc (EAL without hugepages).
#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "quic/buffer.h"

namespace dquic {
namespace {

struct PoolDeleter {
  void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};

TEST(EalMbuf, WriteAndParseInPlace) {
  constexpr unsigned kMbufs = 1023;
  std::unique_ptr<rte_mempool, PoolDeleter> pool(rte_pktmbuf_pool_create(
      "eal_mbuf_test", kMbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id())));
  ASSERT_NE(pool, nullptr) << rte_strerror(rte_errno);

  rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), kMbufs - 1);

  auto* data = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 64));
  ASSERT_NE(data, nullptr);
  Writer w(std::span<std::uint8_t>(data, 64));
  w.write_u8(0xc3);         // long header, Initial, 4-byte packet number
  w.write_u32(0x00000001);  // version 1
  w.write_varint(151288809941952652ull);
  w.write_varint(37);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w.written(), 14u);

  Reader r(ByteSpan(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)));
  std::uint8_t first = 0;
  std::uint32_t version = 0;
  std::uint64_t a = 0, b = 0;
  ASSERT_TRUE(r.read_u8(&first));
  ASSERT_TRUE(r.read_u32(&version));
  ASSERT_TRUE(r.read_varint(&a));
  ASSERT_TRUE(r.read_varint(&b));
  EXPECT_EQ(first, 0xc3);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(a, 151288809941952652ull);
  EXPECT_EQ(b, 37u);
  // Reader points into the mbuf: nothing was copied.
  EXPECT_EQ(r.position(), data + 14);

  rte_pktmbuf_free(m);
  EXPECT_EQ(rte_mempool_avail_count(pool.get()), kMbufs);
}

}  // namespace
}  // namespace dquic

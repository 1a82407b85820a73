// Ethernet port bring-up on the software PMDs started by dpdk_test_main.cc
// (DQUIC_TEST_VDEVS = net_ring0,net_null0). Tests that close a port create
// their own vdev: closing a vdev port releases its port id.
#include "drivers/eth_port.h"

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace dquic::drivers {
namespace {

constexpr unsigned kPoolSize = 511;

// A mempool with no per-lcore cache, so the available count is exact.
class Pool {
 public:
  explicit Pool(const char* name) {
    pool_ =
        rte_pktmbuf_pool_create(name, kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  }
  ~Pool() { rte_mempool_free(pool_); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  rte_mempool* get() const { return pool_; }
  unsigned avail() const { return rte_mempool_avail_count(pool_); }

 private:
  rte_mempool* pool_ = nullptr;
};

// A vdev created for one test and removed at its end (EAL hotplug: no
// dependency on the vdev bus library).
class Vdev {
 public:
  explicit Vdev(std::string name) : name_(std::move(name)) {
    ok_ = rte_eal_hotplug_add("vdev", name_.c_str(), "") == 0;
  }
  ~Vdev() {
    if (ok_) rte_eal_hotplug_remove("vdev", name_.c_str());
  }
  Vdev(const Vdev&) = delete;
  Vdev& operator=(const Vdev&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

EthPortConfig config_for(std::uint16_t port, std::uint16_t queues, rte_mempool* pool) {
  EthPortConfig cfg;
  cfg.port_id = port;
  cfg.queues = queues;
  cfg.rx_descriptors = 256;
  cfg.tx_descriptors = 256;
  cfg.rx_pools.assign(queues, pool);
  return cfg;
}

void expect_caps_match_dev_info(const std::string& name) {
  SCOPED_TRACE(name);
  std::optional<std::uint16_t> port = find_port(name);
  ASSERT_TRUE(port.has_value());
  std::string err;
  std::optional<EthPortCaps> caps = read_eth_port_caps(*port, &err);
  ASSERT_TRUE(caps.has_value()) << err;
  rte_eth_dev_info di{};
  ASSERT_EQ(rte_eth_dev_info_get(*port, &di), 0);
  EXPECT_EQ(caps->port_id, *port);
  EXPECT_EQ(caps->name, name);
  EXPECT_FALSE(caps->driver.empty());
  EXPECT_GE(caps->max_rx_queues, 1);
  EXPECT_GE(caps->max_tx_queues, 1);
  EXPECT_EQ(caps->max_rx_queues, di.max_rx_queues);
  EXPECT_EQ(caps->max_tx_queues, di.max_tx_queues);
  EXPECT_EQ(caps->rx_offload_capa, di.rx_offload_capa);
  EXPECT_EQ(caps->tx_offload_capa, di.tx_offload_capa);
  EXPECT_EQ(caps->rx_ipv4_cksum, (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0);
  EXPECT_EQ(caps->rx_udp_cksum, (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0);
  EXPECT_EQ(caps->tx_ipv4_cksum, (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0);
  EXPECT_EQ(caps->tx_udp_cksum, (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0);
  EXPECT_EQ(caps->tx_multi_segs, (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0);
  EXPECT_EQ(caps->flow_type_rss_offloads, di.flow_type_rss_offloads);
  EXPECT_EQ(caps->rss_udp_types() & ~di.flow_type_rss_offloads, 0u);
  EXPECT_EQ(caps->reta_size, di.reta_size);
  EXPECT_EQ(caps->hash_key_size, di.hash_key_size);
  EXPECT_EQ(caps->min_mtu, di.min_mtu);
  EXPECT_EQ(caps->max_mtu, di.max_mtu);
  EXPECT_LE(caps->min_mtu, 1500);
  EXPECT_GE(caps->max_mtu, 1500);
  // The flow probe needs a configured port: not done by read_eth_port_caps.
  EXPECT_FALSE(caps->flow_probed);
}

TEST(EthPortCaps, RingAndNullMatchDevInfo) {
  expect_caps_match_dev_info("net_ring0");
  expect_caps_match_dev_info("net_null0");
}

TEST(EthPortCaps, FindPortUnknownName) {
  EXPECT_FALSE(find_port("net_ring_does_not_exist").has_value());
  EXPECT_FALSE(find_port("").has_value());
}

TEST(EthPortCaps, InvalidPortIsAnError) {
  std::string err;
  EXPECT_FALSE(read_eth_port_caps(RTE_MAX_ETHPORTS - 1, &err).has_value());
  EXPECT_NE(err.find("port"), std::string::npos) << err;
}

TEST(EthPort, BadConfigIsReportedNotApplied) {
  Pool pool("eth_bad");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t ring = find_port("net_ring0").value();
  const EthPortCaps caps = read_eth_port_caps(ring, nullptr).value();
  std::string err;
  {
    EthPort port;
    EXPECT_FALSE(port.start(config_for(RTE_MAX_ETHPORTS - 1, 1, pool.get()), &err));
    EXPECT_FALSE(err.empty());
    EXPECT_FALSE(port.configured());
  }
  {
    EthPort port;
    err.clear();
    const std::uint16_t too_many = static_cast<std::uint16_t>(caps.max_rx_queues + 1);
    EXPECT_FALSE(port.start(config_for(ring, too_many, pool.get()), &err));
    EXPECT_NE(err.find("queues requested"), std::string::npos) << err;
    EXPECT_FALSE(port.configured());
  }
  {
    EthPort port;
    err.clear();
    EXPECT_FALSE(port.start(config_for(ring, 0, pool.get()), &err));
    EXPECT_NE(err.find("queues requested"), std::string::npos) << err;
  }
  {
    EthPort port;
    err.clear();
    EthPortConfig cfg = config_for(ring, 2, pool.get());
    cfg.rx_pools.pop_back();
    EXPECT_FALSE(port.start(cfg, &err));
    EXPECT_NE(err.find("rx pools"), std::string::npos) << err;
    cfg.rx_pools.push_back(nullptr);
    err.clear();
    EXPECT_FALSE(port.start(cfg, &err));
    EXPECT_NE(err.find("null rx pool"), std::string::npos) << err;
  }
  if (caps.min_mtu > 0) {
    EthPort port;
    err.clear();
    EthPortConfig cfg = config_for(ring, 1, pool.get());
    cfg.mtu = static_cast<std::uint16_t>(caps.min_mtu - 1);
    EXPECT_FALSE(port.start(cfg, &err));
    EXPECT_NE(err.find("mtu"), std::string::npos) << err;
  }
  // The shared vdev is still there and untouched.
  EXPECT_TRUE(find_port("net_ring0").has_value());
  EXPECT_EQ(pool.avail(), kPoolSize);
}

// A frame larger than one RX buffer needs RX scatter: refused cleanly when
// the device cannot scatter, enabled when it can.
TEST(EthPort, JumboMtuNeedsScatter) {
  Pool pool("eth_jumbo");
  ASSERT_NE(pool.get(), nullptr);
  int refused = 0;
  int scattered = 0;
  for (const char* name : {"net_ring0", "net_null0"}) {
    SCOPED_TRACE(name);
    const EthPortCaps caps = read_eth_port_caps(find_port(name).value(), nullptr).value();
    if (caps.max_mtu < 9000) continue;
    std::string err;
    if (!caps.rx_scatter) {
      EthPort port;  // refused before configure: the shared port stays as it is
      EthPortConfig cfg = config_for(caps.port_id, 1, pool.get());
      cfg.mtu = 9000;
      EXPECT_FALSE(port.start(cfg, &err));
      EXPECT_NE(err.find("cannot scatter"), std::string::npos) << err;
      EXPECT_FALSE(port.configured());
      ++refused;
    } else {
      Vdev vdev(caps.driver + "_jumbo");
      ASSERT_TRUE(vdev.ok());
      EthPort port;
      EthPortConfig cfg = config_for(find_port(vdev.name()).value(), 1, pool.get());
      cfg.mtu = 9000;
      ASSERT_TRUE(port.start(cfg, &err)) << err;
      EXPECT_NE(port.offloads().rx & RTE_ETH_RX_OFFLOAD_SCATTER, 0u);
      EXPECT_NE(port.describe().find("scatter"), std::string::npos) << port.describe();
      ++scattered;
    }
  }
  EXPECT_EQ(refused + scattered, 2);
  EXPECT_EQ(pool.avail(), kPoolSize);
}

TEST(EthPort, RingOneQueueLoopsBackAndClosesClean) {
  Vdev vdev("net_ring_eth1");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_ring1");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort port;
  std::string err;
  ASSERT_TRUE(port.start(config_for(id, 1, pool.get()), &err)) << err;
  EXPECT_TRUE(port.started());
  EXPECT_EQ(port.offloads().queues, 1);
  EXPECT_EQ(port.offloads().mtu, 1500);
  EXPECT_EQ(port.offloads().rss_hf, 0u);  // one queue: nothing to spread
  EXPECT_TRUE(port.caps().flow_probed);
  if (!port.caps().flow_udp_to_queue) {
    EXPECT_FALSE(port.caps().flow_error.empty());
  }
  // Only offloads the device offers are enabled.
  EXPECT_EQ(port.offloads().rx & ~port.caps().rx_offload_capa, 0u);
  EXPECT_EQ(port.offloads().tx & ~port.caps().tx_offload_capa, 0u);

  rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
  ASSERT_NE(m, nullptr);
  char* data = rte_pktmbuf_append(m, 64);
  ASSERT_NE(data, nullptr);
  for (int i = 0; i < 64; ++i)
    data[i] = static_cast<char>(i * 7);
  ASSERT_EQ(rte_eth_tx_burst(id, 0, &m, 1), 1);
  rte_mbuf* got[4] = {};
  ASSERT_EQ(rte_eth_rx_burst(id, 0, got, 4), 1);
  ASSERT_EQ(rte_pktmbuf_pkt_len(got[0]), 64u);
  const char* back = rte_pktmbuf_mtod(got[0], const char*);
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(back[i], static_cast<char>(i * 7)) << i;
  rte_pktmbuf_free(got[0]);
  EXPECT_EQ(rte_eth_rx_burst(id, 0, got, 4), 0);

  port.stop();
  EXPECT_FALSE(port.started());
  EXPECT_TRUE(port.configured());
  port.close();
  EXPECT_FALSE(port.configured());
  EXPECT_FALSE(find_port(vdev.name()).has_value());  // a closed vdev port is released
  EXPECT_EQ(pool.avail(), kPoolSize);
  port.close();  // idempotent
}

TEST(EthPort, RingTwoQueuesEachLoopsBack) {
  Vdev vdev("net_ring_eth2");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_ring2");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort port;
  std::string err;
  const bool ok = port.start(config_for(id, 2, pool.get()), &err);
  if (port.caps().max_rx_queues < 2 && !ok) {
    EXPECT_FALSE(err.empty());
    return;
  }
  ASSERT_TRUE(ok) << err;
  std::printf("%s\n", port.describe().c_str());
  EXPECT_EQ(port.offloads().queues, 2);
  EXPECT_EQ(port.offloads().rss_hf, port.caps().rss_udp_types());
  if (port.offloads().rss_hf == 0) {
    EXPECT_NE(port.describe().find("queue spreading"), std::string::npos) << port.describe();
  }
  for (std::uint16_t q = 0; q < 2; ++q) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
    ASSERT_NE(m, nullptr);
    char* data = rte_pktmbuf_append(m, 32);
    ASSERT_NE(data, nullptr);
    std::memset(data, 'a' + q, 32);
    ASSERT_EQ(rte_eth_tx_burst(id, q, &m, 1), 1);
  }
  for (std::uint16_t q = 0; q < 2; ++q) {
    rte_mbuf* got[4] = {};
    ASSERT_EQ(rte_eth_rx_burst(id, q, got, 4), 1) << q;
    EXPECT_EQ(rte_pktmbuf_mtod(got[0], const char*)[0], 'a' + q);
    rte_pktmbuf_free(got[0]);
  }
  port.close();
  EXPECT_EQ(pool.avail(), kPoolSize);
}

TEST(EthPort, RestartWithAnotherQueueCount) {
  Vdev vdev("net_ring_eth3");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_ring3");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort port;
  std::string err;
  ASSERT_TRUE(port.start(config_for(id, 1, pool.get()), &err)) << err;
  EXPECT_FALSE(port.start(config_for(id, 1, pool.get()), &err));  // already started
  EXPECT_NE(err.find("already started"), std::string::npos) << err;
  port.stop();
  ASSERT_TRUE(port.start(config_for(id, 3, pool.get()), &err)) << err;
  EXPECT_EQ(port.offloads().queues, 3);
  rte_eth_dev_info di{};
  ASSERT_EQ(rte_eth_dev_info_get(id, &di), 0);
  EXPECT_EQ(di.nb_rx_queues, 3);
  EXPECT_EQ(di.nb_tx_queues, 3);
}

TEST(EthPort, NullTwoQueuesRssAndPoolBackToBaseline) {
  Vdev vdev("net_null_eth1");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_null1");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort port;
  std::string err;
  ASSERT_TRUE(port.start(config_for(id, 2, pool.get()), &err)) << err;
  std::printf("%s\n", port.describe().c_str());
  EXPECT_EQ(port.offloads().rss_hf, port.caps().rss_udp_types());
  if (port.offloads().rss_hf != 0) {
    rte_eth_rss_conf rss{};
    ASSERT_EQ(rte_eth_dev_rss_hash_conf_get(id, &rss), 0);
    EXPECT_EQ(rss.rss_hf, port.offloads().rss_hf);
    EXPECT_NE(port.describe().find("rss"), std::string::npos) << port.describe();
  }
  // net_null fills RX bursts from the queue's pool and frees what it sends.
  for (std::uint16_t q = 0; q < 2; ++q) {
    rte_mbuf* got[8] = {};
    const std::uint16_t n = rte_eth_rx_burst(id, q, got, 8);
    EXPECT_GT(n, 0);
    EXPECT_EQ(pool.avail(), kPoolSize - n);
    EXPECT_EQ(rte_eth_tx_burst(id, q, got, n), n);
    EXPECT_EQ(pool.avail(), kPoolSize);
  }
  port.close();
  EXPECT_EQ(pool.avail(), kPoolSize);
}

TEST(EthPort, MoveKeepsOwnership) {
  Vdev vdev("net_null_eth2");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_null2");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort a;
  std::string err;
  ASSERT_TRUE(a.start(config_for(id, 1, pool.get()), &err)) << err;
  EthPort b(std::move(a));
  EXPECT_TRUE(b.started());
  EXPECT_FALSE(a.started());     // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_FALSE(a.configured());  // NOLINT(bugprone-use-after-move)
  a.close();                     // no effect on the port b holds
  EXPECT_TRUE(find_port(vdev.name()).has_value());
  b.close();
  EXPECT_FALSE(find_port(vdev.name()).has_value());
}

TEST(EthPortDescribe, SoftwareChecksumWithoutOffload) {
  Vdev vdev("net_ring_eth4");
  ASSERT_TRUE(vdev.ok());
  Pool pool("eth_ring4");
  ASSERT_NE(pool.get(), nullptr);
  const std::uint16_t id = find_port(vdev.name()).value();
  EthPort port;
  std::string err;
  ASSERT_TRUE(port.start(config_for(id, 1, pool.get()), &err)) << err;
  const std::string line = port.describe();
  EXPECT_NE(line.find(vdev.name()), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  if (!port.caps().tx_ipv4_cksum || !port.caps().tx_udp_cksum) {
    EXPECT_FALSE(port.tx_checksum_offload());
    EXPECT_NE(line.find("tx checksum"), std::string::npos) << line;
  }
  if (!port.caps().rx_ipv4_cksum || !port.caps().rx_udp_cksum) {
    EXPECT_FALSE(port.rx_checksum_offload());
    EXPECT_NE(line.find("rx checksum"), std::string::npos) << line;
  }
  EXPECT_NE(line.find("software["), std::string::npos) << line;
}

TEST(EthPortDescribe, OffloadedChecksumsAreNotSoftware) {
  EthPortCaps caps;
  caps.port_id = 3;
  caps.name = "0000:01:00.0";
  caps.driver = "net_test";
  caps.flow_probed = true;
  caps.flow_udp_to_queue = true;
  EthPortOffloads on;
  on.queues = 4;
  on.mtu = 1500;
  on.rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  on.tx =
      RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  on.rss_hf = RTE_ETH_RSS_NONFRAG_IPV4_UDP;
  const std::string line = describe_eth_port(caps, on);
  EXPECT_NE(line.find("software[]"), std::string::npos) << line;
  EXPECT_NE(line.find("rx[ipv4-cksum,udp-cksum,rss]"), std::string::npos) << line;
  EXPECT_NE(line.find("tx[ipv4-cksum,udp-cksum,multi-seg]"), std::string::npos) << line;
  EXPECT_NE(line.find("udp->queue: yes"), std::string::npos) << line;

  // Only IPv4 checksum offloaded: the UDP checksum stays in software.
  on.tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
  on.rss_hf = 0;
  caps.flow_udp_to_queue = false;
  caps.flow_error = "Function not implemented";
  const std::string partial = describe_eth_port(caps, on);
  EXPECT_NE(partial.find("tx checksum"), std::string::npos) << partial;
  EXPECT_NE(partial.find("tx linearize"), std::string::npos) << partial;
  EXPECT_NE(partial.find("queue spreading"), std::string::npos) << partial;
  EXPECT_NE(partial.find("udp->queue: no (Function not implemented)"), std::string::npos)
      << partial;
}

}  // namespace
}  // namespace dquic::drivers

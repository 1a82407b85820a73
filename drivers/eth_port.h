// rte_ethdev bring-up: what an Ethernet port can offload, read from the
// device (rte_eth_dev_info_get and an rte_flow probe; never inferred from the
// driver name), and configuring, starting, stopping and closing it with only
// the offloads the device offers. Start-up only: nothing here runs on the
// per-packet path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct rte_mempool;

namespace dquic::drivers {

struct EthPortCaps {
  std::uint16_t port_id = 0;
  std::string name;    // rte_eth_dev_get_name_by_port: e.g. the vdev name
  std::string driver;  // for logs only; never used to decide anything
  int socket = 0;
  std::uint16_t max_rx_queues = 0;
  std::uint16_t max_tx_queues = 0;
  std::uint16_t rx_desc_max = 0;  // 0 = the device gives no limit
  std::uint16_t tx_desc_max = 0;
  std::uint64_t rx_offload_capa = 0;         // raw RTE_ETH_RX_OFFLOAD_* bits
  std::uint64_t tx_offload_capa = 0;         // raw RTE_ETH_TX_OFFLOAD_* bits
  bool rx_ipv4_cksum = false;                // RTE_ETH_RX_OFFLOAD_IPV4_CKSUM
  bool rx_udp_cksum = false;                 // RTE_ETH_RX_OFFLOAD_UDP_CKSUM
  bool rx_scatter = false;                   // RTE_ETH_RX_OFFLOAD_SCATTER
  bool tx_ipv4_cksum = false;                // RTE_ETH_TX_OFFLOAD_IPV4_CKSUM
  bool tx_udp_cksum = false;                 // RTE_ETH_TX_OFFLOAD_UDP_CKSUM
  bool tx_multi_segs = false;                // RTE_ETH_TX_OFFLOAD_MULTI_SEGS
  std::uint64_t flow_type_rss_offloads = 0;  // RTE_ETH_RSS_* the device hashes on
  std::uint16_t reta_size = 0;
  std::uint8_t hash_key_size = 0;
  std::uint16_t min_mtu = 0;
  std::uint16_t max_mtu = 0;
  std::uint32_t max_rx_pktlen = 0;
  // rte_flow probe (ingress ETH/IPV4/UDP -> QUEUE), only known once the port
  // has been configured: see EthPort::start.
  bool flow_probed = false;
  bool flow_udp_to_queue = false;
  std::string flow_error;  // why rte_flow_validate refused, when it did

  // The UDP/IP hash types (RTE_ETH_RSS_*) this device can spread queues on.
  std::uint64_t rss_udp_types() const;
};

// Reads the capabilities of `port_id`. On an invalid port returns nullopt
// and sets *err.
std::optional<EthPortCaps> read_eth_port_caps(std::uint16_t port_id, std::string* err);

// The port whose device name is `name` (PCI address or vdev name).
std::optional<std::uint16_t> find_port(const std::string& name);

struct EthPortConfig {
  std::uint16_t port_id = 0;
  std::uint16_t queues = 1;             // RX and TX queue pairs: one per lcore that polls the port
  std::uint16_t rx_descriptors = 1024;  // clamped to the device's limits
  std::uint16_t tx_descriptors = 1024;
  std::vector<rte_mempool*> rx_pools;  // one per queue
  std::uint16_t mtu = 1500;
  bool want_rss = true;
  bool want_checksum_offload = true;
};

// What was enabled on a started port.
struct EthPortOffloads {
  std::uint16_t queues = 0;
  std::uint16_t rx_descriptors = 0;
  std::uint16_t tx_descriptors = 0;
  std::uint16_t mtu = 0;
  std::uint64_t rx = 0;      // RTE_ETH_RX_OFFLOAD_* enabled
  std::uint64_t tx = 0;      // RTE_ETH_TX_OFFLOAD_* enabled
  std::uint64_t rss_hf = 0;  // RTE_ETH_RSS_* hashed on; 0 = no RSS
};

// One line: what the device does and what is left to software.
std::string describe_eth_port(const EthPortCaps& caps, const EthPortOffloads& enabled);

// A configured and started port. The destructor closes it: for a vdev that
// releases the port id (find_port no longer finds it).
class EthPort {
 public:
  EthPort() = default;
  ~EthPort();
  EthPort(const EthPort&) = delete;
  EthPort& operator=(const EthPort&) = delete;
  EthPort(EthPort&& other) noexcept;
  EthPort& operator=(EthPort&& other) noexcept;

  // Configures cfg.port_id with cfg.queues RX/TX queues, the offloads the
  // device offers among those wanted, RSS over UDP/IP when more than one
  // queue, and starts it. A stopped port can be started again with another
  // configuration. On failure returns false, sets *err (rte error text) and
  // leaves the port stopped; it is never closed, so it can be retried.
  bool start(const EthPortConfig& cfg, std::string* err);
  // Stops RX/TX. Mbufs still in device rings are the PMD's to release.
  void stop();
  // Stops if needed and closes the port (rte_eth_dev_close).
  void close();

  bool started() const { return started_; }
  bool configured() const { return configured_; }
  std::uint16_t port_id() const { return caps_.port_id; }
  const EthPortCaps& caps() const { return caps_; }
  const EthPortOffloads& offloads() const { return enabled_; }
  bool rx_checksum_offload() const;  // IPv4 and UDP checksums checked by the device
  bool tx_checksum_offload() const;  // IPv4 and UDP checksums filled by the device
  std::string describe() const { return describe_eth_port(caps_, enabled_); }

 private:
  EthPortCaps caps_;
  EthPortOffloads enabled_;
  bool configured_ = false;
  bool started_ = false;
};

}  // namespace dquic::drivers

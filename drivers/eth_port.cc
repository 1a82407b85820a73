#include "drivers/eth_port.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdio>
#include <utility>

namespace dquic::drivers {
namespace {

// UDP over IPv4/IPv6 spread by 4-tuple; the plain IP types cover what is not
// UDP (and IP fragments, which QUIC avoids: RFC 9000 §14 sets DF).
constexpr std::uint64_t kRssWanted = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
                                     RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_IPV6;
// Ethernet header + CRC + one VLAN tag on top of the MTU.
constexpr std::uint32_t kL2Overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 4;

void set_error(std::string* err, std::uint16_t port_id, const char* what, int rc) {
  if (err == nullptr) return;
  char buf[192];
  std::snprintf(buf, sizeof(buf), "port %u: %s failed: %s", port_id, what,
                rte_strerror(rc < 0 ? -rc : rc));
  *err = buf;
}

void set_error_text(std::string* err, std::uint16_t port_id, const std::string& what) {
  if (err != nullptr) *err = "port " + std::to_string(port_id) + ": " + what;
}

// Can rte_flow steer a UDP flow to a queue? Needs a configured port; some
// PMDs only answer once queues exist, so this runs after queue setup.
void probe_flow(std::uint16_t port_id, EthPortCaps* caps) {
  rte_flow_attr attr{};
  attr.ingress = 1;
  rte_flow_item pattern[4]{};
  pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
  pattern[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
  pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
  pattern[3].type = RTE_FLOW_ITEM_TYPE_END;
  rte_flow_action_queue queue{};
  queue.index = 0;
  rte_flow_action actions[2]{};
  actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
  actions[0].conf = &queue;
  actions[1].type = RTE_FLOW_ACTION_TYPE_END;
  rte_flow_error error{};
  const int rc = rte_flow_validate(port_id, &attr, pattern, actions, &error);
  caps->flow_probed = true;
  caps->flow_udp_to_queue = rc == 0;
  caps->flow_error.clear();
  if (rc != 0) {
    caps->flow_error = rte_strerror(rc < 0 ? -rc : rc);
    if (error.message != nullptr && caps->flow_error != error.message)
      caps->flow_error += std::string(" (") + error.message + ")";
  }
}

void append_flag(std::string* s, bool on, const char* name) {
  if (!on) return;
  if (!s->empty()) *s += ",";
  *s += name;
}

}  // namespace

std::uint64_t EthPortCaps::rss_udp_types() const {
  return flow_type_rss_offloads & kRssWanted;
}

std::optional<EthPortCaps> read_eth_port_caps(std::uint16_t port_id, std::string* err) {
  if (!rte_eth_dev_is_valid_port(port_id)) {
    set_error(err, port_id, "lookup", ENODEV);
    return std::nullopt;
  }
  rte_eth_dev_info di{};
  int rc = rte_eth_dev_info_get(port_id, &di);
  if (rc != 0) {
    set_error(err, port_id, "rte_eth_dev_info_get", rc);
    return std::nullopt;
  }
  EthPortCaps caps;
  caps.port_id = port_id;
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port_id, name) == 0) caps.name = name;
  caps.driver = di.driver_name != nullptr ? di.driver_name : "";
  caps.socket = rte_eth_dev_socket_id(port_id);
  caps.max_rx_queues = di.max_rx_queues;
  caps.max_tx_queues = di.max_tx_queues;
  caps.rx_desc_max = di.rx_desc_lim.nb_max;
  caps.tx_desc_max = di.tx_desc_lim.nb_max;
  caps.rx_offload_capa = di.rx_offload_capa;
  caps.tx_offload_capa = di.tx_offload_capa;
  caps.rx_ipv4_cksum = (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
  caps.rx_udp_cksum = (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
  caps.rx_scatter = (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0;
  caps.tx_ipv4_cksum = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  caps.tx_udp_cksum = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
  caps.tx_multi_segs = (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
  caps.flow_type_rss_offloads = di.flow_type_rss_offloads;
  caps.reta_size = di.reta_size;
  caps.hash_key_size = di.hash_key_size;
  caps.min_mtu = di.min_mtu;
  caps.max_mtu = di.max_mtu;
  caps.max_rx_pktlen = di.max_rx_pktlen;
  return caps;
}

std::optional<std::uint16_t> find_port(const std::string& name) {
  std::uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) return std::nullopt;
  return port_id;
}

std::string describe_eth_port(const EthPortCaps& caps, const EthPortOffloads& enabled) {
  std::string hw_rx;
  append_flag(&hw_rx, (enabled.rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0, "ipv4-cksum");
  append_flag(&hw_rx, (enabled.rx & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0, "udp-cksum");
  append_flag(&hw_rx, (enabled.rx & RTE_ETH_RX_OFFLOAD_SCATTER) != 0, "scatter");
  append_flag(&hw_rx, enabled.rss_hf != 0, "rss");
  std::string hw_tx;
  append_flag(&hw_tx, (enabled.tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0, "ipv4-cksum");
  append_flag(&hw_tx, (enabled.tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0, "udp-cksum");
  append_flag(&hw_tx, (enabled.tx & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0, "multi-seg");
  std::string sw;
  const bool rx_csum = (enabled.rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0 &&
                       (enabled.rx & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
  const bool tx_csum = (enabled.tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0 &&
                       (enabled.tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
  append_flag(&sw, !rx_csum, "rx checksum");
  append_flag(&sw, !tx_csum, "tx checksum");
  append_flag(&sw, (enabled.tx & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) == 0, "tx linearize");
  append_flag(&sw, enabled.queues > 1 && enabled.rss_hf == 0, "queue spreading");

  char head[160];
  std::snprintf(head, sizeof(head), "port %u (%s, driver %s): %u queue%s, %u/%u desc, mtu %u",
                caps.port_id, caps.name.c_str(), caps.driver.c_str(), enabled.queues,
                enabled.queues == 1 ? "" : "s", enabled.rx_descriptors, enabled.tx_descriptors,
                enabled.mtu);
  std::string out = head;
  out += "; offloaded rx[" + hw_rx + "] tx[" + hw_tx + "]";
  out += "; software[" + sw + "]";
  if (caps.flow_probed) {
    out += caps.flow_udp_to_queue ? "; rte_flow udp->queue: yes"
                                  : "; rte_flow udp->queue: no (" + caps.flow_error + ")";
  }
  return out;
}

EthPort::~EthPort() {
  close();
}

EthPort::EthPort(EthPort&& other) noexcept
    : caps_(std::move(other.caps_)),
      enabled_(other.enabled_),
      configured_(std::exchange(other.configured_, false)),
      started_(std::exchange(other.started_, false)) {}

EthPort& EthPort::operator=(EthPort&& other) noexcept {
  if (this != &other) {
    close();
    caps_ = std::move(other.caps_);
    enabled_ = other.enabled_;
    configured_ = std::exchange(other.configured_, false);
    started_ = std::exchange(other.started_, false);
  }
  return *this;
}

bool EthPort::start(const EthPortConfig& cfg, std::string* err) {
  if (started_) {
    set_error_text(err, caps_.port_id, "already started");
    return false;
  }
  if (configured_ && cfg.port_id != caps_.port_id) {
    set_error_text(
        err, cfg.port_id,
        "this EthPort still holds port " + std::to_string(caps_.port_id) + ": close it first");
    return false;
  }
  std::optional<EthPortCaps> caps = read_eth_port_caps(cfg.port_id, err);
  if (!caps) return false;
  const std::uint16_t port = cfg.port_id;

  // Reject what the device cannot do before touching it.
  if (cfg.queues == 0 || cfg.queues > caps->max_rx_queues || cfg.queues > caps->max_tx_queues) {
    set_error_text(err, port,
                   std::to_string(cfg.queues) + " queues requested, device offers " +
                       std::to_string(caps->max_rx_queues) + " rx / " +
                       std::to_string(caps->max_tx_queues) + " tx");
    return false;
  }
  if (cfg.rx_pools.size() != cfg.queues) {
    set_error_text(err, port,
                   std::to_string(cfg.rx_pools.size()) + " rx pools for " +
                       std::to_string(cfg.queues) + " queues (need one per queue)");
    return false;
  }
  for (rte_mempool* mp : cfg.rx_pools) {
    if (mp == nullptr) {
      set_error_text(err, port, "null rx pool");
      return false;
    }
  }
  if (cfg.mtu < caps->min_mtu || cfg.mtu > caps->max_mtu) {
    set_error_text(err, port,
                   "mtu " + std::to_string(cfg.mtu) + " outside device range " +
                       std::to_string(caps->min_mtu) + ".." + std::to_string(caps->max_mtu));
    return false;
  }

  rte_eth_conf conf{};
  conf.rxmode.mtu = cfg.mtu;
  std::uint64_t rx_off = 0;
  std::uint64_t tx_off = 0;
  if (cfg.want_checksum_offload) {
    if (caps->rx_ipv4_cksum) rx_off |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    if (caps->rx_udp_cksum) rx_off |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    if (caps->tx_ipv4_cksum) tx_off |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    if (caps->tx_udp_cksum) tx_off |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  }
  // Chained mbufs (header + payload segments) go out without a copy.
  if (caps->tx_multi_segs) tx_off |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  // A frame that does not fit one RX buffer needs scatter, or is refused.
  const std::uint32_t frame = cfg.mtu + kL2Overhead;
  for (rte_mempool* mp : cfg.rx_pools) {
    const std::uint32_t room = rte_pktmbuf_data_room_size(mp);
    const std::uint32_t usable = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
    if (frame <= usable) continue;
    if (!caps->rx_scatter) {
      set_error_text(err, port,
                     "mtu " + std::to_string(cfg.mtu) + " needs " + std::to_string(frame) +
                         "-byte rx buffers, pool " + mp->name + " has " + std::to_string(usable) +
                         " and the device cannot scatter");
      return false;
    }
    rx_off |= RTE_ETH_RX_OFFLOAD_SCATTER;
  }
  conf.rxmode.offloads = rx_off;
  conf.txmode.offloads = tx_off;
  std::uint64_t rss_hf = 0;
  if (cfg.want_rss && cfg.queues > 1) rss_hf = caps->rss_udp_types();
  if (rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the device's default key
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
  }

  int rc = rte_eth_dev_configure(port, cfg.queues, cfg.queues, &conf);
  if (rc < 0) {
    set_error(err, port, "rte_eth_dev_configure", rc);
    return false;
  }
  caps_ = std::move(*caps);
  configured_ = true;
  std::uint16_t nb_rx = cfg.rx_descriptors;
  std::uint16_t nb_tx = cfg.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
  if (rc < 0) {
    set_error(err, port, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
    return false;
  }
  const int socket = caps_.socket < 0 ? static_cast<int>(SOCKET_ID_ANY) : caps_.socket;
  for (std::uint16_t q = 0; q < cfg.queues; ++q) {
    rte_eth_rxconf rxq{};
    rxq.offloads = rx_off;
    rc = rte_eth_rx_queue_setup(port, q, nb_rx, static_cast<unsigned>(socket), &rxq,
                                cfg.rx_pools[q]);
    if (rc < 0) {
      set_error(err, port, ("rx queue " + std::to_string(q) + " setup").c_str(), rc);
      return false;
    }
    rte_eth_txconf txq{};
    txq.offloads = tx_off;
    rc = rte_eth_tx_queue_setup(port, q, nb_tx, static_cast<unsigned>(socket), &txq);
    if (rc < 0) {
      set_error(err, port, ("tx queue " + std::to_string(q) + " setup").c_str(), rc);
      return false;
    }
  }
  probe_flow(port, &caps_);
  rc = rte_eth_dev_start(port);
  if (rc < 0) {
    set_error(err, port, "rte_eth_dev_start", rc);
    return false;
  }
  started_ = true;
  enabled_ = EthPortOffloads{cfg.queues, nb_rx, nb_tx, cfg.mtu, rx_off, tx_off, rss_hf};
  return true;
}

void EthPort::stop() {
  if (!started_) return;
  rte_eth_dev_stop(caps_.port_id);
  started_ = false;
}

void EthPort::close() {
  if (!configured_) return;
  stop();
  rte_eth_dev_close(caps_.port_id);
  configured_ = false;
  enabled_ = EthPortOffloads{};
}

bool EthPort::rx_checksum_offload() const {
  return (enabled_.rx & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0 &&
         (enabled_.rx & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0;
}

bool EthPort::tx_checksum_offload() const {
  return (enabled_.tx & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0 &&
         (enabled_.tx & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
}

}  // namespace dquic::drivers

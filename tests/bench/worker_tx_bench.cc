// The worker's transmit path as a pure sink: 1350-byte QUIC datagrams
// (short header, 8-byte DCID, 4-byte packet number) laid out in fresh mbufs,
// sealed through the Protector by every sealer this machine has (none,
// inline, each software crypto PMD by CPU crypto and async), the payload
// either copied into the packet or gathered from the application's buffer
// (zero-copy), framed by the worker's FrameSender (Ethernet/IPv4/UDP with
// the next-hop MAC from the neighbour cache, software checksums unless the
// port offloads them) and handed to rte_eth_tx_burst on a net_null port,
// which frees them. Prints packets per second and TSC cycles per packet,
// the median of several runs.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "drivers/eth_port.h"
#include "offload/protector.h"
#include "offload/test_backends.h"
#include "runtime/frame_sender.h"

namespace dquic {
namespace {

constexpr std::size_t kBurst = 32;
constexpr std::size_t kBursts = 4000;  // per run
constexpr int kRuns = 7;
constexpr std::size_t kDatagram = 1350;
constexpr std::size_t kHeader = 13;
constexpr std::size_t kPayload = kDatagram - kHeader - kAeadTagLength;

IpAddress ipv4(std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = 10;
  ip.bytes[3] = d;
  return ip;
}

PacketKeys bench_keys() {
  PacketKeys k;
  for (std::size_t i = 0; i < k.key.size(); ++i)
    k.key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  for (std::size_t i = 0; i < k.iv.size(); ++i)
    k.iv[i] = static_cast<std::uint8_t>(i * 3);
  for (std::size_t i = 0; i < k.hp_key.size(); ++i)
    k.hp_key[i] = static_cast<std::uint8_t>(i + 9);
  return k;
}

struct Figures {
  double pps = 0;
  double cycles = 0;
};

// How the payload gets into the sealed packet.
enum class Fill {
  kCopy,    // the frames, stream bytes included, copied into the packet; sealed in place
  kGather,  // a 20-byte frame header in the packet, the stream bytes sealed out
            // of place from the application's buffer (the zero-copy path)
};
constexpr std::size_t kFrameHeader = 20;

// One run: kBursts bursts of kBurst datagrams, start to tx_burst.
Figures run_once(rte_mempool* pool, offload::Protector* protector, offload::KeyHandle* key,
                 FrameSender& sender, const NetworkPath& path, std::uint64_t* pn, Fill fill,
                 const std::uint8_t* app_base, rte_iova_t app_base_iova, std::size_t app_size) {
  // Each packet reads the next kPayload bytes of the application's region:
  // one packet's worth (stays in L1) or 64 MB (out of cache, like file data).
  std::size_t app_off = 0;
  std::array<rte_mbuf*, kBurst> ms{};
  std::array<offload::SealJob, kBurst> jobs{};
  std::array<std::array<offload::ByteSegment, 2>, kBurst> segs{};
  const std::uint64_t c0 = rte_rdtsc_precise();
  std::size_t sent = 0;
  for (std::size_t b = 0; b < kBursts; ++b) {
    if (rte_pktmbuf_alloc_bulk(pool, ms.data(), kBurst) != 0) continue;
    for (std::size_t i = 0; i < kBurst; ++i) {
      rte_mbuf* m = ms[i];
      auto* d = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, kDatagram));
      d[0] = 0x43;  // short header, 4-byte packet number
      std::memset(d + 1, 0xab, 8);
      const std::uint64_t n = (*pn)++;
      for (int k = 0; k < 4; ++k)
        d[9 + k] = static_cast<std::uint8_t>(n >> (8 * (3 - k)));
      offload::SealJob& j = jobs[i];
      j = offload::SealJob{};
      const std::uint8_t* app = app_base + app_off;
      const rte_iova_t app_iova = app_base_iova + app_off;
      app_off += kPayload;
      if (app_off + kPayload > app_size) app_off = 0;
      if (fill == Fill::kCopy) {
        std::memcpy(d + kHeader, app, kPayload);  // what a copying connection writes
      } else {
        std::memset(d + kHeader, 0x0a, kFrameHeader);  // the STREAM frame's header
        segs[i][0] = {d + kHeader, rte_pktmbuf_iova_offset(m, kHeader), kFrameHeader};
        segs[i][1] = {app + kFrameHeader, app_iova + kFrameHeader,
                      static_cast<std::uint32_t>(kPayload - kFrameHeader)};
        j.gather = segs[i];
      }
      j.m = m;
      j.header_length = kHeader;
      j.pn_offset = 9;
      j.pn_length = 4;
      j.payload_length = kPayload;
      j.packet_number = n;
      j.key = key;
    }
    if (protector != nullptr) protector->seal_burst(jobs);
    for (std::size_t i = 0; i < kBurst; ++i)
      sender.send_datagram(ms[i], path, Ecn::kNotEct, 0);
    sender.flush();
    sent += kBurst;
  }
  const std::uint64_t c1 = rte_rdtsc_precise();
  Figures f;
  f.cycles = static_cast<double>(c1 - c0) / static_cast<double>(sent);
  f.pps = static_cast<double>(rte_get_tsc_hz()) / f.cycles;
  return f;
}

int run_bench() {
  rte_mempool* pool = rte_pktmbuf_pool_create("tx_bench", 8191, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "pool: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const std::optional<std::uint16_t> port_id = drivers::find_port("net_null0");
  if (!port_id) {
    std::fprintf(stderr, "no net_null0 port\n");
    return 1;
  }
  drivers::EthPort port;
  drivers::EthPortConfig pc;
  pc.port_id = *port_id;
  pc.rx_pools = {pool};
  std::string err;
  if (!port.start(pc, &err)) {
    std::fprintf(stderr, "port: %s\n", err.c_str());
    return 1;
  }
  std::printf("%s\n", port.describe().c_str());

  Route route;
  route.add_address(ipv4(1), 24);
  NeighborConfig nc;
  nc.reachable_time_ns = 3600ull * 1'000'000'000;  // never stale during the run
  NeighborTable neighbors(nc);
  const MacAddress peer_mac = {0x02, 0, 0, 0, 0, 0x02};
  NeighborUpdate how;
  how.create = true;
  how.solicited = true;
  neighbors.update(ipv4(2), &peer_mac, how, 0);
  ControlPlaneConfig cp;
  cp.mac = {0x02, 0, 0, 0, 0, 0x01};
  ControlPlane control(cp, route, neighbors);
  WorkerCounters counters;
  WorkerLoopCounters loop;
  FrameSenderConfig fs;
  fs.port_id = *port_id;
  fs.mac = cp.mac;
  fs.pool = pool;
  fs.tx_burst = kBurst;
  fs.checksum_offload = port.tx_checksum_offload();
  FrameSender sender(fs, route, neighbors, control, counters, loop);
  const NetworkPath path{PeerAddress::ipv4({10, 0, 0, 1}, 4433),
                         PeerAddress::ipv4({10, 0, 0, 2}, 50000)};

  // The application's stream bytes, read (never written) by the packets.
  constexpr std::size_t kColdBytes = 64u << 20;
  auto* app = static_cast<std::uint8_t*>(rte_malloc("tx_bench_app", kColdBytes, 64));
  if (app == nullptr) {
    std::fprintf(stderr, "app buffer: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  for (std::size_t i = 0; i < kColdBytes; ++i)
    app[i] = static_cast<std::uint8_t>(i);
  const rte_iova_t app_iova = rte_malloc_virt2iova(app);

  std::printf("worker tx: %zu-byte datagrams, bursts of %zu, %s UDP checksum, median of %d runs\n",
              kDatagram, kBurst, fs.checksum_offload ? "offloaded" : "software", kRuns);
  std::printf("%-34s %-5s %-7s %9s %9s %8s %s\n", "sealer", "data", "payload", "cycles/pkt", "Mpps",
              "Gbit/s", "gather copies");
  // No crypto, then every AEAD/HP pairing this machine has.
  std::vector<std::string> backends = {"none"};
  for (const std::string& name : offload::test_backend_names())
    backends.push_back(name);
  std::uint64_t pn = 0;
  bool clean = true;
  for (const std::string& name : backends) {
    std::unique_ptr<offload::TestBackends> b;
    offload::Protector* p = nullptr;
    offload::KeyHandle* key = nullptr;
    if (name != "none") {
      b = offload::make_test_backends(name);
      if (b == nullptr) continue;
      p = &b->protector();
      key = p->install(bench_keys());
      if (key == nullptr) {
        std::fprintf(stderr, "%s: key install failed\n", name.c_str());
        return 1;
      }
    }
    for (const std::size_t region : {kPayload, kColdBytes})
      for (const Fill fill : {Fill::kCopy, Fill::kGather}) {
        if (p == nullptr && fill == Fill::kGather) continue;  // nothing would read the bytes
        const std::uint64_t copies0 = p ? p->counters().gather_copies : 0;
        auto once = [&] {
          return run_once(pool, p, key, sender, path, &pn, fill, app, app_iova, region);
        };
        once();  // warm-up
        std::vector<Figures> runs;
        for (int r = 0; r < kRuns; ++r)
          runs.push_back(once());
        std::sort(runs.begin(), runs.end(),
                  [](const Figures& x, const Figures& y) { return x.cycles < y.cycles; });
        const Figures& m = runs[runs.size() / 2];
        const std::uint64_t copies = p ? p->counters().gather_copies - copies0 : 0;
        std::printf("%-34s %-5s %-7s %9.1f %9.3f %8.2f %s\n", name.c_str(),
                    region == kPayload ? "hot" : "cold", fill == Fill::kCopy ? "copy" : "gather",
                    m.cycles, m.pps / 1e6, m.pps * kDatagram * 8 / 1e9,
                    fill == Fill::kCopy ? "-" : (copies > 0 ? "yes (engine copies)" : "no"));
      }
    if (p != nullptr) {
      clean = clean && p->counters().seal_failures == 0;
      p->release(key);
    }
  }
  std::printf("tx packets %llu dropped %llu, build failures %llu\n",
              static_cast<unsigned long long>(counters.tx_packets),
              static_cast<unsigned long long>(counters.tx_dropped),
              static_cast<unsigned long long>(loop.build_failed));
  clean = clean && counters.tx_dropped == 0 && loop.build_failed == 0;
  rte_free(app);
  offload::close_test_devices();
  port.close();
  rte_mempool_free(pool);
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  (void)argc;
  std::vector<std::string> args = {argv[0],
                                   "--no-huge",
                                   "--no-shconf",
                                   "--no-pci",
                                   "-m",
                                   "1024",
                                   "--vdev",
                                   "net_null0",
                                   "--vdev",
                                   "crypto_aesni_gcm0",
                                   "--vdev",
                                   "crypto_aesni_mb0",
                                   "--vdev",
                                   "crypto_chacha20_poly1305_0",
                                   "--vdev",
                                   "crypto_openssl0",
                                   "--no-telemetry",
                                   "--log-level",
                                   "error",
                                   "--file-prefix",
                                   "dquic-txbench-" + std::to_string(getpid())};
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const int rc = dquic::run_bench();
  rte_eal_cleanup();
  return rc;
}

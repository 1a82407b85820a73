#include "runtime/dataplane.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>

#include "drivers/eth_port.h"
#include "offload/backends.h"
#include "offload/protector.h"
#include "runtime/mbuf_pool_size.h"
#include "runtime/packet_capture.h"
#include "runtime/pdump_server.h"
#include "runtime/telemetry.h"
#include "runtime/worker_shutdown.h"

namespace dquic {
namespace {

constexpr unsigned kPoolCache = 256;  // <= RTE_MEMPOOL_CACHE_MAX_SIZE

// Pool and ring names must be unique per process: a serial per Dataplane.
unsigned next_serial() {
  static std::atomic<unsigned> serial{0};
  return serial.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::unique_ptr<Dataplane> Dataplane::create(DataplaneConfig config, std::string* err) {
  std::string scratch;
  if (err == nullptr) err = &scratch;
  std::unique_ptr<Dataplane> d(new Dataplane);
  d->config_ = std::move(config);
  if (!d->build(err)) {
    d->shutdown();  // releases what was built, quietly (nothing ran)
    return nullptr;
  }
  return d;
}

Dataplane::~Dataplane() {
  shutdown();
}

void Dataplane::say(std::string line) {
  if (config_.log != nullptr) {
    std::fprintf(config_.log, "%s\n", line.c_str());
    std::fflush(config_.log);
  }
  startup_.push_back(std::move(line));
}

rte_mempool* Dataplane::pool_for_socket(int socket) const {
  for (const Pool& p : pools_)
    if (p.socket == socket) return p.pool;
  return nullptr;
}

bool Dataplane::build(std::string* err) {
  const RuntimeOptions& o = config_.options;
  if (!config_.configure_worker) {
    *err = "dataplane: no worker configuration callback";
    return false;
  }

  if (o.addresses.empty()) {
    *err = "--address: the dataplane needs at least one --address or --address6";
    return false;
  }

  // --- lcores ----------------------------------------------------------
  std::vector<unsigned> lcores;
  const unsigned main_lcore = rte_get_main_lcore();
  if (!config_.lcores.empty()) {
    for (unsigned l : config_.lcores) {
      if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l)) {
        *err = "lcores: lcore " + std::to_string(l) + " is not enabled (the EAL's -l)";
        return false;
      }
      if (std::find(lcores.begin(), lcores.end(), l) != lcores.end()) {
        *err = "lcores: lcore " + std::to_string(l) + " given twice";
        return false;
      }
      lcores.push_back(l);
    }
  } else {
    if (config_.main_lcore_runs_worker) lcores.push_back(main_lcore);
    unsigned lc = 0;
    RTE_LCORE_FOREACH_WORKER(lc) {
      lcores.push_back(lc);
    }
    // No worker lcore at all: the main lcore is the only place to run one.
    if (lcores.empty()) lcores.push_back(main_lcore);
  }
  const std::uint16_t count =
      o.workers != 0
          ? o.workers
          : static_cast<std::uint16_t>(std::min<std::size_t>(lcores.size(), kMaxWorkers));
  if (count > lcores.size()) {
    *err = "--workers: " + std::to_string(count) + " workers but only " +
           std::to_string(lcores.size()) + " lcores to run them (give more with the EAL's -l)";
    return false;
  }
  for (std::uint16_t i = 0; i < count; ++i) {
    WorkerPlacement p;
    p.index = i;
    p.count = count;
    p.lcore = lcores[i];
    const unsigned s = rte_lcore_to_socket_id(p.lcore);
    p.socket = s == static_cast<unsigned>(SOCKET_ID_ANY) ? 0 : static_cast<int>(s);
    placements_.push_back(p);
  }

  // --- port ------------------------------------------------------------
  if (!rte_eth_dev_is_valid_port(o.port)) {
    *err = "--port: no port " + std::to_string(o.port) + " (" +
           std::to_string(rte_eth_dev_count_avail()) + " available)";
    return false;
  }

  // --- mempools, one per socket with workers ---------------------------
  const unsigned serial = next_serial();
  for (const WorkerPlacement& p : placements_) {
    if (pool_for_socket(p.socket) != nullptr) continue;
    MbufPoolSizing sz;
    sz.queues = static_cast<std::uint32_t>(
        std::count_if(placements_.begin(), placements_.end(),
                      [&](const WorkerPlacement& q) { return q.socket == p.socket; }));
    sz.rx_descriptors = config_.rx_descriptors;
    sz.tx_descriptors = config_.tx_descriptors;
    sz.cache_size = kPoolCache;
    sz.redirect = count > 1 ? config_.redirect_ring_size : 0;
    sz.stream_data = config_.stream_mbufs_per_worker;
    const std::uint64_t n = o.mbufs != 0 ? o.mbufs : mbuf_pool_size(sz);
    const std::string name = "dquic_mb" + std::to_string(serial) + "_" + std::to_string(p.socket);
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), static_cast<unsigned>(n), kPoolCache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, p.socket);
    if (mp == nullptr) {
      *err = std::string(o.mbufs != 0 ? "--mbufs: " : "mempool: ") + std::to_string(n) +
             " mbufs on socket " + std::to_string(p.socket) + ": " + rte_strerror(rte_errno);
      return false;
    }
    pools_.push_back({p.socket, mp});
    say("mempool: socket " + std::to_string(p.socket) + " " + std::to_string(n) + " mbufs (" +
        (o.mbufs != 0 ? std::string("--mbufs")
                      : "computed for " + std::to_string(sz.queues) + " queue pairs") +
        ")");
  }

  drivers::EthPortConfig pc;
  pc.port_id = o.port;
  pc.queues = count;
  pc.rx_descriptors = config_.rx_descriptors;
  pc.tx_descriptors = config_.tx_descriptors;
  for (const WorkerPlacement& p : placements_)
    pc.rx_pools.push_back(pool_for_socket(p.socket));
  pc.want_rss = true;
  port_ = std::make_unique<drivers::EthPort>();
  std::string why;
  if (!port_->start(pc, &why)) {
    *err = "--port: port " + std::to_string(o.port) + ": " + why;
    return false;
  }
  say("port: " + port_->describe());

  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(o.port, &mac) != 0) {
    *err = "--port: port " + std::to_string(o.port) + ": no MAC address";
    return false;
  }

  // --- steering ----------------------------------------------------------
  if (!make_steering_key(&steering_key_)) {
    *err = "steering: no random key (OpenSSL RNG)";
    return false;
  }
  std::string steering;
  if (config_.flow_steering) {
    FlowSteeringSpec spec = *config_.flow_steering;
    spec.workers = count;
    spec.first_queue = 0;
    std::string why_not;
    if (install_cid_flow_rules(o.port, spec, &flow_rules_, &why_not))
      steering = "steering: " + std::to_string(flow_rules_.size()) + " rte_flow CID rules";
    else
      steering = "steering: rte_flow CID rules refused (" + why_not + "); RSS + software redirect";
  } else {
    steering = "steering: no rte_flow CID rules requested; RSS + software redirect";
  }
  if (count > 1) {
    redirect_ = std::make_unique<RedirectRings>();
    const std::string prefix = "dquic_rd" + std::to_string(serial);
    if (!redirect_->init(count, config_.redirect_ring_size, prefix.c_str(), port_->caps().socket,
                         &why)) {
      *err = "steering: redirect rings: " + why;
      return false;
    }
  } else {
    steering += " (one worker: nothing to redirect)";
  }
  say(steering);

  // --- packet protection -------------------------------------------------
  if (config_.no_encryption) {
    say("crypto: NONE -- no-encryption diagnostic mode, packets are NOT protected");
    protectors_.resize(count);
  } else {
    offload::ProtectionBackends* b = config_.backends;
    if (b == nullptr) {
      offload::ProtectionOptions po;
      po.aead = o.aead;
      po.hp = o.hp;
      po.device = o.crypto_device;
      po.zero_copy = config_.zero_copy;
      backends_ = offload::ProtectionBackends::create(po, count, &why);
      if (backends_ == nullptr) {
        *err = "--aead/--hp/--crypto-device: " + why;
        return false;
      }
      b = backends_.get();
      say("crypto: " + b->describe());
    } else if (config_.first_lane + count > b->lanes()) {
      *err = "crypto: shared backends have " + std::to_string(b->lanes()) + " lanes, " +
             std::to_string(config_.first_lane + count) + " needed";
      return false;
    }
    for (std::uint16_t i = 0; i < count; ++i) {
      protectors_.push_back(b->make_protector(static_cast<std::uint16_t>(config_.first_lane + i)));
      if (protectors_.back() == nullptr) {
        *err = "crypto: no protector for worker " + std::to_string(i);
        return false;
      }
    }
  }

  if (o.impairment)
    say(o.impairment->blackhole()
            ? "impairment: on every worker's receive path, blackhole windows in both directions "
              "(test "
              "use only: --impair)"
            : "impairment: on every worker's receive path (test use only: --impair)");
  const std::string qlog_dir = o.qlog_directory();
  if (!qlog_dir.empty()) {
    if (!QlogWriter::directory_writable(qlog_dir))
      return *err = "--qlog: '" + qlog_dir + "' is not a writable directory", false;
    for (std::uint16_t i = 0; i < count; ++i)
      qlog_recorders_.push_back(std::make_unique<QlogRecorder>());
  }
  if (!o.pcap_file.empty()) {
    capture_ = PacketCapture::create(o.pcap_file, count, PacketCaptureConfig{}, err);
    if (capture_ == nullptr) return false;
    say("capture: every frame received and sent -> " + o.pcap_file + " (pcap)");
  }
  pdump_ = std::make_unique<PdumpServer>();  // dpdk-pdump (docs/CAPTURE.md)

  // --- workers -------------------------------------------------------------
  const Route route = o.route();
  for (const WorkerPlacement& p : placements_) {
    WorkerConfig wc;
    wc.port_id = o.port;
    wc.rx_queue = p.index;
    wc.tx_queue = p.index;
    wc.worker = p.index;
    wc.worker_count = count;
    wc.pool = pool_for_socket(p.socket);
    std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), wc.mac.begin());
    wc.route = route;
    wc.udp_ports = {o.udp_port};
    wc.protector = protectors_[p.index].get();
    wc.redirect = redirect_.get();
    wc.steering_key = steering_key_;
    wc.tx_checksum_offload = port_->tx_checksum_offload();
    wc.capture = capture_ != nullptr ? capture_->ring(p.index) : nullptr;
    if (o.impairment) {
      wc.impairment = o.impairment;
      // Different seeds per worker, so that workers do not drop in lockstep.
      wc.impairment->seed += p.index;
    }
    if (!qlog_recorders_.empty()) wc.qlog = qlog_recorders_[p.index].get();
    if (!config_.configure_worker(p, wc, &why)) {
      *err = "worker " + std::to_string(p.index) + ": " + why;
      return false;
    }
    workers_.push_back(std::make_unique<Worker>(std::move(wc)));
    if (!workers_.back()->init(&why)) {
      *err = "worker " + std::to_string(p.index) + ": " + why;
      return false;
    }
    if (!qlog_recorders_.empty())
      qlog_recorders_[p.index]->set_time_origin(workers_.back()->clock().now());
    counter_blocks_.push_back(&workers_.back()->counters());
    loop_blocks_.push_back(&workers_.back()->loop_counters());
  }
  if (!qlog_recorders_.empty()) {
    std::vector<QlogRecorder*> recs;
    for (const auto& r : qlog_recorders_)
      recs.push_back(r.get());
    qlog_writer_ = std::make_unique<QlogWriter>(qlog_dir, std::move(recs));
    qlog_writer_->start();
    say("qlog: a JSON-SEQ file per connection in " + qlog_dir);
  }
  runs_.resize(count);
  std::string lcore_list;
  for (const WorkerPlacement& p : placements_)
    lcore_list += (lcore_list.empty() ? "" : ",") + std::to_string(p.lcore);
  say("workers: " + std::to_string(count) + " on lcores " + lcore_list + " (main lcore " +
      std::to_string(main_lcore) + ")");

  // Telemetry reads the blocks until telemetry_unregister() in shutdown().
  if (config_.telemetry) {
    std::vector<const ConnectionSnapshot*> snapshots;
    std::vector<const offload::Protector*> protectors;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      snapshots.push_back(&workers_[i]->connection_snapshot());
      protectors.push_back(protectors_[i].get());
    }
    TelemetryExtras extras;
    extras.snapshots = snapshots;
    extras.protectors = protectors;
    extras.backends = backends();
    extras.first_lane = config_.backends != nullptr ? config_.first_lane : 0;
    telemetry_register(counter_blocks_, loop_blocks_, extras);
    telemetry_ = true;
  }
  return true;
}

int Dataplane::lcore_main(void* arg) {
  Run& r = *static_cast<Run*>(arg);
  const Time start = r.worker->clock().now();
  // Worker::run checks the flag every iteration; re-enter until the bound.
  while (!r.stop->load(std::memory_order_acquire)) {
    const Time now = r.worker->clock().now();
    if (now - start >= r.max) break;
    r.iterations += r.worker->run(*r.stop, r.max - (now - start));
  }
  // RFC 9000 §10.2: close with NO_ERROR, then give the frames time to leave.
  close_all_connections(*r.worker, r.close_error, "shutdown");
  r.left = drain_worker(*r.worker, r.drain);
  return 0;
}

void Dataplane::run(const std::atomic<bool>& stop, Duration max) {
  launch(stop, max);
  wait();
}

void Dataplane::launch(const std::atomic<bool>& stop, Duration max) {
  if (ran_ || torn_down_) return;
  ran_ = true;
  const unsigned main_lcore = rte_get_main_lcore();
  const Duration drain = static_cast<Duration>(config_.options.drain_ms) * kMillisecond;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Run& r = runs_[i];
    r.worker = workers_[i].get();
    r.stop = &stop;
    r.max = max;
    r.drain = drain;
    r.close_error = config_.close_error_code;
    if (placements_[i].lcore == main_lcore) {
      on_main_ = &r;
      continue;
    }
    if (rte_eal_remote_launch(&Dataplane::lcore_main, &r, placements_[i].lcore) == 0) {
      launched_.push_back(placements_[i].lcore);
    } else if (config_.log != nullptr) {
      std::fprintf(config_.log, "worker %zu: lcore %u busy, not started\n", i,
                   placements_[i].lcore);
    }
  }
  if (config_.options.stats_interval_s != 0 && config_.log != nullptr) {
    stats_ =
        std::make_unique<StatsPrinter>(counter_blocks_, config_.options.stats_interval_s,
                                       config_.log, "port=" + std::to_string(config_.options.port));
    stats_->start(&stop);
  }
}

void Dataplane::wait() {
  if (on_main_ != nullptr) lcore_main(on_main_);
  on_main_ = nullptr;
  for (unsigned l : launched_)
    rte_eal_wait_lcore(l);
  launched_.clear();
  stats_.reset();  // stops and joins the printer
}

const DataplaneTeardown& Dataplane::shutdown() {
  if (torn_down_) return teardown_;
  torn_down_ = true;
  // launch() without wait(): the lcores must be back before anything goes.
  for (unsigned l : launched_)
    rte_eal_wait_lcore(l);
  launched_.clear();
  on_main_ = nullptr;
  stats_.reset();  // before the counter blocks go
  if (telemetry_) telemetry_unregister();
  telemetry_ = false;
  if (capture_ != nullptr) capture_->close();  // the workers are back: every ring drained

  if (ran_) {
    std::string& s = teardown_.summary;
    std::uint64_t iterations = 0;
    for (const Run& r : runs_) {
      iterations += r.iterations;
      teardown_.connections_left += r.left;
    }
    s = "summary: " + std::to_string(workers_.size()) + " workers, " + std::to_string(iterations) +
        " iterations, " + std::to_string(teardown_.connections_left) +
        " connections not closed after the drain\n";
    format_summary(counter_blocks_, loop_blocks_, &s);
    if (capture_ != nullptr) s += capture_->summary() + "\n";
    if (qlog_writer_ != nullptr) {
      std::uint64_t traced = 0;
      for (const auto& r : qlog_recorders_) {
        traced += r->connections();
        teardown_.qlog_dropped += r->dropped();
      }
      s += "qlog: " + std::to_string(traced) + " connections, " +
           std::to_string(teardown_.qlog_dropped) + " events dropped (recorder rings full)\n";
    }
    if (config_.log != nullptr) {
      std::fputs(s.c_str(), config_.log);
      std::fflush(config_.log);
    }
  }

  // Connections release their keys into the protectors' engines and hold
  // mbufs: workers first, then protection, then the port and the pools.
  counter_blocks_.clear();
  loop_blocks_.clear();
  workers_.clear();
  capture_.reset();
  // The lcores are back and the connections gone: the writer drains the
  // rings, closes every file and joins before the recorders go.
  if (qlog_writer_ != nullptr) qlog_writer_->stop();
  qlog_writer_.reset();
  qlog_recorders_.clear();
  protectors_.clear();
  backends_.reset();
  flow_rules_.remove();                  // before the port is closed
  if (port_ != nullptr) port_->close();  // mbufs in its rings go back to the pools
  port_.reset();
  pdump_.reset();  // after the port: no burst runs a dpdk-pdump callback now
  redirect_.reset();
  for (Pool& p : pools_) {
    teardown_.mbufs_in_use_at_free += rte_mempool_in_use_count(p.pool);
    rte_mempool_free(p.pool);
  }
  pools_.clear();
  return teardown_;
}

}  // namespace dquic

// The poll loop (runtime/worker.h) against the Linux kernel: a Worker on a
// net_tap port whose interface this test moves into a network namespace of
// its own, so the kernel on the other side is a real IPv4/IPv6 host:
//
//   namespace dqtap<pid>: iface dqtap<pid>  198.18.0.1/24  fd00:d9::1/64
//        | tap (/dev/net/tun)
//   this process: net_tap0 -> Worker        198.18.0.2     fd00:d9::2
//
// Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking) and the ULA
// fd00::/8 (RFC 4193) only, and nothing leaves the namespace.
//
// The kernel pings the stack (ping, ping -6) and resolves its MAC with ARP and
// Neighbor Discovery, which the worker's control plane answers; the worker
// resolves the kernel's addresses itself when it has datagrams to send there.
//
// This binary has its own main(): the tap vdev is an EAL argument, and the
// namespace lives as long as the port (deleting it destroys the tap
// interface under the PMD). Order matters: the port starts first (net_tap
// configures the interface by name in our namespace), then the interface
// moves, then it is brought up and addressed inside (the move takes it down).
// Cleanup runs on every path: the Lab destructor, and a handler for SIGTERM /
// SIGINT / SIGHUP / SIGABRT (a meson timeout) that kills the children this
// process started and deletes the namespace; the tap interface goes with the
// process. Needs root (netns, /dev/net/tun): without it the tests FAIL with
// the reason, they do not skip.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/eth_port.h"
#include "quic/cid_generator.h"
#include "quic/tls_credentials.h"
#include "runtime/worker.h"

extern char** environ;

namespace dquic {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kTapVdev[] = "net_tap0";
constexpr char kKernelIpv4[] = "198.18.0.1";
constexpr char kStackIpv4[] = "198.18.0.2";
constexpr char kKernelIpv6[] = "fd00:d9::1";
constexpr char kStackIpv6[] = "fd00:d9::2";
constexpr std::uint16_t kPings = 3;
// Locally administered (IEEE 802 U/L bit); the port's own MAC is random.
constexpr char kKernelMac[] = "02:00:c6:12:00:01";

IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}
// fd00:d9::<last>
IpAddress ipv6_d9(std::uint8_t last) {
  IpAddress ip;
  ip.family = IpFamily::kIpv6;
  ip.bytes[0] = 0xfd;
  ip.bytes[1] = 0x00;
  ip.bytes[2] = 0x00;
  ip.bytes[3] = 0xd9;
  ip.bytes[15] = last;
  return ip;
}
const IpAddress kKernelV4 = ipv4(198, 18, 0, 1);
const IpAddress kStackV4 = ipv4(198, 18, 0, 2);
const IpAddress kKernelV6 = ipv6_d9(1);
const IpAddress kStackV6 = ipv6_d9(2);

std::string format_mac(const MacAddress& mac) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return s;
}

std::optional<MacAddress> parse_mac(const std::string& s) {
  unsigned b[6];
  char tail = 0;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6)
    return std::nullopt;
  MacAddress mac;
  for (std::size_t i = 0; i < 6; ++i)
    mac[i] = static_cast<std::uint8_t>(b[i]);
  return mac;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

std::string first_existing(std::initializer_list<const char*> paths) {
  for (const char* p : paths)
    if (access(p, X_OK) == 0) return p;
  return {};
}

// ------------------------------------------------------------ signals

// What the signal handler needs, in static storage: it may only make
// async-signal-safe calls (kill, fork, execve, waitpid, _exit).
constexpr std::size_t kMaxChildren = 8;
std::array<std::atomic<pid_t>, kMaxChildren> g_children{};
std::array<char, 256> g_ip_path{};
std::array<char, 64> g_netns_name{};
std::atomic<bool> g_netns_created{false};
// The EAL's runtime directory (/var/run/dpdk/<file-prefix> for root): made
// even with --no-shconf, empty, and ours alone (the prefix has our pid).
std::array<char, 256> g_runtime_dir{};

void track_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}
void untrack_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

// Deletes the namespace by running ip(8) directly (no shell, no allocation).
void delete_netns_from_signal() {
  if (!g_netns_created.exchange(false) || g_ip_path[0] == '\0') return;
  char arg_netns[] = "netns";
  char arg_delete[] = "delete";
  char* argv[] = {g_ip_path.data(), arg_netns, arg_delete, g_netns_name.data(), nullptr};
  const pid_t pid = fork();
  if (pid == 0) {
    execve(g_ip_path.data(), argv, environ);
    _exit(127);
  }
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

extern "C" void on_fatal_signal(int sig) {
  for (auto& slot : g_children) {
    const pid_t pid = slot.exchange(0);
    if (pid > 0) {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
  delete_netns_from_signal();
  if (g_runtime_dir[0] != '\0') rmdir(g_runtime_dir.data());
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGABRT})
    sigaction(sig, &sa, nullptr);
}

// ------------------------------------------------------------ child processes

// A command run without a shell, stdout and stderr captured, stdin from
// /dev/null, no inherited descriptor above 2 (the tap's queue fds stay
// ours). Killed (SIGKILL) and reaped by the destructor if still running.
class Child {
 public:
  Child() = default;
  ~Child() { kill_and_reap(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool start(const std::vector<std::string>& argv, std::string* err) {
    argv_ = argv;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return fail(err, "pipe2");
    out_fd_ = fds[0];
    fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    std::vector<char*> args;
    for (std::string& a : argv_)
      args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
      errno = rc;
      return fail(err, "posix_spawn " + argv_[0]);
    }
    pid_ = pid;
    track_child(pid_);
    return true;
  }

  // Collects output; true once the child has exited (and was reaped).
  bool poll() {
    drain();
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped(r == pid_ ? status : -1);
      drain();
      return true;
    }
    return false;
  }

  void kill_and_reap() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      const pid_t r = waitpid(pid_, &status, 0);
      reaped(r == pid_ ? status : -1);
      killed_ = true;
    }
    drain();
    if (out_fd_ >= 0) close(out_fd_);
    out_fd_ = -1;
  }

  bool killed() const { return killed_; }
  // Exit status, or -1 (signalled, not reaped, not started).
  int exit_code() const { return status_ >= 0 && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  const std::string& output() const { return output_; }
  std::string command() const {
    std::string s;
    for (const std::string& a : argv_)
      s += (s.empty() ? "" : " ") + a;
    return s;
  }
  // For failure messages.
  std::string describe() const {
    std::string s = "`" + command() + "`";
    if (killed_)
      s += " killed after its time limit";
    else
      s += " exited " + std::to_string(exit_code());
    return s + ", output:\n" + output_;
  }

 private:
  static bool fail(std::string* err, const std::string& what) {
    if (err != nullptr) *err = what + ": " + std::strerror(errno);
    return false;
  }
  void drain() {
    if (out_fd_ < 0) return;
    char buf[4096];
    // Bounded: a child cannot keep us here (64 KiB per call).
    for (int i = 0; i < 16; ++i) {
      const ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, static_cast<std::size_t>(n));
    }
  }
  void reaped(int status) {
    untrack_child(pid_);
    pid_ = -1;
    status_ = status;
  }

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int status_ = -1;
  bool killed_ = false;
  std::string output_;
};

void pause_briefly() {
  // Between polls: the traffic here is a few packets a second, and the
  // machine is shared.
  timespec ts{0, 100'000};
  nanosleep(&ts, nullptr);
}

// Runs the children to completion, each killed after `limit`, calling
// `tick` (the worker's poll_once, or nothing) in between.
void run_children(std::span<Child* const> children, Clock::duration limit,
                  const std::function<void()>& tick) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (tick) tick();
    bool all_done = true;
    for (Child* c : children)
      all_done = c->poll() && all_done;
    if (all_done) return;
    if (Clock::now() > deadline) {
      for (Child* c : children)
        if (!c->poll()) c->kill_and_reap();
      return;
    }
    pause_briefly();
  }
}

// ------------------------------------------------------------ the lab

// The namespace, the tap port and its pool: set up once per process (the
// port's interface cannot leave the namespace without being destroyed).
class Lab {
 public:
  Lab(std::string netns, std::string iface) : netns_(std::move(netns)), iface_(std::move(iface)) {}
  ~Lab() { teardown(); }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // Records why it failed: every test reports it.
  void setup(const std::string& eal_error) {
    if (!eal_error.empty()) {
      error_ = eal_error;
      return;
    }
    ready_ = do_setup(&error_);
  }

  void teardown() {
    // The port first: closing its queue fds destroys the (non-persistent)
    // tap interface in the namespace, then the namespace goes.
    port_.close();
    if (g_netns_created.exchange(false)) {
      std::string out;
      if (!ip({"netns", "delete", netns_}, &out))
        std::fprintf(stderr, "tap_namespace_test: ip netns delete %s failed: %s\n", netns_.c_str(),
                     out.c_str());
    }
    if (pool_ != nullptr) rte_mempool_free(pool_);
    pool_ = nullptr;
    ready_ = false;
  }

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  const std::string& netns() const { return netns_; }
  const std::string& iface() const { return iface_; }
  const std::string& ip_path() const { return ip_path_; }
  const std::string& ping_path() const { return ping_path_; }
  std::uint16_t port_id() const { return port_.port_id(); }
  bool tx_checksum_offload() const { return port_.tx_checksum_offload(); }
  rte_mempool* pool() const { return pool_; }
  const MacAddress& stack_mac() const { return stack_mac_; }
  const MacAddress& kernel_mac() const { return kernel_mac_; }

  // ip(8) with `args`, at most 10 s, `tick` run meanwhile; true on exit 0.
  bool ip(const std::vector<std::string>& args, std::string* out,
          const std::function<void()>& tick = {}) const {
    std::vector<std::string> argv = {ip_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    Child c;
    std::string err;
    if (!c.start(argv, &err)) {
      if (out != nullptr) *out = err;
      return false;
    }
    Child* const one[] = {&c};
    run_children(one, seconds(10), tick);
    if (out != nullptr) *out = c.describe();
    return !c.killed() && c.exit_code() == 0;
  }

 private:
  bool do_setup(std::string* why) {
    ip_path_ = first_existing({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
    ping_path_ = first_existing({"/usr/bin/ping", "/bin/ping", "/usr/sbin/ping", "/sbin/ping"});
    if (ip_path_.empty()) return fail(why, "ip(8) not found: install iproute2 (scripts/deps.sh)");
    if (ping_path_.empty())
      return fail(why, "ping(8) not found: install iputils-ping (scripts/deps.sh)");
    std::snprintf(g_ip_path.data(), g_ip_path.size(), "%s", ip_path_.c_str());
    std::snprintf(g_netns_name.data(), g_netns_name.size(), "%s", netns_.c_str());

    // 1. The port, while its interface is still in our namespace.
    const std::optional<std::uint16_t> port = drivers::find_port(kTapVdev);
    if (!port)
      return fail(why, std::string("no port named ") + kTapVdev +
                           ": the net_tap vdev did not probe (creating a tap interface needs "
                           "CAP_NET_ADMIN, i.e. root, and /dev/net/tun; effective uid " +
                           std::to_string(geteuid()) + "; see the EAL messages above)");
    pool_ = rte_pktmbuf_pool_create("tap_ns_test", 4095, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                    static_cast<int>(rte_socket_id()));
    if (pool_ == nullptr) return fail(why, std::string("mempool: ") + rte_strerror(rte_errno));
    drivers::EthPortConfig cfg;
    cfg.port_id = *port;
    cfg.queues = 1;
    cfg.rx_descriptors = 256;
    cfg.tx_descriptors = 256;
    cfg.rx_pools = {pool_};
    std::string err;
    if (!port_.start(cfg, &err)) return fail(why, "starting the net_tap port: " + err);
    rte_ether_addr mac{};
    if (rte_eth_macaddr_get(*port, &mac) != 0) return fail(why, "rte_eth_macaddr_get failed");
    std::memcpy(stack_mac_.data(), mac.addr_bytes, 6);

    // 2. The namespace, and the interface moved into it.
    std::string out;
    if (!ip({"netns", "add", netns_}, &out))
      return fail(why, "cannot create network namespace " + netns_ +
                           " (needs root / CAP_SYS_ADMIN; a leftover of a killed run? then `ip "
                           "netns delete " +
                           netns_ + "`): " + out);
    g_netns_created = true;
    if (!ip({"link", "set", iface_, "netns", netns_}, &out))
      return fail(why, "cannot move " + iface_ + " into " + netns_ + ": " + out);

    // 3. A MAC of its own (net_tap gives the interface the port's MAC, and
    // two ends with one MAC would hide which one a frame names), then up and
    // addressed inside (the move took it down). nodad: the address is usable
    // at once (RFC 4862 §5.4 would hold it tentative).
    const std::vector<std::vector<std::string>> steps = {
        {"-n", netns_, "link", "set", "dev", iface_, "address", kKernelMac},
        {"-n", netns_, "link", "set", "dev", iface_, "up"},
        {"-n", netns_, "addr", "add", std::string(kKernelIpv4) + "/24", "dev", iface_},
        {"-n", netns_, "-6", "addr", "add", std::string(kKernelIpv6) + "/64", "dev", iface_,
         "nodad"},
    };
    for (const auto& step : steps)
      if (!ip(step, &out)) return fail(why, "configuring " + iface_ + " in " + netns_ + ": " + out);

    // The kernel side's MAC, from `ip -o link show`: "... link/ether <mac> brd ...".
    Child c;
    if (!c.start({ip_path_, "-n", netns_, "-o", "link", "show", "dev", iface_}, &err))
      return fail(why, err);
    Child* const one[] = {&c};
    run_children(one, seconds(10), {});
    const std::vector<std::string> w = words(c.output());
    std::optional<MacAddress> kernel;
    for (std::size_t i = 0; i + 1 < w.size(); ++i)
      if (w[i] == "link/ether") kernel = parse_mac(w[i + 1]);
    if (!kernel) return fail(why, "no link/ether address in " + c.describe());
    kernel_mac_ = *kernel;
    if (kernel_mac_ != parse_mac(kKernelMac))
      return fail(why, std::string("the kernel side kept MAC ") + format_mac(kernel_mac_) +
                           ", not " + kKernelMac);
    if (kernel_mac_ == stack_mac_)
      return fail(why, "the kernel side and the port have the same MAC " + format_mac(stack_mac_));
    return true;
  }

  static bool fail(std::string* why, const std::string& text) {
    *why = text;
    return false;
  }

  std::string netns_;
  std::string iface_;
  std::string ip_path_;
  std::string ping_path_;
  drivers::EthPort port_;
  rte_mempool* pool_ = nullptr;
  MacAddress stack_mac_{};
  MacAddress kernel_mac_{};
  bool ready_ = false;
  std::string error_;
};

Lab* g_lab = nullptr;

// ------------------------------------------------------------ fixture

class TapNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_lab, nullptr);
    ASSERT_TRUE(g_lab->ready()) << "the tap/namespace lab could not be set up: " << g_lab->error();
    // Each test starts from an empty kernel neighbour cache, so the kernel
    // has to resolve us again (order and --gtest_repeat do not matter).
    std::string out;
    ASSERT_TRUE(g_lab->ip({"-n", g_lab->netns(), "neigh", "flush", "dev", g_lab->iface()}, &out))
        << out;
    baseline_ = rte_mempool_in_use_count(g_lab->pool());
  }
  void TearDown() override {
    worker_.reset();
    generator_.reset();
    if (g_lab == nullptr || !g_lab->ready()) return;
    // What the worker allocated went back (the PMD's RX ring keeps its own
    // share, counted in the baseline).
    EXPECT_EQ(rte_mempool_in_use_count(g_lab->pool()), baseline_) << "mbufs leaked";
  }

  void random(std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = static_cast<std::uint8_t>(rng_());
  }

  // A fresh worker (empty neighbour cache) on the tap port's one queue,
  // owning 198.18.0.2/24 and fd00:d9::2/64 with the port's MAC. A
  // client-only endpoint: nothing listens.
  Worker* make_worker() {
    RandomCidGeneratorSettings s;
    s.cid_length = 8;
    generator_ =
        RandomCidGenerator::create(s, [this](std::span<std::uint8_t> out) { random(out); });
    if (generator_ == nullptr) return nullptr;
    WorkerConfig wc;
    wc.port_id = g_lab->port_id();
    wc.pool = g_lab->pool();
    wc.mac = g_lab->stack_mac();
    EXPECT_TRUE(wc.route.add_address(kStackV4, 24));
    EXPECT_TRUE(wc.route.add_address(kStackV6, 64));
    wc.tx_checksum_offload = g_lab->tx_checksum_offload();
    wc.endpoint.connection = client_config();
    wc.endpoint.cid_generator = generator_.get();
    wc.endpoint.accept_connections = false;
    worker_ = std::make_unique<Worker>(std::move(wc));
    std::string why;
    EXPECT_TRUE(worker_->init(&why)) << why;
    return worker_.get();
  }

  ConnectionConfig client_config() {
    ConnectionConfig c;
    c.role = EndpointRole::kClient;
    c.tls_client = &tls_client_;
    c.random = [this](std::span<std::uint8_t> out) { random(out); };
    return c;
  }

  // Runs `argv` inside the namespace while the worker polls.
  std::unique_ptr<Child> start_in_netns(const std::vector<std::string>& argv) {
    std::vector<std::string> full = {g_lab->ip_path(), "netns", "exec", g_lab->netns()};
    full.insert(full.end(), argv.begin(), argv.end());
    auto c = std::make_unique<Child>();
    std::string err;
    EXPECT_TRUE(c->start(full, &err)) << err;
    return c;
  }

  std::function<void()> poll_worker() {
    return [this] {
      if (worker_) worker_->poll_once();
    };
  }

  // `ip neigh show <addr> dev <iface>` in the namespace: the lladdr and the
  // state words ("<addr> lladdr <mac> REACHABLE").
  struct KernelNeighbour {
    std::optional<MacAddress> mac;
    std::vector<std::string> states;
    std::string raw;
  };
  KernelNeighbour kernel_neighbour(const char* addr) {
    KernelNeighbour n;
    std::vector<std::string> argv = {g_lab->ip_path(), "-n", g_lab->netns(), "neigh",
                                     "show",           addr, "dev",          g_lab->iface()};
    Child c;
    std::string err;
    if (!c.start(argv, &err)) {
      n.raw = err;
      return n;
    }
    Child* const one[] = {&c};
    run_children(one, seconds(10), poll_worker());
    n.raw = c.describe();
    const std::vector<std::string> w = words(c.output());
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i] == "lladdr" && i + 1 < w.size()) n.mac = parse_mac(w[i + 1]);
      if (!w[i].empty() && std::all_of(w[i].begin(), w[i].end(), ::isupper))
        n.states.push_back(w[i]);
    }
    return n;
  }

  // Polls until `done` or `limit`.
  template <class Done>
  void drive(Done done, Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
      worker_->poll_once();
      pause_briefly();
    }
  }

  std::mt19937_64 rng_{std::random_device{}()};
  std::unique_ptr<CertificateVerifier> verifier_ = [] {
    TrustOptions o;
    o.insecure_skip_verify = true;  // no server ever answers here
    std::string err;
    return CertificateVerifier::create(o, &err);
  }();
  TlsClientConfig tls_client_ = [this] {
    TlsClientConfig t;
    t.server_name = "tap.test";
    t.alpn = {"tap"};
    t.verifier = verifier_.get();
    return t;
  }();
  std::unique_ptr<ConnectionIdGenerator> generator_;
  std::unique_ptr<Worker> worker_;
  unsigned baseline_ = 0;
};

bool has_any(const std::vector<std::string>& states, std::initializer_list<const char*> wanted) {
  for (const std::string& s : states)
    for (const char* w : wanted)
      if (s == w) return true;
  return false;
}

// "3 packets transmitted, 3 received, 0% packet loss, time 402ms"
bool all_replies(const std::string& ping_output, unsigned count) {
  const std::string want =
      std::to_string(count) + " packets transmitted, " + std::to_string(count) + " received,";
  return ping_output.find(want) != std::string::npos;
}

// ------------------------------------------------------------ 1: ping

// RFC 826 and RFC 4861 §7.2.4: the kernel resolves 198.18.0.2 / fd00:d9::2
// and the worker answers; RFC 792 / RFC 4443 §4.1-4.2: every echo request
// gets its reply. The worker learns the kernel's MAC from the request / the
// Neighbor Solicitation's source link-layer option (RFC 4861 §7.2.3).
TEST_F(TapNamespaceTest, KernelPingsTheStackOverIpv4AndIpv6) {
  Worker* w = make_worker();
  ASSERT_NE(w, nullptr);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(w->neighbors().find(kKernelV4), nullptr);
  EXPECT_EQ(w->neighbors().find(kKernelV6), nullptr);

  const std::string count = std::to_string(kPings);
  auto v4 =
      start_in_netns({g_lab->ping_path(), "-n", "-c", count, "-i", "0.2", "-W", "1", kStackIpv4});
  auto v6 = start_in_netns(
      {g_lab->ping_path(), "-6", "-n", "-c", count, "-i", "0.2", "-W", "1", kStackIpv6});
  ASSERT_FALSE(HasFailure());
  Child* const both[] = {v4.get(), v6.get()};
  run_children(both, seconds(20), poll_worker());

  EXPECT_EQ(v4->exit_code(), 0) << v4->describe();
  EXPECT_EQ(v6->exit_code(), 0) << v6->describe();
  EXPECT_TRUE(all_replies(v4->output(), kPings)) << v4->describe();
  EXPECT_TRUE(all_replies(v6->output(), kPings)) << v6->describe();

  const ControlCounters& cc = w->control().counters();
  EXPECT_GE(cc.arp_replies_sent, 1u);
  EXPECT_GE(cc.neighbor_advertisements_sent, 1u);
  EXPECT_GE(cc.icmp_echo_replies_sent, kPings);
  EXPECT_GE(cc.icmpv6_echo_replies_sent, kPings);
  EXPECT_GE(w->counters().rx_packets, 2u * kPings + 2);
  EXPECT_GE(w->counters().tx_packets, 2u * kPings + 2);
  EXPECT_EQ(w->counters().tx_dropped, 0u);

  // The kernel's cache holds our MAC, confirmed or about to be (not FAILED,
  // not INCOMPLETE).
  const std::string ours = format_mac(g_lab->stack_mac());
  for (const char* addr : {kStackIpv4, kStackIpv6}) {
    SCOPED_TRACE(addr);
    const KernelNeighbour n = kernel_neighbour(addr);
    ASSERT_TRUE(n.mac.has_value()) << n.raw;
    EXPECT_EQ(format_mac(*n.mac), ours) << n.raw;
    EXPECT_TRUE(has_any(n.states, {"REACHABLE", "STALE", "DELAY"})) << n.raw;
    EXPECT_FALSE(has_any(n.states, {"FAILED", "INCOMPLETE"})) << n.raw;
    std::printf("[ info ] kernel neighbour %s: %s\n", addr,
                n.states.empty() ? "-" : n.states.front().c_str());
  }

  // The worker learned the kernel's MAC from its ARP request and its NS.
  for (const IpAddress& ip : {kKernelV4, kKernelV6}) {
    SCOPED_TRACE(ip.family == IpFamily::kIpv4 ? kKernelIpv4 : kKernelIpv6);
    const NeighborEntry* e = w->neighbors().find(ip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(format_mac(e->mac), format_mac(g_lab->kernel_mac()));
    EXPECT_NE(e->state, NeighborState::kIncomplete);
    EXPECT_NE(e->state, NeighborState::kFailed);
  }
  std::printf("[ info ] stack %s, kernel %s; worker rx %llu tx %llu, control drops %llu\n",
              ours.c_str(), format_mac(g_lab->kernel_mac()).c_str(),
              static_cast<unsigned long long>(w->counters().rx_packets),
              static_cast<unsigned long long>(w->counters().tx_packets),
              static_cast<unsigned long long>(cc.total_drops()));
}

// ------------------------------------------------------------ 2: resolve

// The other direction: the worker has datagrams for 198.18.0.1 and
// fd00:d9::1 (a QUIC client's first Initials to the discard port) and no
// MAC for either: it parks them, broadcasts an ARP request and multicasts a
// Neighbor Solicitation to the solicited-node group (RFC 4861 §7.2.2); the
// kernel's answers make both entries REACHABLE with the kernel's MAC and
// release the parked datagrams.
TEST_F(TapNamespaceTest, StackResolvesTheKernelAddresses) {
  Worker* w = make_worker();
  ASSERT_NE(w, nullptr);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(w->neighbors().find(kKernelV4), nullptr);
  ASSERT_EQ(w->neighbors().find(kKernelV6), nullptr);

  constexpr std::uint16_t kDiscard = 9;
  const NetworkPath v4{PeerAddress::ipv4({198, 18, 0, 2}, 50001),
                       PeerAddress::ipv4({198, 18, 0, 1}, kDiscard)};
  const NetworkPath v6{PeerAddress::ipv6(kStackV6.bytes, 50002),
                       PeerAddress::ipv6(kKernelV6.bytes, kDiscard)};
  ASSERT_NE(w->connect(client_config(), v4), nullptr);
  ASSERT_NE(w->connect(client_config(), v6), nullptr);

  drive([&] { return w->loop_counters().released >= 2; }, seconds(10));
  const WorkerLoopCounters& lc = w->loop_counters();
  EXPECT_GE(lc.solicitations_sent, 2u);
  EXPECT_GE(lc.held, 2u);
  EXPECT_EQ(lc.released, lc.held);
  EXPECT_EQ(lc.hold_dropped, 0u);
  EXPECT_EQ(lc.no_route, 0u);

  for (const IpAddress& ip : {kKernelV4, kKernelV6}) {
    SCOPED_TRACE(ip.family == IpFamily::kIpv4 ? kKernelIpv4 : kKernelIpv6);
    const NeighborEntry* e = w->neighbors().find(ip);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->state, NeighborState::kReachable) << to_string(e->state);
    EXPECT_EQ(format_mac(e->mac), format_mac(g_lab->kernel_mac()));
  }

  // The kernel learned us from the request / the NS's source link-layer
  // option (RFC 826 merge; RFC 4861 §7.2.3).
  const std::string ours = format_mac(g_lab->stack_mac());
  for (const char* addr : {kStackIpv4, kStackIpv6}) {
    SCOPED_TRACE(addr);
    const KernelNeighbour n = kernel_neighbour(addr);
    ASSERT_TRUE(n.mac.has_value()) << n.raw;
    EXPECT_EQ(format_mac(*n.mac), ours) << n.raw;
    EXPECT_FALSE(has_any(n.states, {"FAILED", "INCOMPLETE"})) << n.raw;
  }
}

}  // namespace
}  // namespace dquic

namespace {

// Files left in it (none expected), then the directory.
void remove_runtime_dir(const char* dir) {
  if (dir[0] == '\0') return;
  if (DIR* d = opendir(dir)) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") unlink((std::string(dir) + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string pid = std::to_string(getpid());
  // One name for both: at most 15 characters (IFNAMSIZ - 1) for the iface.
  const std::string name = "dqtap" + pid;
  const std::string vdev = std::string(dquic::kTapVdev) + ",iface=" + name;
  std::vector<std::string> args = {argv[0], "--no-huge",     "--no-shconf",          "--no-pci",
                                   "-m",    "1024",          "--no-telemetry",       "--log-level",
                                   "error", "--file-prefix", "dquic-tap-test-" + pid};
  // Without the tun device the vdev would fail the whole EAL start: leave
  // it out and let every test fail with the reason instead.
  std::string eal_error;
  const int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (tun < 0) {
    eal_error = std::string("cannot open /dev/net/tun (net_tap needs it, and root): ") +
                std::strerror(errno);
  } else {
    close(tun);
    args.push_back("--vdev");
    args.push_back(vdev);
  }
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "tap_namespace_test: rte_eal_init failed (%s): %s\n", vdev.c_str(),
                 rte_strerror(rte_errno));
    return 1;
  }
  std::snprintf(dquic::g_runtime_dir.data(), dquic::g_runtime_dir.size(), "%s",
                rte_eal_get_runtime_dir());
  dquic::install_signal_handlers();
  int rc = 1;
  {
    dquic::Lab lab("dqtap" + pid, name);
    dquic::g_lab = &lab;
    lab.setup(eal_error);
    if (!lab.ready()) std::fprintf(stderr, "tap_namespace_test: %s\n", lab.error().c_str());
    ::testing::InitGoogleTest(&argc, argv);
    rc = RUN_ALL_TESTS();
    dquic::g_lab = nullptr;
  }  // the namespace and the port go here, whatever the tests did
  rte_eal_cleanup();
  remove_runtime_dir(dquic::g_runtime_dir.data());
  return rc;
}

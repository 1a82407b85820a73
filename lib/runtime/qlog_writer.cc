#include "runtime/qlog_writer.h"

#include <pthread.h>
#include <rte_lcore.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <ctime>

#include "quic/connection.h"
#include "quic/connection_observer.h"
#include "quic/sent_packet.h"

namespace dquic {

namespace {

// quic-events-13 §2.1 and h3-events-13 §2.1: implementations of a draft
// append "-NN" to the schema URI; loglevel is main-schema-14 §9.1's URI.
constexpr const char* kEventSchemas =
    "[\"urn:ietf:params:qlog:events:quic-13\",\"urn:ietf:params:qlog:events:http3-13\","
    "\"urn:ietf:params:qlog:events:loglevel\"]";
constexpr std::size_t kMaxGroup = 1 + SentPacket::kMaxFrames + 4;
// Received frames and deferred events held per open packet_received.
constexpr std::size_t kMaxHeldRecords = 1024;
constexpr std::size_t kFileBuffer = 64 * 1024;
// Records per pass above which the writer does not sleep.
constexpr std::size_t kBusyRecords = 4096;

class Json {
 public:
  explicit Json(std::string& s) : s_(s) {}
  Json& raw(const char* c) {
    s_ += c;
    return *this;
  }
  Json& key(const char* k) {
    comma();
    s_ += '"';
    s_ += k;
    s_ += "\":";
    fresh_ = false;
    return *this;
  }
  // Numbers with to_chars: the writer formats several per event, millions
  // of events per second at full rate.
  Json& u(std::uint64_t v) {
    char b[24];
    const std::to_chars_result r = std::to_chars(b, b + sizeof b, v);
    s_.append(b, static_cast<std::size_t>(r.ptr - b));
    return *this;
  }
  Json& ms(Duration ns) {  // milliseconds, microsecond resolution, three decimals
    if (ns < 0) {
      s_ += '-';
      ns = -ns;
    }
    const std::uint64_t us = static_cast<std::uint64_t>(ns) / 1000;
    u(us / 1000);
    const unsigned frac = static_cast<unsigned>(us % 1000);
    const char d[4] = {'.', static_cast<char>('0' + frac / 100),
                       static_cast<char>('0' + frac / 10 % 10), static_cast<char>('0' + frac % 10)};
    s_.append(d, sizeof d);
    return *this;
  }
  Json& str(const char* v) {
    s_ += '"';
    s_ += v;
    s_ += '"';
    return *this;
  }
  Json& hex(const std::uint8_t* p, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    s_ += '"';
    for (std::size_t i = 0; i < n; ++i) {
      s_ += kDigits[p[i] >> 4];
      s_ += kDigits[p[i] & 15];
    }
    s_ += '"';
    return *this;
  }
  Json& text(const std::uint8_t* p, std::size_t n) {  // JSON-escaped
    s_ += '"';
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t c = p[i];
      if (c == '"' || c == '\\') {
        s_ += '\\';
        s_ += static_cast<char>(c);
      } else if (c < 0x20 || c >= 0x7f) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        s_ += b;
      } else {
        s_ += static_cast<char>(c);
      }
    }
    s_ += '"';
    return *this;
  }
  Json& b(bool v) {
    s_ += v ? "true" : "false";
    return *this;
  }
  Json& open() {  // an object as a value
    s_ += '{';
    fresh_ = true;
    return *this;
  }
  Json& close() {
    s_ += '}';
    fresh_ = false;
    return *this;
  }
  Json& open_array() {
    s_ += '[';
    fresh_ = true;
    return *this;
  }
  Json& close_array() {
    s_ += ']';
    fresh_ = false;
    return *this;
  }
  Json& item() {  // before an array element
    comma();
    fresh_ = false;
    return *this;
  }

 private:
  void comma() {
    if (!fresh_) s_ += ',';
  }
  std::string& s_;
  bool fresh_ = true;
};

const char* space_name(std::uint8_t s) {
  switch (static_cast<PacketSpace>(s)) {
    case PacketSpace::kInitial:
      return "initial";
    case PacketSpace::kHandshake:
      return "handshake";
    default:
      return "application_data";
  }
}

const char* packet_type(std::uint8_t s) {  // 0-RTT shares the application space
  switch (static_cast<PacketSpace>(s)) {
    case PacketSpace::kInitial:
      return "initial";
    case PacketSpace::kHandshake:
      return "handshake";
    default:
      return "1RTT";
  }
}

const char* key_space(std::uint8_t s) {
  switch (static_cast<PacketSpace>(s)) {
    case PacketSpace::kInitial:
      return "initial";
    case PacketSpace::kHandshake:
      return "handshake";
    default:
      return "1rtt";
  }
}

// quic-events-13 §4.6: Base states, and the granular closing / draining.
const char* state_name(std::uint8_t s) {
  switch (static_cast<ConnectionState>(s)) {
    case ConnectionState::kHandshaking:
      return "attempted";
    case ConnectionState::kConnected:
      return "handshake_complete";
    case ConnectionState::kClosing:
      return "closing";
    case ConnectionState::kDraining:
      return "draining";
    default:
      return "closed";
  }
}

const char* phase_name(std::uint8_t p) {
  switch (static_cast<CongestionPhase>(p)) {
    case CongestionPhase::kSlowStart:
      return "slow_start";
    case CongestionPhase::kCongestionAvoidance:
      return "congestion_avoidance";
    default:
      return "recovery";
  }
}

const char* migration_name(std::uint8_t e) {  // quic-events-13 §5.20
  switch (static_cast<PathEvent>(e)) {
    case PathEvent::kProbingStarted:
      return "probing_started";
    case PathEvent::kProbingSuccessful:
      return "probing_successful";
    case PathEvent::kProbingAbandoned:
      return "probing_abandoned";
    default:
      return "migration_complete";
  }
}

const char* h3_frame_name(std::uint64_t t) {  // RFC 9114 §7.2, h3-events-13 §4.2
  switch (t) {
    case 0x00:
      return "data";
    case 0x01:
      return "headers";
    case 0x03:
      return "cancel_push";
    case 0x04:
      return "settings";
    case 0x05:
      return "push_promise";
    case 0x07:
      return "goaway";
    case 0x0d:
      return "max_push_id";
    case 0xf0700:
    case 0xf0701:
      return "priority_update";
    default:
      return (t >= 0x21 && (t - 0x21) % 0x1f == 0) ? "reserved" : "unknown";
  }
}

void cid(Json& j, const std::uint8_t* at) {
  j.hex(at + 1, std::min<std::size_t>(at[0], kMaxConnectionIdLength));
}

// TupleEndpointInfo (quic-events-13 §8.5) from a packed PeerAddress.
void endpoint(Json& j, const std::uint8_t* at, const std::uint8_t* cid_at) {
  const bool v4 = at[0] == static_cast<std::uint8_t>(PeerAddress::Family::kIpv4);
  std::uint16_t port = 0;
  std::memcpy(&port, at + 17, sizeof port);
  char ip[48];
  if (v4) {
    std::snprintf(ip, sizeof ip, "%u.%u.%u.%u", at[1], at[2], at[3], at[4]);
  } else {
    int n = 0;
    for (int i = 0; i < 8; ++i)
      n += std::snprintf(ip + n, sizeof ip - static_cast<std::size_t>(n), i ? ":%x" : "%x",
                         (at[1 + 2 * i] << 8) | at[2 + 2 * i]);
  }
  j.open().key(v4 ? "ip_v4" : "ip_v6").str(ip).key(v4 ? "port_v4" : "port_v6").u(port);
  if (cid_at != nullptr) {
    j.key("connection_ids").open_array().item();
    cid(j, cid_at);
    j.close_array();
  }
  j.close();
}

// A SentFrame record as a QuicFrame (quic-events-13 §8.13): what the
// sender kept of it.
void sent_frame(Json& j, const QlogRecord& r) {
  j.item().open();
  auto stream = [&] { j.key("stream_id").u(r.u[0]); };
  switch (static_cast<SentFrame::Kind>(r.a)) {
    case SentFrame::Kind::kStream:
      j.key("frame_type").str("stream");
      stream();
      j.key("offset").u(r.u[1]);
      if (r.b) j.key("fin").b(true);
      j.key("raw").open().key("payload_length").u(r.u[2]).close();
      break;
    case SentFrame::Kind::kCrypto:
      j.key("frame_type").str("crypto").key("offset").u(r.u[1]);
      j.key("raw").open().key("payload_length").u(r.u[2]).close();
      break;
    case SentFrame::Kind::kAck:
      j.key("frame_type").str("ack").key("largest_acknowledged").u(r.u[1]);
      break;
    case SentFrame::Kind::kResetStream:
      j.key("frame_type").str("reset_stream");
      stream();
      break;
    case SentFrame::Kind::kStopSending:
      j.key("frame_type").str("stop_sending");
      stream();
      break;
    case SentFrame::Kind::kMaxData:
      j.key("frame_type").str("max_data");
      break;
    case SentFrame::Kind::kMaxStreamData:
      j.key("frame_type").str("max_stream_data");
      stream();
      break;
    case SentFrame::Kind::kMaxStreamsBidi:
      j.key("frame_type").str("max_streams").key("stream_type").str("bidirectional");
      break;
    case SentFrame::Kind::kMaxStreamsUni:
      j.key("frame_type").str("max_streams").key("stream_type").str("unidirectional");
      break;
    case SentFrame::Kind::kDataBlocked:
      j.key("frame_type").str("data_blocked");
      break;
    case SentFrame::Kind::kStreamDataBlocked:
      j.key("frame_type").str("stream_data_blocked");
      stream();
      break;
    case SentFrame::Kind::kStreamsBlockedBidi:
      j.key("frame_type").str("streams_blocked").key("stream_type").str("bidirectional");
      break;
    case SentFrame::Kind::kStreamsBlockedUni:
      j.key("frame_type").str("streams_blocked").key("stream_type").str("unidirectional");
      break;
    case SentFrame::Kind::kNewConnectionId:
      j.key("frame_type").str("new_connection_id").key("sequence_number").u(r.u[1]);
      break;
    case SentFrame::Kind::kRetireConnectionId:
      j.key("frame_type").str("retire_connection_id").key("sequence_number").u(r.u[1]);
      break;
    case SentFrame::Kind::kHandshakeDone:
      j.key("frame_type").str("handshake_done");
      break;
    case SentFrame::Kind::kNewToken:
      j.key("frame_type").str("new_token");
      break;
    case SentFrame::Kind::kPing:
      j.key("frame_type").str("ping");
      break;
    case SentFrame::Kind::kDatagram:
      j.key("frame_type").str("datagram");
      break;
  }
  j.close();
}

// A received frame's records (head + extras) as a QuicFrame.
void received_frame(Json& j, const QlogRecord* g, std::size_t n) {
  const QlogRecord& r = g[0];
  j.item().open();
  auto stream = [&] { j.key("stream_id").u(r.u[0]); };
  auto stream_type = [&] { j.key("stream_type").str(r.b ? "bidirectional" : "unidirectional"); };
  switch (static_cast<QlogFrame>(r.a)) {
    case QlogFrame::kPadding:
      j.key("frame_type").str("padding").key("raw").open().key("payload_length").u(r.u[0]).close();
      break;
    case QlogFrame::kPing:
      j.key("frame_type").str("ping");
      break;
    case QlogFrame::kAck: {
      j.key("frame_type")
          .str("ack")
          .key("ack_delay")
          .ms(static_cast<Duration>(r.u[0]) * kMicrosecond);
      j.key("acked_ranges").open_array();
      const std::size_t ranges = static_cast<std::size_t>(r.u[1]);
      for (std::size_t i = 0; i < ranges; ++i) {
        const std::size_t rec = i < 2 ? 0 : 1 + (i - 2) / 3;
        if (rec >= n) break;
        const std::size_t k = i < 2 ? 2 + 2 * i : 2 * ((i - 2) % 3);
        const std::uint64_t lo = g[rec].u[k], hi = g[rec].u[k + 1];
        j.item().open_array().item().u(lo);
        if (hi != lo) j.item().u(hi);
        j.close_array();
      }
      j.close_array();
      if (r.b && n > 1) {
        const QlogRecord& e = g[n - 1];
        j.key("ect0").u(e.u[0]).key("ect1").u(e.u[1]).key("ce").u(e.u[2]);
      }
      break;
    }
    case QlogFrame::kResetStream:
      j.key("frame_type").str("reset_stream");
      stream();
      j.key("error_code").u(r.u[1]).key("final_size").u(r.u[2]);
      break;
    case QlogFrame::kStopSending:
      j.key("frame_type").str("stop_sending");
      stream();
      j.key("error_code").u(r.u[1]);
      break;
    case QlogFrame::kCrypto:
      j.key("frame_type").str("crypto").key("offset").u(r.u[0]);
      j.key("raw").open().key("payload_length").u(r.u[1]).close();
      break;
    case QlogFrame::kNewToken:
      j.key("frame_type").str("new_token");
      j.key("token").open().key("raw").open().key("length").u(r.u[0]).close().close();
      break;
    case QlogFrame::kStream:
      j.key("frame_type").str("stream");
      stream();
      j.key("offset").u(r.u[1]);
      if (r.b) j.key("fin").b(true);
      j.key("raw").open().key("payload_length").u(r.u[2]).close();
      break;
    case QlogFrame::kMaxData:
      j.key("frame_type").str("max_data").key("maximum").u(r.u[0]);
      break;
    case QlogFrame::kMaxStreamData:
      j.key("frame_type").str("max_stream_data");
      stream();
      j.key("maximum").u(r.u[1]);
      break;
    case QlogFrame::kMaxStreams:
      j.key("frame_type").str("max_streams");
      stream_type();
      j.key("maximum").u(r.u[0]);
      break;
    case QlogFrame::kDataBlocked:
      j.key("frame_type").str("data_blocked").key("limit").u(r.u[0]);
      break;
    case QlogFrame::kStreamDataBlocked:
      j.key("frame_type").str("stream_data_blocked");
      stream();
      j.key("limit").u(r.u[1]);
      break;
    case QlogFrame::kStreamsBlocked:
      j.key("frame_type").str("streams_blocked");
      stream_type();
      j.key("limit").u(r.u[0]);
      break;
    case QlogFrame::kNewConnectionId:
      j.key("frame_type").str("new_connection_id").key("sequence_number").u(r.u[0]);
      j.key("retire_prior_to").u(r.u[1]).key("connection_id_length").u(r.b);
      j.key("connection_id").hex(qlog_bytes(r) + 16, std::min<std::size_t>(r.b, 20));
      break;
    case QlogFrame::kRetireConnectionId:
      j.key("frame_type").str("retire_connection_id").key("sequence_number").u(r.u[0]);
      break;
    case QlogFrame::kPathChallenge:
      j.key("frame_type").str("path_challenge").key("data").hex(qlog_bytes(r), 8);
      break;
    case QlogFrame::kPathResponse:
      j.key("frame_type").str("path_response").key("data").hex(qlog_bytes(r), 8);
      break;
    case QlogFrame::kConnectionClose:
      j.key("frame_type").str("connection_close");
      j.key("error_space").str(r.b ? "application" : "transport");
      j.key("error_code").u(r.u[0]);
      if (!r.b) j.key("trigger_frame_type").u(r.u[1]);
      j.key("reason").text(qlog_bytes(r) + 24, std::min<std::uint64_t>(r.u[2], 24));
      break;
    case QlogFrame::kHandshakeDone:
      j.key("frame_type").str("handshake_done");
      break;
    case QlogFrame::kDatagram:
      j.key("frame_type").str("datagram").key("raw").open().key("payload_length").u(r.u[0]).close();
      break;
  }
  j.close();
}

// The writer is no lcore. Started from the main lcore's thread it would
// inherit that lcore's CPU and take its time from the worker there: it runs
// on the CPUs no lcore uses instead or, when the lcores take them all, on
// every CPU, for the scheduler to share out.
void leave_lcore_cpus() {
  cpu_set_t all;
  CPU_ZERO(&all);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < cpus && c < CPU_SETSIZE; ++c)
    CPU_SET(static_cast<int>(c), &all);
  cpu_set_t spare = all;
  unsigned lcore = 0;
  RTE_LCORE_FOREACH(lcore) {
    const rte_cpuset_t used = rte_lcore_cpuset(lcore);
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &used)) CPU_CLR(c, &spare);
  }
  const cpu_set_t& set = CPU_COUNT(&spare) != 0 ? spare : all;
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

std::string wall_clock_text(std::int64_t ns) {
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char b[64];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((ns / 1'000'000) % 1000));
  return b;
}

}  // namespace

struct QlogWriter::Trace {
  std::FILE* file = nullptr;
  std::unique_ptr<char[]> buffer;
  EndpointRole role = EndpointRole::kClient;
  Time t0 = 0;
  Time last = 0;
  int phase = -1;  // the congestion phase last written
  bool have_rx = false;
  QlogRecord rx;                   // packet_received held open
  std::vector<QlogRecord> frames;  // its frames' records
  std::vector<QlogRecord> held;    // events after it, in order (whole groups)
  // packets_acked records of one ACK (same space and time), written as one
  // event before the next other one.
  std::vector<std::uint64_t> acked;
  std::uint8_t acked_space = 0;
  Time acked_time = 0;
};

QlogWriter::QlogWriter(std::string directory, std::vector<QlogRecorder*> recorders,
                       Duration poll_interval)
    : directory_(std::move(directory)), poll_(poll_interval) {
  for (QlogRecorder* r : recorders)
    sources_.push_back(Source{r, {}});
  out_.reserve(8192);
}

QlogWriter::~QlogWriter() {
  stop();
}

bool QlogWriter::directory_writable(const std::string& directory) {
  struct stat st {};
  return !directory.empty() && ::stat(directory.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
         ::access(directory.c_str(), W_OK | X_OK) == 0;
}

void QlogWriter::start() {
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] {
    leave_lcore_cpus();
    run();
  });
}

void QlogWriter::run() {
  // Sleeps between passes unless the rings are filling (then it keeps up
  // rather than letting them drop).
  while (!stop_.load(std::memory_order_acquire))
    if (drain_pass() < kBusyRecords) std::this_thread::sleep_for(std::chrono::nanoseconds(poll_));
}

void QlogWriter::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  drain();  // the producers stopped: everything left
  for (Source& s : sources_) {
    for (auto& [serial, t] : s.traces)
      close_trace(*t);
    s.traces.clear();
  }
}

void QlogWriter::drain() {
  while (drain_pass() != 0) {
  }
}

std::size_t QlogWriter::drain_pass() {
  std::size_t n = 0;
  for (Source& s : sources_)
    n += drain_one(s);
  return n;
}

std::size_t QlogWriter::drain_one(Source& s) {
  QlogRing& ring = s.recorder->ring();
  const std::uint64_t start = ring.read_position();
  std::uint64_t pos = start;
  const std::uint64_t end = ring.available();
  if (pos == end) return 0;
  std::array<QlogRecord, kMaxGroup> g;
  while (pos < end) {
    const std::size_t n = 1 + std::size_t{ring.at(pos).extra};
    if (n > g.size() || pos + n > end) {  // cannot happen: skip the record
      ++pos;
      continue;
    }
    for (std::size_t i = 0; i < n; ++i)
      g[i] = ring.at(pos + i);
    pos += n;
    handle(s, g.data(), n);
  }
  ring.release(pos);
  return static_cast<std::size_t>(pos - start);
}

void QlogWriter::handle(Source& s, const QlogRecord* g, std::size_t n) {
  const QlogRecord& h = g[0];
  if (h.type == QlogEventType::kConnectionStarted) return open_trace(s, g);
  auto it = s.traces.find(h.conn);
  if (it == s.traces.end()) return;  // its start was dropped, or its file failed
  Trace& t = *it->second;
  switch (h.type) {
    case QlogEventType::kPacketReceived:
      flush_pending(t);
      t.have_rx = true;
      t.rx = h;
      return;
    case QlogEventType::kFrameReceived:
      if (t.have_rx && t.frames.size() + n <= kMaxHeldRecords)
        t.frames.insert(t.frames.end(), g, g + n);
      return;
    case QlogEventType::kPacketSent:
      flush_pending(t);
      emit(t, g, n);
      return;
    default:
      break;
  }
  if (t.have_rx && t.held.size() + n <= kMaxHeldRecords) {
    t.held.insert(t.held.end(), g, g + n);
  } else {
    flush_pending(t);
    emit(t, g, n);
  }
  if (h.type == QlogEventType::kStateUpdated &&
      static_cast<ConnectionState>(h.b) == ConnectionState::kClosed) {
    close_trace(t);
    s.traces.erase(it);
  }
}

void QlogWriter::open_trace(Source& s, const QlogRecord* g) {
  const QlogRecord& h = g[0];
  auto t = std::make_unique<Trace>();
  t->role = static_cast<EndpointRole>(h.a);
  t->t0 = h.time;
  t->last = h.time;
  const std::uint8_t* ids = qlog_bytes(g[1]);
  out_.clear();
  Json name(out_);
  cid(name, ids);  // "hex"
  const std::string odcid = out_.substr(1, out_.size() - 2);
  const bool server = t->role == EndpointRole::kServer;
  const std::string path = directory_ + "/" + (odcid.empty() ? std::string("empty") : odcid) +
                           (server ? "_server.sqlog" : "_client.sqlog");
  t->file = std::fopen(path.c_str(), "w");
  if (t->file == nullptr) {
    open_failures_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  files_opened_.fetch_add(1, std::memory_order_relaxed);
  t->buffer = std::make_unique<char[]>(kFileBuffer);
  std::setvbuf(t->file, t->buffer.get(), _IOFBF, kFileBuffer);
  const QlogRecorder& rec = *s.recorder;
  const std::int64_t wall = rec.wall_ns_at_origin() + (h.time - rec.time_origin());

  // main-schema-14 §5: the QlogFileSeq header, then one record per event.
  out_.clear();
  out_ += '\x1e';
  Json j(out_);
  j.open()
      .key("file_schema")
      .str("urn:ietf:params:qlog:file:sequential")
      .key("serialization_format")
      .str("application/qlog+json-seq")
      .key("title")
      .str("dquic");
  j.key("trace").open().key("common_fields").open().key("group_id").str(odcid.c_str());
  j.key("time_format").str("relative_to_epoch");
  j.key("reference_time")
      .open()
      .key("clock_type")
      .str("monotonic")
      .key("epoch")
      .str("unknown")
      .key("wall_clock_time")
      .str(wall_clock_text(wall).c_str())
      .close();
  j.close();
  j.key("vantage_point")
      .open()
      .key("name")
      .str("dquic")
      .key("type")
      .str(server ? "server" : "client");
  j.close();
  j.key("event_schemas").raw(kEventSchemas).close().close();
  out_ += '\n';
  std::fwrite(out_.data(), 1, out_.size(), t->file);
  Trace& tr = *t;
  s.traces[h.conn] = std::move(t);
  emit(tr, g, 4);
}

void QlogWriter::close_trace(Trace& t) {
  if (t.file == nullptr) return;
  flush_pending(t);
  flush_acked(t);
  std::fclose(t.file);
  t.file = nullptr;
}

void QlogWriter::flush_pending(Trace& t) {
  if (!t.have_rx) return;
  t.have_rx = false;
  emit_packet(t, "quic:packet_received", &t.rx, 1, &t.frames);
  t.frames.clear();
  for (std::size_t i = 0; i < t.held.size();) {
    const std::size_t n = 1 + std::size_t{t.held[i].extra};
    emit(t, &t.held[i], std::min(n, t.held.size() - i));
    i += n;
  }
  t.held.clear();
}

void QlogWriter::flush_acked(Trace& t) {
  if (t.acked.empty()) return;
  begin_event(t, t.acked_time, "quic:packets_acked");
  Json d(out_);
  d.open().key("packet_number_space").str(space_name(t.acked_space)).key("packet_numbers");
  d.open_array();
  for (const std::uint64_t pn : t.acked)
    d.item().u(pn);
  d.close_array().close();
  t.acked.clear();
  end_event(t);
}

void QlogWriter::begin_event(Trace& t, Time time, const char* name) {
  // Events are written in the order the connection reported them; its
  // clock does not go back, so this only absorbs stragglers.
  t.last = std::max(t.last, time);
  out_.clear();
  out_ += '\x1e';
  Json j(out_);
  j.open().key("time").ms(t.last - t.t0).key("name").str(name).key("data");
}

void QlogWriter::end_event(Trace& t) {
  out_ += "}\n";
  if (t.file != nullptr) std::fwrite(out_.data(), 1, out_.size(), t.file);
  events_.fetch_add(1, std::memory_order_relaxed);
}

void QlogWriter::emit_packet(Trace& t, const char* name, const QlogRecord* g, std::size_t n,
                             const std::vector<QlogRecord>* received_frames) {
  const QlogRecord& h = g[0];
  flush_acked(t);
  begin_event(t, h.time, name);
  Json j(out_);
  j.open().key("header").open().key("packet_type").str(packet_type(h.a));
  j.key("packet_number").u(h.u[0]).close();
  // Sent: the bytes the packet took in its datagram; received: its
  // decrypted payload (the connection sees no more).
  j.key("raw").open().key(received_frames != nullptr ? "payload_length" : "length").u(h.u[1]);
  j.close();
  if (h.b & 2) j.key("is_mtu_probe_packet").b(true);
  j.key("frames").open_array();
  if (received_frames != nullptr) {
    const std::vector<QlogRecord>& f = *received_frames;
    for (std::size_t i = 0; i < f.size();) {
      const std::size_t m = std::min(1 + std::size_t{f[i].extra}, f.size() - i);
      received_frame(j, &f[i], m);
      i += m;
    }
  } else {
    for (std::size_t i = 1; i < n; ++i)
      sent_frame(j, g[i]);
  }
  j.close_array().close();
  end_event(t);
}

void QlogWriter::emit(Trace& t, const QlogRecord* g, std::size_t n) {
  const QlogRecord& h = g[0];
  if (h.type == QlogEventType::kPacketsAcked) {
    if (!t.acked.empty() && (t.acked_space != h.a || t.acked_time != h.time)) flush_acked(t);
    t.acked_space = h.a;
    t.acked_time = h.time;
    t.acked.insert(t.acked.end(), h.u.begin(), h.u.begin() + std::min<std::size_t>(h.b, 6));
    return;
  }
  flush_acked(t);
  Json j(out_);
  switch (h.type) {
    case QlogEventType::kConnectionStarted: {
      if (n < 4) return;
      begin_event(t, h.time, "quic:connection_started");
      Json d(out_);
      const std::uint8_t* ids = qlog_bytes(g[1]);
      const std::uint8_t* path = qlog_bytes(g[3]);
      d.open().key("local");
      endpoint(d, path, ids + kQlogCidBytes);
      d.key("remote");
      endpoint(d, path + kQlogAddressBytes, qlog_bytes(g[2]));
      d.key("version").u(h.u[0]).close();
      end_event(t);
      return;
    }
    case QlogEventType::kParametersSet: {
      if (n < 3) return;
      begin_event(t, h.time, "quic:parameters_set");
      Json d(out_);
      d.open().key("initiator").str(h.a ? "local" : "remote");
      const std::uint8_t* ids = qlog_bytes(g[2]);
      if (ids[0] != 0xff) {
        d.key("original_destination_connection_id");
        cid(d, ids);
      }
      if (ids[kQlogCidBytes] != 0xff) {
        d.key("initial_source_connection_id");
        cid(d, ids + kQlogCidBytes);
      }
      d.key("disable_active_migration").b(h.b & 1);
      d.key("max_idle_timeout").u(h.u[0]).key("max_udp_payload_size").u(h.u[1]);
      d.key("initial_max_data").u(h.u[2]).key("initial_max_stream_data_bidi_local").u(h.u[3]);
      d.key("initial_max_stream_data_bidi_remote").u(h.u[4]);
      d.key("initial_max_stream_data_uni").u(h.u[5]);
      const QlogRecord& e = g[1];
      d.key("initial_max_streams_bidi").u(e.u[0]).key("initial_max_streams_uni").u(e.u[1]);
      d.key("ack_delay_exponent").u(e.u[2]).key("max_ack_delay").u(e.u[3]);
      d.key("active_connection_id_limit").u(e.u[4]).key("max_datagram_frame_size").u(e.u[5]);
      if (h.b & 2) d.key("grease_quic_bit").b(true);
      d.close();
      end_event(t);
      return;
    }
    case QlogEventType::kPacketSent:
      return emit_packet(t, "quic:packet_sent", g, n, nullptr);
    case QlogEventType::kPacketLost: {
      begin_event(t, h.time, "quic:packet_lost");
      Json d(out_);
      d.open().key("header").open().key("packet_type").str(packet_type(h.a));
      d.key("packet_number").u(h.u[0]).close();
      if (h.b & 2) d.key("is_mtu_probe_packet").b(true);
      d.key("frames").open_array();
      for (std::size_t i = 1; i < n; ++i)
        sent_frame(d, g[i]);
      d.close_array().close();
      end_event(t);
      return;
    }
    case QlogEventType::kMetrics: {
      begin_event(t, h.time, "quic:recovery_metrics_updated");
      Json d(out_);
      d.open().key("min_rtt").ms(static_cast<Duration>(h.u[1]));
      d.key("smoothed_rtt").ms(static_cast<Duration>(h.u[0]));
      d.key("latest_rtt").ms(static_cast<Duration>(h.u[2]));
      d.key("rtt_variance").ms(static_cast<Duration>(h.u[3]));
      d.key("congestion_window").u(h.u[4]).key("bytes_in_flight").u(h.u[5]);
      if (n > 1) d.key("pacing_rate").u(g[1].u[0] * 8).key("pto_count").u(g[1].u[1]);
      d.close();
      end_event(t);
      if (t.phase != h.a) {  // quic-events-13 §7.3
        begin_event(t, h.time, "quic:congestion_state_updated");
        Json c(out_);
        c.open();
        if (t.phase >= 0) c.key("old").str(phase_name(static_cast<std::uint8_t>(t.phase)));
        c.key("new").str(phase_name(h.a)).close();
        end_event(t);
        t.phase = h.a;
      }
      return;
    }
    case QlogEventType::kStateUpdated:
      begin_event(t, h.time, "quic:connection_state_updated");
      j.open().key("old").str(state_name(h.a)).key("new").str(state_name(h.b)).close();
      end_event(t);
      return;
    case QlogEventType::kKeyUpdated: {
      // Write keys are ours, read keys the peer's (quic-events-13 §8.11).
      const bool write = h.b & 1;
      const bool ours_server = t.role == EndpointRole::kServer;
      const bool server_key = write ? ours_server : !ours_server;
      char type[40];
      std::snprintf(type, sizeof type, "%s_%s_secret", server_key ? "server" : "client",
                    key_space(h.a));
      begin_event(t, h.time, "quic:key_updated");
      j.open().key("key_type").str(type);
      if (static_cast<PacketSpace>(h.a) == PacketSpace::kApplication) j.key("key_phase").u(h.u[0]);
      j.key("trigger").str((h.b & 4) ? "tls" : (h.b & 2) ? "local_update" : "remote_update");
      j.close();
      end_event(t);
      return;
    }
    case QlogEventType::kKeyDiscarded:
      for (const char* side : {"client", "server"}) {
        char type[40];
        std::snprintf(type, sizeof type, "%s_%s_secret", side, key_space(h.a));
        begin_event(t, h.time, "quic:key_discarded");
        Json d(out_);
        d.open().key("key_type").str(type).key("trigger").str("tls").close();
        end_event(t);
      }
      return;
    case QlogEventType::kPath: {
      begin_event(t, h.time, "quic:migration_state_updated");
      const std::uint8_t* path = qlog_bytes(h);
      j.open().key("new").str(migration_name(h.a)).key("tuple_local");
      endpoint(j, path, nullptr);
      j.key("tuple_remote");
      endpoint(j, path + kQlogAddressBytes, nullptr);
      j.close();
      end_event(t);
      return;
    }
    case QlogEventType::kHttp3Frame: {
      begin_event(t, h.time, h.a ? "http3:frame_created" : "http3:frame_parsed");
      const char* fname = h3_frame_name(h.u[1]);
      j.open().key("stream_id").u(h.u[0]).key("frame").open().key("frame_type").str(fname);
      if (std::strcmp(fname, "headers") == 0) j.key("headers").raw("[]");
      if (std::strcmp(fname, "settings") == 0) j.key("settings").raw("[]");
      if (std::strcmp(fname, "reserved") == 0 || std::strcmp(fname, "unknown") == 0)
        j.key("frame_type_bytes").u(h.u[1]);
      j.key("raw").open().key("payload_length").u(h.u[2]).close();
      j.close().close();
      end_event(t);
      return;
    }
    case QlogEventType::kEventsLost: {
      begin_event(t, h.time, "loglevel:warning");
      char msg[96];
      std::snprintf(msg, sizeof msg, "%" PRIu64 " events dropped: the recorder's ring was full",
                    h.u[0]);
      j.open().key("code").u(h.u[0]).key("message").str(msg).close();
      end_event(t);
      return;
    }
    default:
      return;
  }
}

}  // namespace dquic

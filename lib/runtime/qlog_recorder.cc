#include "runtime/qlog_recorder.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <type_traits>
#include <variant>

#include "quic/connection.h"

namespace dquic {

namespace {

void put_cid(std::uint8_t* at, const ConnectionId& c) {
  at[0] = c.length;
  std::memcpy(at + 1, c.bytes.data(), c.bytes.size());
}

void put_address(std::uint8_t* at, const PeerAddress& a) {
  at[0] = static_cast<std::uint8_t>(a.family);
  std::memcpy(at + 1, a.address.data(), a.address.size());
  std::memcpy(at + 17, &a.port, sizeof a.port);
}

void put_path(QlogRecord& r, const NetworkPath& p) {
  put_address(qlog_bytes(r), p.local);
  put_address(qlog_bytes(r) + kQlogAddressBytes, p.peer);
}

}  // namespace

// One connection's observer: writes its events to the worker's ring.
class QlogConnection final : public ConnectionObserver {
 public:
  explicit QlogConnection(QlogRecorder& rec) : rec_(rec) {}

  void reset(std::uint32_t serial) {
    serial_ = serial;
    started_ = closed_ = false;
    acked_count_ = 0;
    lost_events_ = 0;
    ack_delay_exponent_ = 3;
  }
  bool reusable() const { return closed_ || !started_; }

  void on_connection_started(const ConnectionStartInfo& info, Time now) override {
    started_ = true;
    if (!begin(3)) return;
    QlogRecord& h = head(QlogEventType::kConnectionStarted, now, 3);
    h.a = static_cast<std::uint8_t>(info.role);
    h.u[0] = info.version;
    QlogRecord& ids = extra(1);
    put_cid(qlog_bytes(ids), info.original_dcid);
    put_cid(qlog_bytes(ids) + kQlogCidBytes, info.local_cid);
    put_cid(qlog_bytes(extra(2)), info.peer_cid);
    put_path(extra(3), info.path);
    commit(3);
  }

  void on_parameters_set(bool local, const TransportParameters& tp, Time now) override {
    if (!local)
      ack_delay_exponent_ =
          static_cast<std::uint8_t>(std::min<std::uint64_t>(tp.ack_delay_exponent, 20));
    if (!begin(2)) return;
    QlogRecord& h = head(QlogEventType::kParametersSet, now, 2);
    h.a = local;
    h.b = static_cast<std::uint8_t>((tp.disable_active_migration ? 1 : 0) |
                                    (tp.grease_quic_bit ? 2 : 0));
    h.u = {tp.max_idle_timeout,
           tp.max_udp_payload_size,
           tp.initial_max_data,
           tp.initial_max_stream_data_bidi_local,
           tp.initial_max_stream_data_bidi_remote,
           tp.initial_max_stream_data_uni};
    extra(1).u = {tp.initial_max_streams_bidi,   tp.initial_max_streams_uni,
                  tp.ack_delay_exponent,         tp.max_ack_delay,
                  tp.active_connection_id_limit, tp.max_datagram_frame_size};
    std::uint8_t* ids = qlog_bytes(extra(2));
    ids[0] = ids[kQlogCidBytes] = 0xff;  // absent
    if (tp.original_destination_connection_id) put_cid(ids, *tp.original_destination_connection_id);
    if (tp.initial_source_connection_id)
      put_cid(ids + kQlogCidBytes, *tp.initial_source_connection_id);
    commit(2);
  }

  void on_packet_sent(const SentPacket& p, Time now) override {
    packet(QlogEventType::kPacketSent, p, now);
  }
  void on_packet_lost(const SentPacket& p, Time now) override {
    packet(QlogEventType::kPacketLost, p, now);
  }

  void on_packet_received(PacketSpace s, std::uint64_t pn, std::size_t bytes, Time now) override {
    if (!begin(0)) return;
    QlogRecord& h = head(QlogEventType::kPacketReceived, now, 0);
    h.a = static_cast<std::uint8_t>(s);
    h.u[0] = pn;
    h.u[1] = bytes;
    commit(0);
  }

  void on_frame_received(const Frame& f, Time now) override {
    if (const auto* ack = std::get_if<AckFrame>(&f)) return ack_frame(*ack, now);
    if (!begin(0)) return;
    QlogRecord& h = head(QlogEventType::kFrameReceived, now, 0);
    std::visit([&h](const auto& v) { fill_frame(h, v); }, f);
    commit(0);
  }

  void on_packet_acked(const SentPacket& p, Time now) override {
    const auto s = static_cast<std::uint8_t>(p.space);
    if (acked_count_ != 0 && (acked_count_ == acked_.size() || acked_space_ != s)) flush_acked();
    if (acked_count_ == 0) {
      acked_space_ = s;
      acked_time_ = now;
    }
    acked_[acked_count_++] = p.packet_number;
  }

  void on_metrics(const RecoveryMetrics& m, Time now) override {
    if (!begin(1)) return;
    QlogRecord& h = head(QlogEventType::kMetrics, now, 1);
    h.a = static_cast<std::uint8_t>(m.phase);
    h.u = {static_cast<std::uint64_t>(m.smoothed_rtt),
           static_cast<std::uint64_t>(m.min_rtt),
           static_cast<std::uint64_t>(m.latest_rtt),
           static_cast<std::uint64_t>(m.rttvar),
           m.congestion_window,
           m.bytes_in_flight};
    extra(1).u[0] = m.pacing_rate;
    extra(1).u[1] = static_cast<std::uint64_t>(m.pto_count);
    commit(1);
  }

  void on_state_changed(ConnectionState from, ConnectionState to, Time now) override {
    if (begin(0)) {
      QlogRecord& h = head(QlogEventType::kStateUpdated, now, 0);
      h.a = static_cast<std::uint8_t>(from);
      h.b = static_cast<std::uint8_t>(to);
      commit(0);
    }
    // The connection reports nothing after kClosed (its last event).
    if (to == ConnectionState::kClosed) closed_ = true;
  }

  void on_keys_installed(PacketSpace s, bool write, Time now) override {
    key(s, static_cast<std::uint8_t>((write ? 1 : 0) | 4), 0, now);
  }
  void on_key_update(bool write, bool local, std::uint64_t phase, Time now) override {
    key(PacketSpace::kApplication, static_cast<std::uint8_t>((write ? 1 : 0) | (local ? 2 : 0)),
        phase, now);
  }
  void on_keys_discarded(PacketSpace s, Time now) override {
    if (!begin(0)) return;
    head(QlogEventType::kKeyDiscarded, now, 0).a = static_cast<std::uint8_t>(s);
    commit(0);
  }

  void on_path_event(PathEvent e, const NetworkPath& path, Time now) override {
    if (!begin(0)) return;
    QlogRecord& h = head(QlogEventType::kPath, now, 0);
    h.a = static_cast<std::uint8_t>(e);
    put_path(h, path);
    commit(0);
  }

  void on_http3_frame(bool created, std::uint64_t stream_id, std::uint64_t frame_type,
                      std::uint64_t length, Time now) override {
    if (!begin(0)) return;
    QlogRecord& h = head(QlogEventType::kHttp3Frame, now, 0);
    h.a = created;
    h.u[0] = stream_id;
    h.u[1] = frame_type;
    h.u[2] = length;
    commit(0);
  }

 private:
  // Reserves the event's records (after flushing the pending ACK batch and
  // noting earlier drops); false: dropped and counted.
  bool begin(std::size_t extras) {
    if (acked_count_ != 0) flush_acked();
    return reserve(extras);
  }
  bool reserve(std::size_t extras) {
    QlogRing& ring = rec_.ring_;
    const std::size_t marker = lost_events_ != 0 ? 1 : 0;
    if (!ring.reserve(1 + extras + marker)) {
      ++lost_events_;
      rec_.count_drop();
      return false;
    }
    if (marker != 0) {
      QlogRecord& m = ring.slot(0);
      m = QlogRecord{};
      m.conn = serial_;
      m.type = QlogEventType::kEventsLost;
      m.time = last_time_;
      m.u[0] = lost_events_;
      ring.commit(1);
      lost_events_ = 0;
    }
    return true;
  }
  QlogRecord& head(QlogEventType t, Time now, std::size_t extras) {
    QlogRecord& h = rec_.ring_.slot(0);
    h = QlogRecord{};
    h.conn = serial_;
    h.type = t;
    h.time = now;
    h.extra = static_cast<std::uint8_t>(extras);
    last_time_ = now;
    for (std::size_t i = 1; i <= extras; ++i) {
      QlogRecord& e = rec_.ring_.slot(i);
      e = QlogRecord{};
      e.conn = serial_;
      e.type = QlogEventType::kExtra;
    }
    return h;
  }
  QlogRecord& extra(std::size_t i) { return rec_.ring_.slot(i); }
  void commit(std::size_t extras) { rec_.ring_.commit(1 + extras); }

  void packet(QlogEventType t, const SentPacket& p, Time now) {
    const std::size_t n = p.frame_count;
    if (!begin(n)) return;
    QlogRecord& h = head(t, now, n);
    h.a = static_cast<std::uint8_t>(p.space);
    h.b = static_cast<std::uint8_t>((p.ack_eliciting ? 1 : 0) | (p.is_pmtu_probe ? 2 : 0));
    h.u[0] = p.packet_number;
    h.u[1] = p.sent_bytes;
    for (std::size_t i = 0; i < n; ++i) {
      QlogRecord& r = extra(1 + i);
      const SentFrame& f = p.frames[i];
      r.type = QlogEventType::kFrame;
      r.a = static_cast<std::uint8_t>(f.kind);
      r.b = f.fin;
      r.u[0] = f.stream_id;
      r.u[1] = f.offset;
      r.u[2] = f.length;
    }
    commit(n);
  }

  void flush_acked() {
    const std::size_t n = acked_count_;
    acked_count_ = 0;
    if (!reserve(0)) return;
    QlogRecord& h = head(QlogEventType::kPacketsAcked, acked_time_, 0);
    h.a = acked_space_;
    h.b = static_cast<std::uint8_t>(n);
    std::copy_n(acked_.begin(), n, h.u.begin());
    commit(0);
  }

  void key(PacketSpace s, std::uint8_t flags, std::uint64_t phase, Time now) {
    if (!begin(0)) return;
    QlogRecord& h = head(QlogEventType::kKeyUpdated, now, 0);
    h.a = static_cast<std::uint8_t>(s);
    h.b = flags;
    h.u[0] = phase;
    commit(0);
  }

  void ack_frame(const AckFrame& f, Time now) {
    const std::size_t ranges =
        static_cast<std::size_t>(std::min<std::uint64_t>(f.range_total(), kQlogMaxAckRanges));
    const std::size_t extras = (ranges > 2 ? (ranges - 2 + 2) / 3 : 0) + (f.has_ecn ? 1 : 0);
    if (!begin(extras)) return;
    QlogRecord& h = head(QlogEventType::kFrameReceived, now, extras);
    h.a = static_cast<std::uint8_t>(QlogFrame::kAck);
    h.b = f.has_ecn;
    // RFC 9000 §19.3: microseconds scaled by the peer's exponent.
    h.u[0] = f.ack_delay << ack_delay_exponent_;
    h.u[1] = ranges;
    std::size_t i = 0;
    for (const AckRange& r : f) {
      if (i == ranges) break;
      // Slot k of the event's range list: head holds 0-1, extra j holds 3 each.
      QlogRecord& at = i < 2 ? h : extra(1 + (i - 2) / 3);
      const std::size_t k = i < 2 ? 2 + 2 * i : 2 * ((i - 2) % 3);
      at.u[k] = r.smallest;
      at.u[k + 1] = r.largest;
      ++i;
    }
    if (f.has_ecn) extra(extras).u = {f.ecn.ect0, f.ecn.ect1, f.ecn.ce, 0, 0, 0};
    commit(extras);
  }

  template <typename T>
  static void fill_frame(QlogRecord& h, const T& v) {
    auto kind = [&h](QlogFrame k) { h.a = static_cast<std::uint8_t>(k); };
    if constexpr (std::is_same_v<T, PaddingFrame>) {
      kind(QlogFrame::kPadding);
      h.u[0] = v.length;
    } else if constexpr (std::is_same_v<T, PingFrame>) {
      kind(QlogFrame::kPing);
    } else if constexpr (std::is_same_v<T, AckFrame>) {
      kind(QlogFrame::kAck);  // handled by ack_frame
    } else if constexpr (std::is_same_v<T, ResetStreamFrame>) {
      kind(QlogFrame::kResetStream);
      h.u[0] = v.stream_id;
      h.u[1] = v.error_code;
      h.u[2] = v.final_size;
    } else if constexpr (std::is_same_v<T, StopSendingFrame>) {
      kind(QlogFrame::kStopSending);
      h.u[0] = v.stream_id;
      h.u[1] = v.error_code;
    } else if constexpr (std::is_same_v<T, CryptoFrame>) {
      kind(QlogFrame::kCrypto);
      h.u[0] = v.offset;
      h.u[1] = v.data.size();
    } else if constexpr (std::is_same_v<T, NewTokenFrame>) {
      kind(QlogFrame::kNewToken);
      h.u[0] = v.token.size();
    } else if constexpr (std::is_same_v<T, StreamFrame>) {
      kind(QlogFrame::kStream);
      h.b = v.fin;
      h.u[0] = v.stream_id;
      h.u[1] = v.offset;
      h.u[2] = v.data.size();
    } else if constexpr (std::is_same_v<T, MaxDataFrame>) {
      kind(QlogFrame::kMaxData);
      h.u[0] = v.maximum_data;
    } else if constexpr (std::is_same_v<T, MaxStreamDataFrame>) {
      kind(QlogFrame::kMaxStreamData);
      h.u[0] = v.stream_id;
      h.u[1] = v.maximum_stream_data;
    } else if constexpr (std::is_same_v<T, MaxStreamsFrame>) {
      kind(QlogFrame::kMaxStreams);
      h.b = v.bidirectional;
      h.u[0] = v.maximum_streams;
    } else if constexpr (std::is_same_v<T, DataBlockedFrame>) {
      kind(QlogFrame::kDataBlocked);
      h.u[0] = v.maximum_data;
    } else if constexpr (std::is_same_v<T, StreamDataBlockedFrame>) {
      kind(QlogFrame::kStreamDataBlocked);
      h.u[0] = v.stream_id;
      h.u[1] = v.maximum_stream_data;
    } else if constexpr (std::is_same_v<T, StreamsBlockedFrame>) {
      kind(QlogFrame::kStreamsBlocked);
      h.b = v.bidirectional;
      h.u[0] = v.maximum_streams;
    } else if constexpr (std::is_same_v<T, NewConnectionIdFrame>) {
      kind(QlogFrame::kNewConnectionId);
      const std::size_t n = std::min<std::size_t>(v.connection_id.size(), kMaxConnectionIdLength);
      h.b = static_cast<std::uint8_t>(n);
      h.u[0] = v.sequence_number;
      h.u[1] = v.retire_prior_to;
      std::memcpy(qlog_bytes(h) + 16, v.connection_id.data(), n);
    } else if constexpr (std::is_same_v<T, RetireConnectionIdFrame>) {
      kind(QlogFrame::kRetireConnectionId);
      h.u[0] = v.sequence_number;
    } else if constexpr (std::is_same_v<T, PathChallengeFrame>) {
      kind(QlogFrame::kPathChallenge);
      std::memcpy(qlog_bytes(h), v.data.data(), v.data.size());
    } else if constexpr (std::is_same_v<T, PathResponseFrame>) {
      kind(QlogFrame::kPathResponse);
      std::memcpy(qlog_bytes(h), v.data.data(), v.data.size());
    } else if constexpr (std::is_same_v<T, ConnectionCloseFrame>) {
      kind(QlogFrame::kConnectionClose);
      h.b = v.application;
      h.u[0] = v.error_code;
      h.u[1] = v.frame_type;
      h.u[2] = v.reason.size();
      std::memcpy(qlog_bytes(h) + 24, v.reason.data(), std::min<std::size_t>(v.reason.size(), 24));
    } else if constexpr (std::is_same_v<T, HandshakeDoneFrame>) {
      kind(QlogFrame::kHandshakeDone);
    } else if constexpr (std::is_same_v<T, DatagramFrame>) {
      kind(QlogFrame::kDatagram);
      h.u[0] = v.data.size();
    } else {
      static_assert(!sizeof(T), "a frame type without a qlog record");
    }
  }

  QlogRecorder& rec_;
  std::uint32_t serial_ = 0;
  bool started_ = false;
  bool closed_ = false;
  std::uint8_t ack_delay_exponent_ = 3;
  std::uint8_t acked_space_ = 0;
  std::size_t acked_count_ = 0;
  std::array<std::uint64_t, 6> acked_{};
  Time acked_time_ = 0;
  Time last_time_ = 0;
  std::uint64_t lost_events_ = 0;  // dropped since the last event recorded
};

QlogRecorder::QlogRecorder(std::size_t ring_records) : ring_(ring_records) {}

QlogRecorder::~QlogRecorder() = default;

ConnectionObserver* QlogRecorder::open() {
  if (free_.empty()) {
    all_.push_back(std::make_unique<QlogConnection>(*this));
    free_.push_back(all_.back().get());
  }
  QlogConnection* c = free_.back();
  free_.pop_back();
  c->reset(next_serial_++);
  return c;
}

void QlogRecorder::on_collected() {
  // Walks the observers (per collection, not per packet). In use: not in
  // free_ and not reusable.
  free_.clear();
  for (const std::unique_ptr<QlogConnection>& c : all_)
    if (c->reusable()) free_.push_back(c.get());
}

void QlogRecorder::set_time_origin(Time now) {
  origin_ = now;
  wall_origin_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
}

}  // namespace dquic

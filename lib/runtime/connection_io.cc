#include "runtime/connection_io.h"

#include <rte_eal.h>

#include <array>
#include <cstdint>

#include "offload/protector_key_store.h"
#include "quic/connection_id.h"
#include "quic/packet_header.h"
#include "quic/packet_number.h"

namespace dquic {
namespace {

// RFC 9000 §12.2: Retry and Version Negotiation packets are the endpoint's
// business, and packets of other versions do not belong to this connection.
bool connection_packet(const PacketHeader& h) {
  return h.has_packet_number() &&
         (h.type == PacketType::kOneRtt || is_supported_version(h.version));
}

ReceivedPacket received_from(const PacketHeader& h, rte_mbuf* m, Ecn ecn) {
  ReceivedPacket r;
  r.type = h.type;
  r.version = h.version;
  r.dcid = h.dcid;
  r.scid = h.scid;
  r.token = h.token;
  r.m = m;
  r.ecn = ecn;
  return r;
}

// RFC 9000 §17.2, §17.3.1: the reserved bits must be zero once header
// protection is removed. The connection would close with PROTOCOL_VIOLATION;
// ReceivedPacket cannot say so yet, so such a packet is dropped here.
bool reserved_bits_clear(std::uint8_t first_byte, bool long_header) {
  return (first_byte & reserved_bits_mask(long_header)) == 0;
}

// One datagram's walk: parsed packets waiting to be opened in order.
class DatagramReceiver {
 public:
  DatagramReceiver(Connection& c, offload::Protector* p, rte_mbuf* m, Ecn ecn, Time now)
      : c_(c),
        p_(p),
        m_(m),
        ecn_(ecn),
        now_(now),
        data_(rte_pktmbuf_mtod(m, std::uint8_t*)),
        size_(rte_pktmbuf_data_len(m)) {}

  void run() {
    CoalescedPackets it(ByteSpan(data_, size_), c_.local_cid().length);
    PacketHeader next;
    bool have = it.next(&next);
    while (have) {
      std::size_t n = 0;
      while (have && n < kMaxOpenBurst) {
        // RFC 9000 §17.2.5: a Retry takes the rest of the datagram and goes
        // to the connection whole (a client checks its integrity tag).
        if (next.type == PacketType::kRetry && same_bytes(next.dcid, c_.local_cid().span())) {
          c_.on_retry(ByteSpan(data_ + next.first_byte_offset, next.packet_size()), next.scid,
                      next.token, now_);
          have = it.next(&next);
          continue;
        }
        // RFC 9000 §12.2: a packet with another DCID than the first is not ours.
        if (!connection_packet(next) || !same_bytes(next.dcid, it.first_dcid())) {
          c_.on_undecryptable(now_);
          have = it.next(&next);
          continue;
        }
        const OpenKeys keys = c_.open_keys(next.type, next.version);
        if (keys.key == nullptr) {
          // Keys can appear while earlier packets of this datagram are
          // processed (Handshake keys after the Initial): flush, then retry.
          if (n > 0) break;
          c_.on_undecryptable(now_);
          have = it.next(&next);
          continue;
        }
        headers_[n] = next;
        keys_[n] = keys;
        ++n;
        have = it.next(&next);
      }
      if (n == 0) break;
      if (p_ != nullptr) {
        open_and_deliver(n);
      } else {
        deliver_plaintext(n);
      }
    }
    // Bytes that do not parse as a packet end the datagram and count as one
    // dropped packet (RFC 9000 §12.2).
    if (it.stop_reason() != PacketDropReason::kNone) c_.on_undecryptable(now_);
    // RFC 9000 §10.3.1: nothing in it opened: it may be a stateless reset.
    if (delivered_ == 0 && c_.is_stateless_reset(ByteSpan(data_, size_)))
      c_.on_stateless_reset(now_);
  }

 private:
  // Every job is opened before any packet is delivered: a key the connection
  // discards while processing one packet (RFC 9001 §4.9) is never used after.
  // Packets of one number space in a burst are decoded against the same
  // largest_received: they are a few numbers apart, well inside the
  // RFC 9000 §A.3 decoding window.
  void open_and_deliver(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const PacketHeader& h = headers_[i];
      offload::OpenJob& j = jobs_[i];
      j = offload::OpenJob{};
      j.m = m_;
      j.offset = static_cast<std::uint16_t>(h.first_byte_offset);
      j.pn_offset = static_cast<std::uint16_t>(h.pn_offset - h.first_byte_offset);
      j.packet_length = static_cast<std::uint16_t>(h.packet_size());
      j.long_header = h.is_long_header();
      j.largest_received = keys_[i].largest_received;
      j.key = offload::to_key_handle(keys_[i].key);
      j.next_phase = offload::to_key_handle(keys_[i].next);
      j.previous_phase = offload::to_key_handle(keys_[i].previous);
      j.phase_start = keys_[i].phase_start;
    }
    p_->open_burst({jobs_.data(), n});
    for (std::size_t i = 0; i < n; ++i) {
      const offload::OpenJob& j = jobs_[i];
      const PacketHeader& h = headers_[i];
      if (j.status != offload::OpenStatus::kOk) {
        // RFC 9001 §6.6: forged 1-RTT packets count toward the integrity limit.
        if (j.status == offload::OpenStatus::kAuthFailed && h.type == PacketType::kOneRtt)
          c_.on_authentication_failure(now_);
        else
          c_.on_undecryptable(now_);
        continue;
      }
      ReceivedPacket r = received_from(h, m_, ecn_);
      r.reserved_bits_set = !reserved_bits_clear(j.first_byte, h.is_long_header());
      r.packet_number = j.packet_number;
      r.key_phase = j.key_phase;
      r.payload = ByteSpan(data_ + j.offset + j.header_length, j.payload_length);
      deliver(r);
    }
  }

  // No crypto: the header is in the clear and the tag is not checked.
  void deliver_plaintext(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const PacketHeader& h = headers_[i];
      const std::uint8_t first = data_[h.first_byte_offset];
      const UnprotectedFirstByte fb = decode_unprotected_first_byte(first);
      const std::size_t header_end = h.pn_offset + fb.pn_length;
      if (header_end + kAeadTagLength > h.packet_end) {
        c_.on_undecryptable(now_);
        continue;
      }
      std::uint64_t truncated = 0;
      for (std::size_t b = 0; b < fb.pn_length; ++b)
        truncated = (truncated << 8) | data_[h.pn_offset + b];
      ReceivedPacket r = received_from(h, m_, ecn_);
      r.reserved_bits_set = !reserved_bits_clear(first, h.is_long_header());
      // Read now, not from keys_[i]: an earlier packet of this batch may be
      // in the same number space.
      r.packet_number =
          decode_packet_number(c_.open_keys(h.type).largest_received, truncated, fb.pn_length);
      r.key_phase = !h.is_long_header() && fb.key_phase;
      r.payload = ByteSpan(data_ + header_end, h.packet_end - header_end - kAeadTagLength);
      deliver(r);
    }
  }

  void deliver(ReceivedPacket& r) {
    ++delivered_;
    c_.on_packet(r, now_);
  }

  Connection& c_;
  offload::Protector* p_;
  rte_mbuf* m_;
  Ecn ecn_;
  Time now_;
  std::uint8_t* data_;
  std::size_t size_;
  std::size_t delivered_ = 0;  // packets handed to the connection
  std::array<PacketHeader, kMaxOpenBurst> headers_;
  std::array<OpenKeys, kMaxOpenBurst> keys_;
  std::array<offload::OpenJob, kMaxOpenBurst> jobs_;
};

// Segments one datagram's gather lists may need: each run, the packet
// bytes before it, and the bytes after the last run of each packet.
constexpr std::size_t kGatherSegments = 2 * kMaxGatheredRuns + 3;

// The plaintext source of each packet of `d` that has gathered runs: the
// frames already in the packet, interleaved with the runs, so the cipher
// reads the stream bytes where the application left them and writes the
// ciphertext into the packet. Packet bytes map onto themselves (in place).
void gather_lists(rte_mbuf* m, const OutgoingDatagram& d, std::span<offload::SealJob> jobs,
                  std::span<offload::ByteSegment> out) {
  // A device given IO addresses reads the run at its IOVA; in IOVA-as-VA
  // mode a run of unknown IOVA (external memory) is addressed by its VA.
  static const bool iova_is_va = rte_eal_iova_mode() == RTE_IOVA_VA;
  const auto* base = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const rte_iova_t base_iova = rte_pktmbuf_iova(m);
  auto packet_bytes = [&](std::size_t from, std::size_t to) {
    return offload::ByteSegment{base + from, base_iova + from,
                                static_cast<std::uint32_t>(to - from)};
  };
  std::size_t run = 0, used = 0;
  for (offload::SealJob& j : jobs) {
    const std::size_t start = j.offset + j.header_length;
    const std::size_t end = start + j.payload_length;
    if (run == d.gathered_count || d.gathered[run].offset >= end) continue;
    const std::size_t first = used;
    std::size_t at = start;
    for (; run < d.gathered_count && d.gathered[run].offset < end; ++run) {
      const GatheredBytes& g = d.gathered[run];
      if (g.offset > at) out[used++] = packet_bytes(at, g.offset);
      rte_iova_t iova = g.iova;
      if (iova == RTE_BAD_IOVA && iova_is_va) iova = reinterpret_cast<std::uintptr_t>(g.data);
      out[used++] = offload::ByteSegment{g.data, iova, g.length};
      at = g.offset + g.length;
    }
    if (at < end) out[used++] = packet_bytes(at, end);
    j.gather = out.subspan(first, used - first);
  }
}

}  // namespace

void receive_datagram(Connection& c, offload::Protector* p, rte_mbuf* m, Ecn ecn, Time now,
                      const NetworkPath& path) {
  // Chained mbufs are not reassembled here: packets are opened in place in
  // the first segment, and a datagram fits one segment (max_udp_payload_size
  // we advertise stays below the data room).
  if (m == nullptr) return;
  // RFC 9000 §8.1: every byte of a datagram attributed to the connection
  // counts toward the amplification limit, whether or not it opens.
  // RFC 9000 §9: the connection may refuse datagrams from an unknown path.
  if (!c.on_datagram_received(rte_pktmbuf_pkt_len(m), now, path)) return;
  if (m->nb_segs != 1 || rte_pktmbuf_data_len(m) == 0) {
    c.on_undecryptable(now);
    return;
  }
  DatagramReceiver(c, p, m, ecn, now).run();
}

std::size_t send_datagrams(Connection& c, offload::Protector* p, rte_mempool* pool, Time now,
                           std::span<rte_mbuf*> out, std::span<Ecn> ecn_out,
                           std::span<NetworkPath> path_out) {
  // Per thread, not per call: SealJob's member initializers would zero
  // 5 KB on every call, and every job used is assigned in full below
  // (send_datagrams is not reentrant: callbacks must not call it).
  static thread_local std::array<offload::SealJob, kMaxSealDatagrams * 3> jobs;
  // Gather lists: per datagram, each run and the packet bytes around it.
  static thread_local std::array<offload::ByteSegment, kMaxSealDatagrams * kGatherSegments>
      segments;
  std::array<std::uint8_t, kMaxSealDatagrams> job_count{};  // per datagram in the chunk
  // No-crypto mode has no sealer to read gathered bytes: copy them; so do
  // sealers for which the gather costs more than the copy.
  const std::size_t gather_runs = p != nullptr && p->gather_preferred() ? kMaxGatheredRuns : 0;
  bool gathered = false;
  std::size_t written = 0;  // datagrams kept in out[0..written)
  bool more = true;
  while (more && written < out.size()) {
    // One chunk: lay out up to kMaxSealDatagrams datagrams, then seal them.
    const std::size_t chunk_start = written;
    std::size_t chunk = 0, njobs = 0;
    while (chunk < kMaxSealDatagrams && chunk_start + chunk < out.size()) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) {
        more = false;
        break;
      }
      auto* buf = rte_pktmbuf_mtod(m, std::uint8_t*);
      OutgoingDatagram d;
      if (!c.write_datagram({buf, rte_pktmbuf_tailroom(m)}, now, &d, gather_runs)) {
        rte_pktmbuf_free(m);
        more = false;
        break;
      }
      m->data_len = static_cast<std::uint16_t>(d.length);
      m->pkt_len = static_cast<std::uint32_t>(d.length);
      for (std::uint8_t i = 0; i < d.packet_count; ++i) {
        const OutgoingPacket& op = d.packets[i];
        offload::SealJob& j = jobs[njobs + i];
        j = offload::SealJob{};
        j.m = m;
        j.offset = op.offset;
        j.header_length = op.header_length;
        j.pn_offset = op.pn_offset;
        j.pn_length = op.pn_length;
        j.payload_length = op.payload_length;
        j.packet_number = op.packet_number;
        j.key = offload::to_key_handle(op.key);
        j.ok = true;  // stays true in no-crypto mode
      }
      if (d.gathered_count > 0) {
        gather_lists(m, d, {&jobs[njobs], d.packet_count},
                     {&segments[chunk * kGatherSegments], kGatherSegments});
        gathered = true;
      }
      njobs += d.packet_count;
      job_count[chunk] = d.packet_count;
      out[chunk_start + chunk] = m;
      if (!ecn_out.empty()) ecn_out[chunk_start + chunk] = d.ecn;
      if (!path_out.empty()) path_out[chunk_start + chunk] = d.path;
      ++chunk;
    }
    if (p != nullptr && njobs > 0) p->seal_burst({jobs.data(), njobs});
    if (gathered) c.end_gather();  // the gathered bytes are read
    gathered = false;
    // Keep the datagrams whose every packet sealed, compacting out[].
    std::size_t job = 0;
    for (std::size_t i = 0; i < chunk; ++i) {
      bool ok = true;
      for (std::uint8_t k = 0; k < job_count[i]; ++k)
        ok = ok && jobs[job + k].ok;
      job += job_count[i];
      rte_mbuf* m = out[chunk_start + i];
      if (!ok) {
        rte_pktmbuf_free(m);
        continue;
      }
      if (!ecn_out.empty()) ecn_out[written] = ecn_out[chunk_start + i];
      if (!path_out.empty()) path_out[written] = path_out[chunk_start + i];
      out[written++] = m;
    }
  }
  return written;
}

}  // namespace dquic

#include "quic/transport_params.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "quic/buffer.h"
#include "quic/varint.h"

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Id = TransportParameterId;

constexpr auto kClient = EndpointRole::kClient;
constexpr auto kServer = EndpointRole::kServer;
constexpr auto kError = TransportError::kTransportParameterError;
constexpr auto kOk = TransportError::kNoError;

void append_varint(Bytes& b, std::uint64_t v) {
  std::array<std::uint8_t, 8> tmp{};
  const std::size_t n = varint_size(v);
  varint_write(tmp.data(), v, n);
  b.insert(b.end(), tmp.begin(), tmp.begin() + n);
}

// One (id, length, value) tuple, RFC 9000 §18 Figure 21.
Bytes tlv(std::uint64_t id, const Bytes& value) {
  Bytes b;
  append_varint(b, id);
  append_varint(b, value.size());
  b.insert(b.end(), value.begin(), value.end());
  return b;
}
Bytes tlv(Id id, const Bytes& value) {
  return tlv(static_cast<std::uint64_t>(id), value);
}

Bytes varint_bytes(std::uint64_t v) {
  Bytes b;
  append_varint(b, v);
  return b;
}
Bytes int_tlv(Id id, std::uint64_t v) {
  return tlv(id, varint_bytes(v));
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes filled(std::size_t n, std::uint8_t v) {
  return Bytes(n, v);
}

TransportError decode(const Bytes& b, EndpointRole sender, TransportParameters* p = nullptr) {
  TransportParameters tmp;
  return decode_transport_parameters(b, sender, p ? p : &tmp);
}

Bytes encode(const TransportParameters& p, EndpointRole sender,
             const GreaseTransportParameter* grease = nullptr) {
  std::array<std::uint8_t, 2048> buf{};
  Writer w(buf);
  EXPECT_TRUE(encode_transport_parameters(p, sender, w, grease));
  return Bytes(buf.begin(), buf.begin() + w.written());
}

ConnectionId cid(std::size_t len, std::uint8_t first) {
  ConnectionId c;
  c.length = static_cast<std::uint8_t>(len);
  for (std::size_t i = 0; i < len; ++i)
    c.bytes[i] = static_cast<std::uint8_t>(first + i);
  return c;
}

StatelessResetToken token(std::uint8_t first) {
  StatelessResetToken t;
  for (std::size_t i = 0; i < t.size(); ++i)
    t[i] = static_cast<std::uint8_t>(first + i);
  return t;
}

// Every parameter a client may send, none at its default.
TransportParameters full_client() {
  TransportParameters p;
  p.max_idle_timeout = 30000;
  p.max_udp_payload_size = 1472;
  p.initial_max_data = 1 << 20;
  p.initial_max_stream_data_bidi_local = 1 << 18;
  p.initial_max_stream_data_bidi_remote = 1 << 17;
  p.initial_max_stream_data_uni = 1 << 16;
  p.initial_max_streams_bidi = 100;
  p.initial_max_streams_uni = kMaxStreamsLimit;
  p.ack_delay_exponent = 20;
  p.max_ack_delay = (1 << 14) - 1;
  p.disable_active_migration = true;
  p.active_connection_id_limit = 8;
  p.initial_source_connection_id = cid(8, 0x10);
  p.max_datagram_frame_size = 65535;
  VersionInformation vi;
  vi.chosen_version = 0x00000001;
  vi.available_versions[0] = 0x6b3343cf;
  vi.available_versions[1] = 0x00000001;
  vi.available_versions[2] = 0x1a2a3a4a;
  vi.available_count = 3;
  p.version_information = vi;
  p.grease_quic_bit = true;
  return p;
}

TransportParameters full_server() {
  TransportParameters p = full_client();
  p.original_destination_connection_id = cid(20, 0x40);
  p.stateless_reset_token = token(0x80);
  PreferredAddress pa;
  pa.ipv4_address = {192, 0, 2, 1};
  pa.ipv4_port = 4433;
  pa.ipv6_address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  pa.ipv6_port = 443;
  pa.connection_id = cid(12, 0x60);
  pa.stateless_reset_token = token(0xa0);
  p.preferred_address = pa;
  p.retry_source_connection_id = cid(0, 0);  // zero length is valid and present
  // A server's list need not contain its Chosen Version (RFC 9368 §3).
  p.version_information->available_count = 1;
  p.version_information->available_versions[0] = 0x6b3343cf;
  return p;
}

// Offsets at which each encoded parameter ends, so a prefix ending there is a
// complete (shorter) parameter list.
std::vector<std::size_t> boundaries(const Bytes& enc) {
  std::vector<std::size_t> out{0};
  Reader r(enc);
  while (!r.empty()) {
    std::uint64_t id;
    std::uint64_t len;
    EXPECT_TRUE(r.read_varint(&id) && r.read_varint(&len) && r.skip(len));
    out.push_back(enc.size() - r.remaining());
  }
  return out;
}

TEST(TransportParams, DefaultsWhenAbsent) {
  TransportParameters p;
  p.max_idle_timeout = 7;  // must be overwritten
  ASSERT_EQ(decode({}, kServer, &p), kOk);
  EXPECT_EQ(p, TransportParameters{});
  EXPECT_FALSE(p.original_destination_connection_id);
  EXPECT_EQ(p.max_idle_timeout, 0u);
  EXPECT_FALSE(p.stateless_reset_token);
  EXPECT_EQ(p.max_udp_payload_size, 65527u);
  EXPECT_EQ(p.initial_max_data, 0u);
  EXPECT_EQ(p.initial_max_stream_data_bidi_local, 0u);
  EXPECT_EQ(p.initial_max_stream_data_bidi_remote, 0u);
  EXPECT_EQ(p.initial_max_stream_data_uni, 0u);
  EXPECT_EQ(p.initial_max_streams_bidi, 0u);
  EXPECT_EQ(p.initial_max_streams_uni, 0u);
  EXPECT_EQ(p.ack_delay_exponent, 3u);
  EXPECT_EQ(p.max_ack_delay, 25u);
  EXPECT_FALSE(p.disable_active_migration);
  EXPECT_FALSE(p.preferred_address);
  EXPECT_EQ(p.active_connection_id_limit, 2u);
  EXPECT_FALSE(p.initial_source_connection_id);
  EXPECT_FALSE(p.retry_source_connection_id);
  EXPECT_EQ(p.max_datagram_frame_size, 0u);
  EXPECT_FALSE(p.version_information);
  EXPECT_FALSE(p.grease_quic_bit);
  // Defaults encode to nothing.
  EXPECT_TRUE(encode(TransportParameters{}, kClient).empty());
}

TEST(TransportParams, ExplicitDefaultsEqualAbsent) {
  TransportParameters p;
  ASSERT_EQ(decode(cat({int_tlv(Id::kMaxUdpPayloadSize, 65527), int_tlv(Id::kAckDelayExponent, 3),
                        int_tlv(Id::kMaxAckDelay, 25), int_tlv(Id::kActiveConnectionIdLimit, 2),
                        int_tlv(Id::kMaxIdleTimeout, 0)}),
                   kClient, &p),
            kOk);
  EXPECT_EQ(p, TransportParameters{});
}

TEST(TransportParams, RoundTripServer) {
  const TransportParameters in = full_server();
  const Bytes enc = encode(in, kServer);
  TransportParameters out;
  ASSERT_EQ(decode(enc, kServer, &out), kOk);
  EXPECT_EQ(out, in);
  ASSERT_TRUE(out.retry_source_connection_id);
  EXPECT_TRUE(out.retry_source_connection_id->empty());
  // The same bytes from a client carry server-only parameters.
  EXPECT_EQ(decode(enc, kClient), kError);
}

TEST(TransportParams, RoundTripClient) {
  const TransportParameters in = full_client();
  const Bytes enc = encode(in, kClient);
  TransportParameters out;
  ASSERT_EQ(decode(enc, kClient, &out), kOk);
  EXPECT_EQ(out, in);
  EXPECT_EQ(decode(enc, kServer, &out), kOk);
  EXPECT_EQ(out, in);
}

TEST(TransportParams, RoundTripZeroLengthCids) {
  TransportParameters in;
  in.original_destination_connection_id = ConnectionId{};
  in.initial_source_connection_id = ConnectionId{};
  TransportParameters out;
  ASSERT_EQ(decode(encode(in, kServer), kServer, &out), kOk);
  EXPECT_EQ(out, in);
  EXPECT_TRUE(out.original_destination_connection_id.has_value());
  EXPECT_TRUE(out.initial_source_connection_id.has_value());
}

TEST(TransportParams, ByteExactEncoding) {
  TransportParameters p;
  p.original_destination_connection_id = ConnectionId{};
  ASSERT_TRUE(ConnectionId::from(Bytes{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08},
                                 &*p.original_destination_connection_id));
  p.max_idle_timeout = 30000;    // 0x7530: four-byte varint
  p.initial_max_data = 1048576;  // 0x100000: four-byte varint
  p.active_connection_id_limit = 8;
  p.initial_source_connection_id = ConnectionId{};  // present, empty
  p.max_datagram_frame_size = 65535;
  p.grease_quic_bit = true;
  const std::uint8_t grease_value[] = {0xaa};
  const GreaseTransportParameter grease{1, grease_value};  // ID 31 * 1 + 27 = 58
  const Bytes expected = {
      0x00, 0x08, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08,  // ODCID
      0x01, 0x04, 0x80, 0x00, 0x75, 0x30,                          // max_idle_timeout
      0x04, 0x04, 0x80, 0x10, 0x00, 0x00,                          // initial_max_data
      0x0e, 0x01, 0x08,                                            // active_cid_limit
      0x0f, 0x00,                                                  // ISCID (empty)
      0x20, 0x04, 0x80, 0x00, 0xff, 0xff,                          // max_datagram_frame_size
      0x6a, 0xb2, 0x00,                                            // grease_quic_bit
      0x3a, 0x01, 0xaa,                                            // reserved 58
  };
  EXPECT_EQ(encode(p, kServer, &grease), expected);
  TransportParameters out;
  ASSERT_EQ(decode(expected, kServer, &out), kOk);
  EXPECT_EQ(out, p);
}

TEST(TransportParams, EncodeFailsCleanlyWhenBufferTooSmall) {
  const TransportParameters p = full_server();
  const Bytes full = encode(p, kServer);
  for (std::size_t size = 0; size < full.size(); ++size) {
    std::vector<std::uint8_t> buf(size + 1);
    Writer w(buf);
    w.write_u8(0xee);  // caller's earlier output stays
    ASSERT_FALSE(encode_transport_parameters(p, kServer, w, nullptr)) << size;
    EXPECT_TRUE(w.ok());
    EXPECT_EQ(w.written(), 1u);
  }
  std::vector<std::uint8_t> buf(full.size());
  Writer w(buf);
  EXPECT_TRUE(encode_transport_parameters(p, kServer, w));
  EXPECT_EQ(buf, full);
}

TEST(TransportParams, EncodeRefusesInvalidParameters) {
  std::array<std::uint8_t, 512> buf{};
  Writer w(buf);
  // Server-only parameters from a client (RFC 9000 §18.2).
  EXPECT_FALSE(encode_transport_parameters(full_server(), kClient, w));
  TransportParameters p;
  p.ack_delay_exponent = 21;
  EXPECT_FALSE(encode_transport_parameters(p, kServer, w));
  p = {};
  p.initial_max_data = kVarintMax + 1;  // not a varint
  EXPECT_FALSE(encode_transport_parameters(p, kServer, w));
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.written(), 0u);
  p = {};
  GreaseTransportParameter g{(kVarintMax - 27) / 31 + 1, {}};
  EXPECT_FALSE(encode_transport_parameters(p, kServer, w, &g));
  g.n = (kVarintMax - 27) / 31;
  EXPECT_TRUE(encode_transport_parameters(p, kServer, w, &g));
}

TEST(TransportParams, TruncationAtEveryOffset) {
  for (EndpointRole role : {kClient, kServer}) {
    const Bytes full = encode(role == kServer ? full_server() : full_client(), role);
    const std::vector<std::size_t> ends = boundaries(full);
    for (std::size_t n = 0; n < full.size(); ++n) {
      // Exact-size heap copy so ASan catches any read past the end.
      const Bytes prefix(full.begin(), full.begin() + n);
      TransportParameters p;
      const TransportError e = decode(prefix, role, &p);
      const bool at_boundary = std::find(ends.begin(), ends.end(), n) != ends.end();
      if (!at_boundary) {
        EXPECT_EQ(e, kError) << n;
      } else if (e == kOk) {
        EXPECT_FALSE(p == (role == kServer ? full_server() : full_client())) << n;
      }
    }
  }
}

TEST(TransportParams, TruncatedIdLengthOrValue) {
  EXPECT_EQ(decode({0x40}, kClient), kError);                    // two-byte ID, one byte
  EXPECT_EQ(decode({0x01}, kClient), kError);                    // no length
  EXPECT_EQ(decode({0x01, 0x80, 0x00}, kClient), kError);        // four-byte length, two bytes
  EXPECT_EQ(decode({0x01, 0x02, 0x05}, kClient), kError);        // value shorter than length
  EXPECT_EQ(decode({0x2a, 0x05, 1, 2, 3, 4}, kClient), kError);  // unknown, short value
}

TEST(TransportParams, IntegerMustFillLengthExactly) {
  EXPECT_EQ(decode({0x01, 0x02, 0x05, 0x00}, kClient), kError);  // trailing byte
  EXPECT_EQ(decode({0x01, 0x01, 0x40}, kClient), kError);        // varint longer than value
  EXPECT_EQ(decode({0x01, 0x00}, kClient), kError);              // empty value
  EXPECT_EQ(decode({0x20, 0x02, 0x05, 0x00}, kClient), kError);  // max_datagram_frame_size
  EXPECT_EQ(decode({0x20, 0x00}, kClient), kError);
  // A non-minimal varint that fills the length is fine (RFC 9000 §16).
  TransportParameters p;
  ASSERT_EQ(decode({0x01, 0x02, 0x40, 0x05}, kClient, &p), kOk);
  EXPECT_EQ(p.max_idle_timeout, 5u);
  ASSERT_EQ(decode({0x20, 0x04, 0x80, 0x00, 0x04, 0x00}, kClient, &p), kOk);
  EXPECT_EQ(p.max_datagram_frame_size, 1024u);
}

TEST(TransportParams, DuplicateKnownParameterRejected) {
  EXPECT_EQ(
      decode(cat({int_tlv(Id::kInitialMaxData, 1), int_tlv(Id::kInitialMaxData, 1)}), kClient),
      kError);
  EXPECT_EQ(decode(cat({tlv(Id::kDisableActiveMigration, {}), int_tlv(Id::kMaxIdleTimeout, 9),
                        tlv(Id::kDisableActiveMigration, {})}),
                   kClient),
            kError);
  EXPECT_EQ(decode(cat({tlv(Id::kInitialSourceConnectionId, {}),
                        tlv(Id::kInitialSourceConnectionId, {})}),
                   kClient),
            kError);
}

TEST(TransportParams, DuplicateUnknownParameterRejected) {
  EXPECT_EQ(decode(cat({tlv(0x1234, {1}), tlv(0x1234, {2})}), kClient), kError);
  // Grease IDs too (RFC 9000 §7.4.2 applies to every ID).
  EXPECT_EQ(decode(cat({tlv(27, {}), int_tlv(Id::kInitialMaxData, 1), tlv(27, {9})}), kServer),
            kError);
  // Same value, different varint encodings of the ID: still a duplicate.
  EXPECT_EQ(decode(cat({tlv(0x30, {}), Bytes{0x40, 0x30, 0x00}}), kClient), kError);
}

TEST(TransportParams, UnknownAndGreaseParametersIgnored) {
  TransportParameters p;
  const Bytes in = cat({tlv(27, {1, 2, 3}), int_tlv(Id::kInitialMaxData, 77),
                        tlv(31 * 1000 + 27, filled(300, 0xcc)), tlv(0x3fff, {}),
                        tlv(kVarintMax, {0xff}), tlv(0x21, {0xff, 0xff})});
  ASSERT_EQ(decode(in, kClient, &p), kOk);
  TransportParameters want;
  want.initial_max_data = 77;
  EXPECT_EQ(p, want);
  EXPECT_TRUE(is_grease_transport_parameter_id(27));
  EXPECT_TRUE(is_grease_transport_parameter_id(grease_transport_parameter_id(12345)));
  EXPECT_FALSE(is_grease_transport_parameter_id(28));
  EXPECT_FALSE(is_grease_transport_parameter_id(0));
}

TEST(TransportParams, ParameterCountCap) {
  Bytes in;
  for (std::size_t i = 0; i < kMaxTransportParameters; ++i) {
    const Bytes one = tlv(0x1000 + i, {});
    in.insert(in.end(), one.begin(), one.end());
  }
  EXPECT_EQ(decode(in, kClient), kOk);
  const Bytes one_more = tlv(0x1000 + kMaxTransportParameters, {});
  in.insert(in.end(), one_more.begin(), one_more.end());
  EXPECT_EQ(decode(in, kClient), kError);
}

TEST(TransportParams, MaxUdpPayloadSizeAtLeast1200) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kMaxUdpPayloadSize, 1200), kClient, &p), kOk);
  EXPECT_EQ(p.max_udp_payload_size, 1200u);
  EXPECT_EQ(decode(int_tlv(Id::kMaxUdpPayloadSize, 1199), kClient), kError);
  EXPECT_EQ(decode(int_tlv(Id::kMaxUdpPayloadSize, 0), kClient), kError);
  ASSERT_EQ(decode(int_tlv(Id::kMaxUdpPayloadSize, kVarintMax), kClient, &p), kOk);
}

TEST(TransportParams, AckDelayExponentAtMost20) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kAckDelayExponent, 20), kClient, &p), kOk);
  EXPECT_EQ(p.ack_delay_exponent, 20u);
  ASSERT_EQ(decode(int_tlv(Id::kAckDelayExponent, 0), kClient, &p), kOk);
  EXPECT_EQ(p.ack_delay_exponent, 0u);
  EXPECT_EQ(decode(int_tlv(Id::kAckDelayExponent, 21), kClient), kError);
}

TEST(TransportParams, MaxAckDelayBelow2To14) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kMaxAckDelay, (1 << 14) - 1), kClient, &p), kOk);
  EXPECT_EQ(p.max_ack_delay, 16383u);
  EXPECT_EQ(decode(int_tlv(Id::kMaxAckDelay, 1 << 14), kClient), kError);
}

TEST(TransportParams, ActiveConnectionIdLimitAtLeast2) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kActiveConnectionIdLimit, 2), kClient, &p), kOk);
  EXPECT_EQ(p.active_connection_id_limit, 2u);
  EXPECT_EQ(decode(int_tlv(Id::kActiveConnectionIdLimit, 1), kClient), kError);
  EXPECT_EQ(decode(int_tlv(Id::kActiveConnectionIdLimit, 0), kClient), kError);
}

TEST(TransportParams, InitialMaxStreamsBidiAtMost2To60) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kInitialMaxStreamsBidi, kMaxStreamsLimit), kClient, &p), kOk);
  EXPECT_EQ(p.initial_max_streams_bidi, std::uint64_t{1} << 60);
  EXPECT_EQ(decode(int_tlv(Id::kInitialMaxStreamsBidi, kMaxStreamsLimit + 1), kClient), kError);
}

TEST(TransportParams, InitialMaxStreamsUniAtMost2To60) {
  TransportParameters p;
  ASSERT_EQ(decode(int_tlv(Id::kInitialMaxStreamsUni, kMaxStreamsLimit), kServer, &p), kOk);
  EXPECT_EQ(p.initial_max_streams_uni, std::uint64_t{1} << 60);
  EXPECT_EQ(decode(int_tlv(Id::kInitialMaxStreamsUni, kMaxStreamsLimit + 1), kServer), kError);
}

TEST(TransportParams, ConnectionIdParametersAtMost20Bytes) {
  for (Id id : {Id::kOriginalDestinationConnectionId, Id::kInitialSourceConnectionId,
                Id::kRetrySourceConnectionId}) {
    TransportParameters p;
    ASSERT_EQ(decode(tlv(id, filled(20, 7)), kServer, &p), kOk);
    EXPECT_EQ(decode(tlv(id, filled(21, 7)), kServer), kError);
    EXPECT_EQ(decode(tlv(id, filled(255, 7)), kServer), kError);
    ASSERT_EQ(decode(tlv(id, {}), kServer, &p), kOk);
  }
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kInitialSourceConnectionId, filled(20, 7)), kServer, &p), kOk);
  ASSERT_TRUE(p.initial_source_connection_id);
  EXPECT_TRUE(same_bytes(p.initial_source_connection_id->span(), filled(20, 7)));
}

TEST(TransportParams, StatelessResetTokenExactly16Bytes) {
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kStatelessResetToken, filled(16, 0x5a)), kServer, &p), kOk);
  ASSERT_TRUE(p.stateless_reset_token);
  StatelessResetToken want;
  want.fill(0x5a);
  EXPECT_EQ(*p.stateless_reset_token, want);
  EXPECT_EQ(decode(tlv(Id::kStatelessResetToken, filled(15, 0x5a)), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kStatelessResetToken, filled(17, 0x5a)), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kStatelessResetToken, {}), kServer), kError);
}

TEST(TransportParams, DisableActiveMigrationMustBeEmpty) {
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kDisableActiveMigration, {}), kClient, &p), kOk);
  EXPECT_TRUE(p.disable_active_migration);
  EXPECT_EQ(decode(tlv(Id::kDisableActiveMigration, {0}), kClient), kError);
}

TEST(TransportParams, GreaseQuicBitMustBeEmpty) {
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kGreaseQuicBit, {}), kClient, &p), kOk);
  EXPECT_TRUE(p.grease_quic_bit);
  EXPECT_EQ(decode(tlv(Id::kGreaseQuicBit, {1}), kClient), kError);
}

Bytes preferred_address_value(std::size_t cid_len, std::size_t declared_cid_len) {
  Bytes v = cat({Bytes{192, 0, 2, 1, 0x11, 0x51}, filled(16, 0x20), Bytes{0x01, 0xbb},
                 Bytes{static_cast<std::uint8_t>(declared_cid_len)}, filled(cid_len, 0x33),
                 filled(16, 0x44)});
  return v;
}

TEST(TransportParams, PreferredAddressDecodes) {
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(4, 4)), kServer, &p), kOk);
  ASSERT_TRUE(p.preferred_address);
  const PreferredAddress& pa = *p.preferred_address;
  EXPECT_EQ(pa.ipv4_address, (std::array<std::uint8_t, 4>{192, 0, 2, 1}));
  EXPECT_EQ(pa.ipv4_port, 0x1151);
  EXPECT_EQ(pa.ipv6_port, 443);
  EXPECT_TRUE(same_bytes(pa.connection_id.span(), filled(4, 0x33)));
  EXPECT_EQ(pa.stateless_reset_token[15], 0x44);
  ASSERT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(20, 20)), kServer, &p), kOk);
}

TEST(TransportParams, PreferredAddressLengthMismatch) {
  // CID length byte says more / fewer bytes than the value holds.
  EXPECT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(4, 5)), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(4, 3)), kServer), kError);
  // Trailing byte, and a value cut short.
  Bytes v = preferred_address_value(4, 4);
  v.push_back(0);
  EXPECT_EQ(decode(tlv(Id::kPreferredAddress, v), kServer), kError);
  v = preferred_address_value(4, 4);
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_EQ(decode(tlv(Id::kPreferredAddress, Bytes(v.begin(), v.begin() + n)), kServer), kError)
        << n;
  }
}

TEST(TransportParams, PreferredAddressZeroLengthCid) {
  EXPECT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(0, 0)), kServer), kError);
}

TEST(TransportParams, PreferredAddressCidOver20) {
  EXPECT_EQ(decode(tlv(Id::kPreferredAddress, preferred_address_value(21, 21)), kServer), kError);
}

TEST(TransportParams, PreferredAddressWithZeroLengthServerCid) {
  // RFC 9000 §18.2: a server using zero-length CIDs must not send one.
  const Bytes pa = tlv(Id::kPreferredAddress, preferred_address_value(4, 4));
  EXPECT_EQ(decode(cat({pa, tlv(Id::kInitialSourceConnectionId, {})}), kServer), kError);
  EXPECT_EQ(decode(cat({pa, tlv(Id::kInitialSourceConnectionId, {1})}), kServer), kOk);
}

TEST(TransportParams, ServerOnlyOriginalDestinationCidFromClient) {
  const Bytes in = tlv(Id::kOriginalDestinationConnectionId, filled(8, 1));
  EXPECT_EQ(decode(in, kServer), kOk);
  EXPECT_EQ(decode(in, kClient), kError);
}

TEST(TransportParams, ServerOnlyStatelessResetTokenFromClient) {
  const Bytes in = tlv(Id::kStatelessResetToken, filled(16, 1));
  EXPECT_EQ(decode(in, kServer), kOk);
  EXPECT_EQ(decode(in, kClient), kError);
}

TEST(TransportParams, ServerOnlyPreferredAddressFromClient) {
  const Bytes in = tlv(Id::kPreferredAddress, preferred_address_value(4, 4));
  EXPECT_EQ(decode(in, kServer), kOk);
  EXPECT_EQ(decode(in, kClient), kError);
}

TEST(TransportParams, ServerOnlyRetrySourceCidFromClient) {
  const Bytes in = tlv(Id::kRetrySourceConnectionId, {});
  EXPECT_EQ(decode(in, kServer), kOk);
  EXPECT_EQ(decode(in, kClient), kError);
}

Bytes u32s(std::initializer_list<std::uint32_t> vs) {
  Bytes b;
  for (std::uint32_t v : vs) {
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<std::uint8_t>(v >> s));
  }
  return b;
}

TEST(TransportParams, VersionInformationDecodes) {
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kVersionInformation, u32s({1, 0x6b3343cf, 1})), kClient, &p), kOk);
  ASSERT_TRUE(p.version_information);
  EXPECT_EQ(p.version_information->chosen_version, 1u);
  ASSERT_EQ(p.version_information->available().size(), 2u);
  EXPECT_EQ(p.version_information->available()[0], 0x6b3343cfu);
  EXPECT_FALSE(p.version_information->available_versions_truncated);
  // A server may send an empty list (RFC 9368 §3).
  ASSERT_EQ(decode(tlv(Id::kVersionInformation, u32s({1})), kServer, &p), kOk);
  EXPECT_TRUE(p.version_information->available().empty());
}

TEST(TransportParams, VersionInformationLengthNotMultipleOf4) {
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, {0, 0, 0, 1, 0, 0}), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, {0, 0, 1}), kServer), kError);
}

TEST(TransportParams, VersionInformationTooShort) {
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, {}), kServer), kError);
}

TEST(TransportParams, VersionInformationChosenZero) {
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, u32s({0})), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, u32s({0, 0})), kClient), kError);
}

TEST(TransportParams, VersionInformationAvailableZero) {
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, u32s({1, 0})), kServer), kError);
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, u32s({1, 1, 0})), kClient), kError);
}

TEST(TransportParams, VersionInformationClientChosenNotListed) {
  const Bytes in = tlv(Id::kVersionInformation, u32s({1, 0x6b3343cf}));
  EXPECT_EQ(decode(in, kClient), kError);
  EXPECT_EQ(decode(in, kServer), kOk);  // a server's list need not contain it
}

TEST(TransportParams, VersionInformationLongListKeepsPrefix) {
  // 20 versions, the client's Chosen Version last: beyond what is stored but
  // still found by validation.
  Bytes v = u32s({0x0a0a0a0a});
  for (std::uint32_t i = 0; i < 19; ++i) {
    const Bytes one = u32s({0x1a1a1a1a + i});
    v.insert(v.end(), one.begin(), one.end());
  }
  const Bytes last = u32s({0x0a0a0a0a});
  v.insert(v.end(), last.begin(), last.end());
  TransportParameters p;
  ASSERT_EQ(decode(tlv(Id::kVersionInformation, v), kClient, &p), kOk);
  ASSERT_TRUE(p.version_information);
  EXPECT_EQ(p.version_information->available().size(), kMaxAvailableVersions);
  EXPECT_TRUE(p.version_information->available_versions_truncated);
  EXPECT_EQ(p.version_information->available()[0], 0x1a1a1a1au);
  // A zero past the stored prefix is still an error.
  v.insert(v.end(), 4, 0);
  EXPECT_EQ(decode(tlv(Id::kVersionInformation, v), kClient), kError);
  // A partial list cannot be re-sent faithfully.
  std::array<std::uint8_t, 512> buf{};
  Writer w(buf);
  EXPECT_FALSE(encode_transport_parameters(p, kClient, w));
}

TEST(TransportParams, FailedDecodeLeavesOutputUntouched) {
  TransportParameters p = full_client();
  EXPECT_EQ(decode(cat({int_tlv(Id::kInitialMaxData, 5), int_tlv(Id::kAckDelayExponent, 99)}),
                   kClient, &p),
            kError);
  EXPECT_EQ(p, full_client());
}

TEST(TransportParams, GreaseParameterEncodedAndIgnored) {
  const std::uint8_t value[] = {1, 2, 3, 4, 5};
  const GreaseTransportParameter g{100, value};
  const TransportParameters in = full_server();
  const Bytes enc = encode(in, kServer, &g);
  const Bytes tail = tlv(31 * 100 + 27, {1, 2, 3, 4, 5});
  ASSERT_GE(enc.size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), enc.end() - tail.size()));
  TransportParameters out;
  ASSERT_EQ(decode(enc, kServer, &out), kOk);
  EXPECT_EQ(out, in);
}

}  // namespace
}  // namespace dquic

#include "quic/version_negotiation.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "quic/packet_header.h"
#include "quic/transport_params.h"
#include "quic/version.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

constexpr std::uint32_t kReserved = 0x1a2a3a4a;  // RFC 9000 §15 0x?a?a?a?a
constexpr std::uint32_t kDraft29 = 0xff00001d;   // a version we do not speak

const Bytes kClientDcid = hex("8394c8f03e515708");
const Bytes kClientScid = hex("f067a5502a42");

// A long-header datagram as a client's first flight looks to the invariants
// (RFC 8999 §5.1), padded to `size`.
Bytes long_header_datagram(std::uint32_t version, const Bytes& dcid, const Bytes& scid,
                           std::size_t size) {
  Bytes d = {0xc0, static_cast<std::uint8_t>(version >> 24),
             static_cast<std::uint8_t>(version >> 16), static_cast<std::uint8_t>(version >> 8),
             static_cast<std::uint8_t>(version)};
  d.push_back(static_cast<std::uint8_t>(dcid.size()));
  d.insert(d.end(), dcid.begin(), dcid.end());
  d.push_back(static_cast<std::uint8_t>(scid.size()));
  d.insert(d.end(), scid.begin(), scid.end());
  if (d.size() < size) d.resize(size, 0);
  return d;
}

InvariantHeader invariant(const Bytes& datagram) {
  InvariantHeader h;
  EXPECT_EQ(parse_invariant_header(datagram, 8, &h), PacketDropReason::kNone);
  return h;
}

std::vector<std::uint32_t> versions_of(const PacketHeader& h) {
  std::vector<std::uint32_t> out;
  for (std::uint32_t v : h.versions())
    out.push_back(v);
  return out;
}

VersionInformation info(std::uint32_t chosen, std::vector<std::uint32_t> available,
                        bool truncated = false) {
  VersionInformation vi;
  vi.chosen_version = chosen;
  for (std::uint32_t v : available)
    vi.available_versions[vi.available_count++] = v;
  vi.available_versions_truncated = truncated;
  return vi;
}

constexpr std::array<std::uint32_t, 2> kV1V2 = {kVersion1, kVersion2};
constexpr std::array<std::uint32_t, 2> kV2V1 = {kVersion2, kVersion1};
constexpr std::array<std::uint32_t, 1> kV1Only = {kVersion1};

// ---- Server: when to answer (RFC 9000 §5.2.2, §6.1, §14.1) -----------------

TEST(ShouldSendVersionNegotiation, UnsupportedLongHeaderOfInitialSize) {
  for (std::uint32_t v : {kReserved, kDraft29, 0x00000002u}) {
    EXPECT_TRUE(should_send_version_negotiation(
        invariant(long_header_datagram(v, kClientDcid, kClientScid, 1200)), 1200, kV1V2))
        << std::hex << v;
  }
  // v2 is unsupported by a v1-only server.
  EXPECT_TRUE(should_send_version_negotiation(
      invariant(long_header_datagram(kVersion2, kClientDcid, kClientScid, 1200)), 1200, kV1Only));
}

TEST(ShouldSendVersionNegotiation, Rejections) {
  // Smaller than any Initial: MUST drop (§5.2.2, §14.1).
  EXPECT_FALSE(should_send_version_negotiation(
      invariant(long_header_datagram(kReserved, kClientDcid, kClientScid, 1199)), 1199, kV1V2));
  // Supported versions go to the connection path.
  for (std::uint32_t v : kV1V2) {
    EXPECT_FALSE(should_send_version_negotiation(
        invariant(long_header_datagram(v, kClientDcid, kClientScid, 1200)), 1200, kV1V2));
  }
  // Never answer a Version Negotiation (§6.1).
  EXPECT_FALSE(should_send_version_negotiation(
      invariant(long_header_datagram(kVersionNegotiation, kClientDcid, kClientScid, 1200)), 1200,
      kV1V2));
  // Short headers carry no version.
  Bytes short_header(1200, 0);
  short_header[0] = 0x40;
  EXPECT_FALSE(should_send_version_negotiation(invariant(short_header), 1200, kV1V2));
}

TEST(ShouldSendVersionNegotiation, ConnectionIdLengthsPlayNoPart) {
  // §17.2.1: version-specific CID rules must not influence the decision.
  const Bytes long_cid(255, 0x33);
  EXPECT_TRUE(should_send_version_negotiation(
      invariant(long_header_datagram(kDraft29, long_cid, long_cid, 1200)), 1200, kV1V2));
  EXPECT_TRUE(should_send_version_negotiation(
      invariant(long_header_datagram(kDraft29, {}, {}, 1200)), 1200, kV1V2));
}

// ---- Server: the packet (RFC 9000 §17.2.1, §6.3) ---------------------------

TEST(BuildVersionNegotiation, ParsesBackWithReservedVersion) {
  const Bytes initial = long_header_datagram(kDraft29, kClientDcid, kClientScid, 1200);
  std::array<std::uint8_t, 1500> out{};
  const std::uint64_t random = 0x0000002b'c5d6e7f8;
  const std::size_t n = build_version_negotiation(invariant(initial), kV2V1, random, out);
  ASSERT_EQ(n, 7 + kClientDcid.size() + kClientScid.size() + 3 * 4);

  PacketHeader h;
  ASSERT_EQ(parse_packet_header(ByteSpan(out.data(), n), 0, 0, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kVersionNegotiation);
  EXPECT_EQ(h.version, kVersionNegotiation);
  EXPECT_EQ(h.packet_end, n);
  // CIDs swapped: the client can match them to its attempt.
  EXPECT_EQ(Bytes(h.dcid.begin(), h.dcid.end()), kClientScid);
  EXPECT_EQ(Bytes(h.scid.begin(), h.scid.end()), kClientDcid);
  const std::vector<std::uint32_t> listed = versions_of(h);
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0], kVersion2);
  EXPECT_EQ(listed[1], kVersion1);
  EXPECT_TRUE(is_reserved_version(listed[2]));
  EXPECT_EQ(listed[2], 0xcadaeafau);      // high nibbles of `random`
  EXPECT_EQ(out[0], 0x80 | 0x40 | 0x2b);  // unused bits from random, 0x40 set (§17.2.1)
  // Never answered in turn.
  EXPECT_FALSE(
      should_send_version_negotiation(invariant(Bytes(out.begin(), out.begin() + n)), 1200, kV1V2));
}

TEST(BuildVersionNegotiation, GreaseVariesAndIsNeverDuplicated) {
  // The header's spans point into the datagram: keep it alive.
  const Bytes datagram = long_header_datagram(kDraft29, kClientDcid, kClientScid, 1200);
  const InvariantHeader h = invariant(datagram);
  std::array<std::uint8_t, 1500> out{};
  for (std::uint64_t r : {0x0ull, 0xffffffffull, 0x12345678ull, 0x9abcdef0ull}) {
    const std::size_t n = build_version_negotiation(h, kV1Only, r, out);
    PacketHeader p;
    ASSERT_EQ(parse_packet_header(ByteSpan(out.data(), n), 0, 0, &p), PacketDropReason::kNone);
    const std::vector<std::uint32_t> listed = versions_of(p);
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_TRUE(is_reserved_version(listed[1])) << std::hex << listed[1];
  }
  // An offered list that already holds the reserved version gets no second one.
  const std::array<std::uint32_t, 2> with_grease = {kVersion1, 0x0a0a0a0a};
  const std::size_t n = build_version_negotiation(h, with_grease, 0, out);
  PacketHeader p;
  ASSERT_EQ(parse_packet_header(ByteSpan(out.data(), n), 0, 0, &p), PacketDropReason::kNone);
  EXPECT_EQ(versions_of(p), (std::vector<std::uint32_t>{kVersion1, 0x0a0a0a0a}));
}

TEST(BuildVersionNegotiation, LongConnectionIds) {
  // RFC 8999: an unknown version may use CIDs of up to 255 bytes; echo them.
  const Bytes dcid(255, 0xd1);
  const Bytes scid(200, 0x5c);
  const Bytes datagram = long_header_datagram(kDraft29, dcid, scid, 1200);
  const InvariantHeader h = invariant(datagram);
  std::array<std::uint8_t, 7 + 255 + 255 + 4 * kMaxVersionNegotiationVersions> out{};
  const std::size_t n = build_version_negotiation(h, kV1V2, 1, out);
  ASSERT_EQ(n, 7 + 255 + 200 + 12u);
  PacketHeader p;
  ASSERT_EQ(parse_packet_header(ByteSpan(out.data(), n), 0, 0, &p), PacketDropReason::kNone);
  EXPECT_EQ(Bytes(p.dcid.begin(), p.dcid.end()), scid);
  EXPECT_EQ(Bytes(p.scid.begin(), p.scid.end()), dcid);
}

TEST(BuildVersionNegotiation, Rejections) {
  // The header's spans point into the datagram: keep it alive.
  const Bytes datagram = long_header_datagram(kDraft29, kClientDcid, kClientScid, 1200);
  const InvariantHeader h = invariant(datagram);
  std::array<std::uint8_t, 1500> out{};
  EXPECT_EQ(build_version_negotiation(h, {}, 0, out), 0u);
  std::array<std::uint32_t, kMaxVersionNegotiationVersions> too_many{};
  too_many.fill(kVersion1);
  EXPECT_EQ(build_version_negotiation(h, too_many, 0, out), 0u);
  EXPECT_NE(build_version_negotiation(h, std::span(too_many).first(too_many.size() - 1), 0, out),
            0u);
  const std::size_t need = 7 + kClientDcid.size() + kClientScid.size() + 8;
  EXPECT_EQ(build_version_negotiation(h, kV1Only, 0, std::span(out).first(need - 1)), 0u);
  EXPECT_EQ(build_version_negotiation(h, kV1Only, 0, std::span(out).first(need)), need);
}

// ---- Compatible version negotiation, server side (RFC 9368 §2.3, §4) -------

TEST(CompatibleVersions, OnlyIdentityAndV1V2) {
  EXPECT_TRUE(is_compatible_version(kVersion1, kVersion1));
  EXPECT_TRUE(is_compatible_version(kVersion1, kVersion2));  // RFC 9369 §4
  EXPECT_TRUE(is_compatible_version(kVersion2, kVersion1));
  EXPECT_TRUE(is_compatible_version(kDraft29, kDraft29));
  EXPECT_FALSE(is_compatible_version(kDraft29, kVersion1));  // RFC 9368 §2.2: never assumed
  EXPECT_FALSE(is_compatible_version(kVersion1, kReserved));
}

TEST(ClientVersionInformationCheck, ChosenMustMatchPacketVersion) {
  EXPECT_EQ(check_client_version_information(std::nullopt, kVersion1), TransportError::kNoError);
  EXPECT_EQ(check_client_version_information(info(kVersion1, {kVersion1, kVersion2}), kVersion1),
            TransportError::kNoError);
  // RFC 9368 §4: VI over v1 whose Chosen Version is not v1.
  EXPECT_EQ(check_client_version_information(info(kVersion2, {kVersion2, kVersion1}), kVersion1),
            TransportError::kVersionNegotiationError);
  EXPECT_EQ(static_cast<std::uint64_t>(TransportError::kVersionNegotiationError), 0x11u);
}

TEST(ChooseNegotiatedVersion, ServerPreferenceAmongCompatible) {
  // The client speaks v1 and offers v2; a server preferring v2 switches.
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kVersion1, kVersion2}), kV2V1),
            kVersion2);
  // Server preference wins over the client's order (RFC 9368 §3: advisory).
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kVersion2, kVersion1}), kV1V2),
            kVersion1);
  // The client did not offer v2: stay.
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kVersion1}), kV2V1), kVersion1);
  // The server does not support v2: stay.
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kVersion1, kVersion2}), kV1Only),
            kVersion1);
  // No Version Information: the Chosen Version.
  EXPECT_EQ(choose_negotiated_version(kVersion2, std::nullopt, kV1V2), kVersion2);
  // Listed and supported but not compatible with the Chosen Version.
  const std::array<std::uint32_t, 3> pref = {kDraft29, kVersion2, kVersion1};
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kDraft29, kVersion1}), pref),
            kVersion1);
  // Reserved versions are never selected (RFC 9368 §3).
  const std::array<std::uint32_t, 2> greasy = {kReserved, kVersion1};
  EXPECT_EQ(choose_negotiated_version(kVersion1, info(kVersion1, {kReserved, kVersion1}), greasy),
            kVersion1);
}

TEST(ServerVersionInformation, ListsFullyDeployed) {
  const VersionInformation vi = server_version_information(kVersion2, kV1V2);
  EXPECT_EQ(vi.chosen_version, kVersion2);
  EXPECT_EQ(std::vector<std::uint32_t>(vi.available().begin(), vi.available().end()),
            (std::vector<std::uint32_t>{kVersion1, kVersion2}));
  // RFC 9368 §3: may be empty while a version is being removed.
  EXPECT_EQ(server_version_information(kVersion1, {}).available_count, 0);
  std::array<std::uint32_t, kMaxAvailableVersions + 3> many{};
  many.fill(kVersion1);
  EXPECT_EQ(server_version_information(kVersion1, many).available_count, kMaxAvailableVersions);
}

// ---- Client: Version Information it sends (RFC 9368 §3) --------------------

TEST(ClientVersionInformation, CompatibleVersionsInPreferenceOrder) {
  auto available = [](const VersionInformation& vi) {
    return std::vector<std::uint32_t>(vi.available().begin(), vi.available().end());
  };
  EXPECT_EQ(available(client_version_information(kVersion1, kV2V1)),
            (std::vector<std::uint32_t>{kVersion2, kVersion1}));
  EXPECT_EQ(available(client_version_information(kVersion1, kV1Only)),
            (std::vector<std::uint32_t>{kVersion1}));
  // Incompatible versions are left out; a Chosen Version missing from the
  // preference is still listed.
  const std::array<std::uint32_t, 2> pref = {kDraft29, kVersion2};
  const VersionInformation vi = client_version_information(kVersion1, pref);
  EXPECT_EQ(vi.chosen_version, kVersion1);
  EXPECT_EQ(available(vi), (std::vector<std::uint32_t>{kVersion2, kVersion1}));

  // What we build passes the transport-parameter codec's client checks.
  TransportParameters tp;
  tp.initial_source_connection_id.emplace();
  tp.version_information = client_version_information(kVersion1, kV2V1);
  std::array<std::uint8_t, 256> buf{};
  Writer w(buf);
  ASSERT_TRUE(encode_transport_parameters(tp, EndpointRole::kClient, w));
  TransportParameters back;
  ASSERT_EQ(decode_transport_parameters({buf.data(), w.written()}, EndpointRole::kClient, &back),
            TransportError::kNoError);
  EXPECT_EQ(back.version_information, tp.version_information);
}

TEST(ClientVersionInformation, FullListKeepsChosen) {
  std::array<std::uint32_t, kMaxAvailableVersions + 1> pref{};
  pref.fill(kVersion2);  // compatible with v1, but v1 itself missing
  const VersionInformation vi = client_version_information(kVersion1, pref);
  ASSERT_EQ(vi.available_count, kMaxAvailableVersions);
  EXPECT_EQ(vi.available_versions[kMaxAvailableVersions - 1], kVersion1);
}

// ---- Client: handling Version Negotiation (RFC 9000 §6.2, RFC 9368 §2.1, §4)

class ClientVnTest : public ::testing::Test {
 protected:
  // A VN packet from a server offering `offered`, answering our attempt.
  PacketHeader vn_packet(std::span<const std::uint32_t> offered, const Bytes& dcid = kClientDcid,
                         const Bytes& scid = kClientScid) {
    const Bytes initial = long_header_datagram(kReserved, dcid, scid, 1200);
    const std::size_t n = build_version_negotiation(invariant(initial), offered, 7, buf_);
    EXPECT_NE(n, 0u);
    PacketHeader h;
    EXPECT_EQ(parse_packet_header(ByteSpan(buf_.data(), n), 0, 0, &h), PacketDropReason::kNone);
    return h;
  }

  ClientVersionAttempt attempt(std::uint32_t version) const {
    ClientVersionAttempt a;
    a.chosen_version = version;
    a.dcid = kClientDcid;
    a.scid = kClientScid;
    return a;
  }

  std::array<std::uint8_t, 1500> buf_{};
};

TEST_F(ClientVnTest, ReconnectsWithPreferredOfferedVersion) {
  std::uint32_t next = 0;
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2), attempt(kDraft29), kV2V1, &next),
            VersionNegotiationAction::kReconnect);
  EXPECT_EQ(next, kVersion2);  // our preference, not the server's order
  // A v1-only server answering a v2 attempt.
  const std::array<std::uint32_t, 2> pref = {kDraft29, kVersion1};
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1Only), attempt(kVersion2), pref, &next),
            VersionNegotiationAction::kReconnect);
  EXPECT_EQ(next, kVersion1);
}

TEST_F(ClientVnTest, AbortsWithoutCommonVersion) {
  std::uint32_t next = 0;
  const std::array<std::uint32_t, 1> draft = {kDraft29};
  EXPECT_EQ(process_version_negotiation(vn_packet(draft), attempt(kVersion1), kV1V2, &next),
            VersionNegotiationAction::kAbort);
  // Only the greased version in common does not count: it is never selected.
  // (vn_packet's random 7 makes the grease 0x0a0a0a0a.)
  const std::array<std::uint32_t, 1> v2 = {kVersion2};
  const std::array<std::uint32_t, 2> pref = {0x0a0a0a0a, kVersion1};
  EXPECT_EQ(process_version_negotiation(vn_packet(v2), attempt(kVersion1), pref, &next),
            VersionNegotiationAction::kAbort);
}

TEST_F(ClientVnTest, DiscardsListingOurVersion) {
  // RFC 9000 §6.2, RFC 9368 §4: cannot be a genuine reply; a downgrade try.
  std::uint32_t next = 0;
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2), attempt(kVersion1), kV2V1, &next),
            VersionNegotiationAction::kDiscard);
  EXPECT_EQ(next, 0u);
}

TEST_F(ClientVnTest, DiscardsWrongConnectionIds) {
  std::uint32_t next = 0;
  // RFC 8999 §6: both CIDs must echo ours.
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2, hex("0000000000000000"), kClientScid),
                                        attempt(kDraft29), kV1V2, &next),
            VersionNegotiationAction::kDiscard);
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2, kClientDcid, hex("0000")),
                                        attempt(kDraft29), kV1V2, &next),
            VersionNegotiationAction::kDiscard);
}

TEST_F(ClientVnTest, DiscardsAfterOtherPacketsOrAnEarlierReaction) {
  std::uint32_t next = 0;
  ClientVersionAttempt a = attempt(kDraft29);
  a.processed_packet = true;  // RFC 9000 §6.2
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2), a, kV1V2, &next),
            VersionNegotiationAction::kDiscard);
  a = attempt(kDraft29);
  a.reacted_to_version_negotiation = true;  // RFC 9368 §4
  EXPECT_EQ(process_version_negotiation(vn_packet(kV1V2), a, kV1V2, &next),
            VersionNegotiationAction::kDiscard);
  PacketHeader not_vn = vn_packet(kV1V2);
  not_vn.type = PacketType::kInitial;
  EXPECT_EQ(process_version_negotiation(not_vn, attempt(kDraft29), kV1V2, &next),
            VersionNegotiationAction::kDiscard);
}

TEST(SelectVersion, FirstPreferredListed) {
  const Bytes raw = hex("00000001 6b3343cf 1a2a3a4a");
  const VersionList offered{ByteSpan(raw)};
  EXPECT_EQ(select_version(kV2V1, offered), kVersion2);
  EXPECT_EQ(select_version(kV1V2, offered), kVersion1);
  const std::array<std::uint32_t, 2> reserved_first = {kReserved, kVersion1};
  EXPECT_EQ(select_version(reserved_first, offered), kVersion1);
  const std::array<std::uint32_t, 1> draft = {kDraft29};
  EXPECT_EQ(select_version(draft, offered), std::nullopt);
}

// ---- Client: downgrade checks (RFC 9368 §4) --------------------------------

TEST(ServerVersionInformationCheck, WithoutVersionNegotiation) {
  const VersionInformation sent = client_version_information(kVersion1, kV2V1);  // v1; [v2, v1]
  // Missing: allowed unless we reacted to a VN.
  EXPECT_EQ(check_server_version_information(std::nullopt, kVersion1, sent, false, kV2V1),
            TransportError::kNoError);
  // Compatible negotiation to v2.
  EXPECT_EQ(check_server_version_information(info(kVersion2, {kVersion2, kVersion1}), kVersion2,
                                             sent, false, kV2V1),
            TransportError::kNoError);
  // Same version, server list empty: fine without a VN.
  EXPECT_EQ(check_server_version_information(info(kVersion1, {}), kVersion1, sent, false, kV2V1),
            TransportError::kNoError);
  // Chosen Version we never offered.
  EXPECT_EQ(
      check_server_version_information(info(kDraft29, {kDraft29}), kDraft29, sent, false, kV2V1),
      TransportError::kVersionNegotiationError);
  // Chosen Version differs from what the long headers said (forged header).
  EXPECT_EQ(check_server_version_information(info(kVersion2, {kVersion2, kVersion1}), kVersion1,
                                             sent, false, kV2V1),
            TransportError::kVersionNegotiationError);
}

TEST(ServerVersionInformationCheck, AfterVersionNegotiationMissingOrEmpty) {
  const VersionInformation sent = client_version_information(kVersion1, kV1V2);
  EXPECT_EQ(check_server_version_information(std::nullopt, kVersion1, sent, true, kV1V2),
            TransportError::kVersionNegotiationError);
  EXPECT_EQ(check_server_version_information(info(kVersion1, {}), kVersion1, sent, true, kV1V2),
            TransportError::kVersionNegotiationError);
}

TEST(ServerVersionInformationCheck, Rfc9368Examples) {
  // RFC 9368 §4: the client supports 10, 12 and 14, preferring higher ones.
  const std::array<std::uint32_t, 3> pref = {14, 12, 10};
  // Scenario 1: VN offered 10, 13, 14; the client retried with 14; the
  // server's Fully Deployed versions are 13 and 14. Genuine.
  EXPECT_EQ(check_server_version_information(info(14, {13, 14}), 14, info(14, {14}), true, pref),
            TransportError::kNoError);
  // Scenario 2: a forged VN offered 10 and 13; the client retried with 10;
  // the server really supports 10, 13 and 14. Downgrade detected.
  EXPECT_EQ(
      check_server_version_information(info(10, {10, 13, 14}), 10, info(10, {10}), true, pref),
      TransportError::kVersionNegotiationError);
}

TEST(ServerVersionInformationCheck, IncompatibleThenCompatible) {
  // RFC 9368 Figure 1 with real versions: a VN offered (v2, v1); the client,
  // preferring v1, retried with Chosen v1, Available (v1, v2); the server
  // preferred v2 and switched to it.
  const VersionInformation sent = client_version_information(kVersion1, kV1V2);
  EXPECT_EQ(check_server_version_information(info(kVersion2, {kVersion2, kVersion1}), kVersion2,
                                             sent, true, kV1V2),
            TransportError::kNoError);
  // Forged VN listing only v1 to a client preferring v2: the server's real
  // list shows v2, so the client would not have picked v1.
  const VersionInformation sent_v1 = client_version_information(kVersion1, kV2V1);
  EXPECT_EQ(check_server_version_information(info(kVersion1, {kVersion1, kVersion2}), kVersion1,
                                             sent_v1, true, kV2V1),
            TransportError::kVersionNegotiationError);
  // Same, but the server really only deploys v1: genuine.
  EXPECT_EQ(check_server_version_information(info(kVersion1, {kVersion1}), kVersion1, sent_v1, true,
                                             kV2V1),
            TransportError::kNoError);
  // A reserved version in the server's list is ignored.
  EXPECT_EQ(check_server_version_information(info(kVersion1, {kReserved, kVersion1}), kVersion1,
                                             sent_v1, true, kV2V1),
            TransportError::kNoError);
}

TEST(ServerVersionInformationCheck, TruncatedServerList) {
  // The codec kept only the first 16 of the server's versions.
  std::vector<std::uint32_t> sixteen(kMaxAvailableVersions, kDraft29);
  sixteen[0] = kVersion2;
  const VersionInformation server = info(kVersion2, sixteen, true);
  // Our first preference was attempted: nothing unseen could beat it.
  EXPECT_EQ(check_server_version_information(
                server, kVersion2, client_version_information(kVersion2, kV2V1), true, kV2V1),
            TransportError::kNoError);
  // Otherwise a preferred version might be among those dropped: fail closed.
  const VersionInformation server_v1 = info(kVersion1, {kVersion1}, true);
  EXPECT_EQ(check_server_version_information(
                server_v1, kVersion1, client_version_information(kVersion1, kV2V1), true, kV2V1),
            TransportError::kVersionNegotiationError);
  // Without a VN the list is not examined.
  EXPECT_EQ(check_server_version_information(
                server_v1, kVersion1, client_version_information(kVersion1, kV2V1), false, kV2V1),
            TransportError::kNoError);
}

}  // namespace
}  // namespace dquic

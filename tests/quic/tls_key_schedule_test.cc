#include "quic/tls_key_schedule.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

constexpr HashAlgorithm kSha256 = HashAlgorithm::kSha256;
constexpr HashAlgorithm kSha384 = HashAlgorithm::kSha384;

// RFC 8448 (TLS 1.3 traces), taken from the trace text. Handshake messages
// are whole (4-byte header included), as the transcript hashes them.
// Section 3, Simple 1-RTT Handshake; section 4, Resumed 0-RTT Handshake;
// section 5, HelloRetryRequest.
constexpr const char* kS3EarlySecret =
    "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a";
constexpr const char* kS3SharedSecret =
    "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
constexpr const char* kS3DerivedForHandshake =
    "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba";
constexpr const char* kS3HandshakeSecret =
    "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac";
constexpr const char* kS3HelloHash =
    "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
constexpr const char* kS3ClientHsTraffic =
    "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
constexpr const char* kS3ServerHsTraffic =
    "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
constexpr const char* kS3DerivedForMaster =
    "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4";
constexpr const char* kS3MasterSecret =
    "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919";
constexpr const char* kS3ServerFinishedKey =
    "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8";
constexpr const char* kS3ServerVerifyData =
    "9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718";
constexpr const char* kS3ServerFinishedHash =
    "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13";
constexpr const char* kS3ClientApTraffic =
    "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
constexpr const char* kS3ServerApTraffic =
    "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
constexpr const char* kS3ExporterMaster =
    "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50";
constexpr const char* kS3ClientVerifyData =
    "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";
constexpr const char* kS3ClientFinishedHash =
    "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d";
constexpr const char* kS3ResumptionMaster =
    "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c";
constexpr const char* kS3TicketPsk =
    "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3";
constexpr const char* kS4EarlySecret =
    "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c";
constexpr const char* kS4BinderHash =
    "63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14";
constexpr const char* kS4BinderKey =
    "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256";
constexpr const char* kS4Binder =
    "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d";
constexpr const char* kS4ClientHelloHash =
    "08ad0fa05d7c7233b1775ba2ff9f4c5b8b59276b7f227f13a976245f5d960913";
constexpr const char* kS4ClientEarlyTraffic =
    "3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62";
constexpr const char* kS4EarlyExporterMaster =
    "b2026866610937d7423e5be90862ccf24c0e6091186d34f812089ff5be2ef7df";
constexpr const char* kS4SharedSecret =
    "f44194756ff9ec9d25180635d66ea6824c6ab3bf179977be37f723570e7ccb2e";
constexpr const char* kS4HandshakeSecret =
    "005cb112fd8eb4ccc623bb88a07c64b3ede1605363fc7d0df8c7ce4ff0fb4ae6";
constexpr const char* kS4HelloHash =
    "f736cb34fe25e701551bee6fd24c1cc7102a7daf9405cb15d97aafe16f757d03";
constexpr const char* kS4ClientHsTraffic =
    "2faac08f851d35fea3604fcb4de82dc62c9b164a70974d0462e27f1ab278700f";
constexpr const char* kS4ServerHsTraffic =
    "fe927ae271312e8bf0275b581c54eef020450dc4ecffaa05a1a35d27518e7803";
constexpr const char* kS4MasterSecret =
    "e2d32d4ed66dd37897a0e80c84107503ce58bf8aad4cb55a5002d77ecb890ece";
constexpr const char* kS4ServerVerifyData =
    "48d3e0e1b3d907c6acff145e16090388c77b05c050b634ab1a88bbd0dd1a34b2";
constexpr const char* kS4ServerFinishedHash =
    "b0aeffc46a2cfe33114e6fd7d51f9f04b1ca3c497dab08934a774a9d9ad7dbf3";
constexpr const char* kS4ClientApTraffic =
    "2abbf2b8e381d23dbebe1dd2a7d16a8bf484cb4950d23fb7fb7fa8547062d9a1";
constexpr const char* kS4ServerApTraffic =
    "cc21f1bf8feb7dd5fa505bd9c4b468a9984d554a993dc49e6d285598fb672691";
constexpr const char* kS4ExporterMaster =
    "3fd93d4ffddc98e64b14dd107aedf8ee4add23f4510f58a4592d0b201bee56b4";
constexpr const char* kS4ClientVerifyData =
    "7230a9c952c25cd6138fc5e6628308c41c5335dd81b9f96bcea50fd32bda416d";
constexpr const char* kS4ClientFinishedHash =
    "c3c122e0bd907a4a3ff6112d8fd53dbf89c773d9552e8b6b9d56d361b3a97bf6";
constexpr const char* kS4ResumptionMaster =
    "5e95bdf1f89005ea2e9aa0ba85e728e3c19c5fe0c699e3f5bee59faebd0b5406";
constexpr const char* kS5SharedSecret =
    "c142ce13ca11b5c2233652e63ad3d97844f1621fbfb9de69d547dc8fedeabeb4";
constexpr const char* kS5HandshakeSecret =
    "ce022e5e6e81e50736d773f2d3adfce8220d049bf510f0dbfac927ef4243b148";
constexpr const char* kS5HelloHash =
    "8aa8e828ec2f8a884fec95a3139de01c15a3daa7ff5bfc3f4bfcc21b438d7bf8";
constexpr const char* kS5ClientHsTraffic =
    "158aa7ab8855073582b41d674b4055cabcc534728f659314861b4e08e2011566";
constexpr const char* kS5ServerHsTraffic =
    "3403e781e2af7b6508da28574f6e95a1abf162de83a97927c37672a4a0cef8a1";
constexpr const char* kS5MasterSecret =
    "1131545d0baf79ddce9b87f06945781a57dd18ef378dcd2060f8f9a569027ed8";
constexpr const char* kS3ClientHello =
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef"
    "6283024dece7000006130113031302010000910000000b000900000673657276"
    "6572ff01000100000a00140012001d0017001800190100010101020103010400"
    "230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e"
    "51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603"
    "020308040805080604010501060102010402050206020202002d00020101001c"
    "00024001";
constexpr const char* kS3ServerHello =
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155"
    "772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdb"
    "f7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304";
constexpr const char* kS3EncryptedExtensions =
    "080000240022000a00140012001d00170018001901000101010201030104001c"
    "0002400100000000";
constexpr const char* kS3Certificate =
    "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a"
    "864886f70d01010b0500300e310c300a06035504031303727361301e170d3136"
    "303733303031323335395a170d3236303733303031323335395a300e310c300a"
    "0603550403130372736130819f300d06092a864886f70d010101050003818d00"
    "30818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826"
    "d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced4312"
    "0998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda4308467480"
    "30530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a"
    "8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b060355"
    "1d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5"
    "b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a5"
    "8c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102"
    "702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0"
    "a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000";
constexpr const char* kS3CertificateVerify =
    "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145a"
    "b3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248ee"
    "aaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c"
    "9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea2"
    "0d53dfacd42f74f3";
constexpr const char* kS3ServerFinished =
    "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454"
    "b78f0718";
constexpr const char* kS3ClientFinished =
    "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2"
    "edd5ce61";
constexpr const char* kS3NewSessionTicket =
    "040000c90000001efad6aac502000000b22c035d829359ee5ff7af4ec9000000"
    "00262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785a"
    "bc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827"
    "db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529"
    "513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea61764"
    "6fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934a"
    "e4d3570008002a000400000400";
constexpr const char* kS4ClientHello =
    "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc41"
    "9d7876487d95000006130113031302010001cd0000000b000900000673657276"
    "6572ff01000100000a00140012001d0017001800190100010101020103010400"
    "3300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe"
    "051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603"
    "020308040805080604010501060102010402050206020202002d00020101001c"
    "0002400100150057000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "2900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a"
    "34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a98211"
    "7283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3"
    "664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b"
    "3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c6"
    "21a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb002120"
    "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d";
constexpr const char* kS4ServerHello =
    "0200005c03033ccfd2dec890222763472ae8136777c9d7358777bb66e91ea512"
    "2495f559ea2d00130100003400290002000000330024001d0020121761ee42c3"
    "33e1b9e77b60dd57c2053cd94512ab47f115e86eff50942cea31002b00020304";
constexpr const char* kS4EncryptedExtensions =
    "080000280026000a00140012001d00170018001901000101010201030104001c"
    "0002400100000000002a0000";
constexpr const char* kS4ServerFinished =
    "1400002048d3e0e1b3d907c6acff145e16090388c77b05c050b634ab1a88bbd0"
    "dd1a34b2";
constexpr const char* kS4EndOfEarlyData = "05000000";
constexpr const char* kS4ClientFinished =
    "140000207230a9c952c25cd6138fc5e6628308c41c5335dd81b9f96bcea50fd3"
    "2bda416d";
constexpr const char* kS5ClientHello1 =
    "010000b00303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee92"
    "58a346677b6f000006130113031302010000810000000b000900000673657276"
    "6572ff01000100000a00080006001d00170018003300260024001d0020e8e8e3"
    "f3b93a25ed97a14a7dcacb8a272c6288e585c6484d05262fcad062ad1f002b00"
    "03020304000d0020001e04030503060302030804080508060401050106010201"
    "0402050206020202002d00020101001c00024001";
constexpr const char* kS5HelloRetryRequest =
    "020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e"
    "09e2c8a8339c001301000084003300020017002c0074007271dcd04bb88bc318"
    "9119398a00000000eefafc76c146b823b096f8aacad365dd0030953f4edf6256"
    "36e5f21bb2e23fcc654b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d"
    "6e50781b5eda4aa15b0c8be778257d16aa3030e9e7841dd9e4c0342267e8ca0c"
    "af571fb2b7cff0f934b0002b00020304";
constexpr const char* kS5ClientHello2 =
    "010001fc0303b0b1c5a5aa37c5919f2ed1d5c6fff7fcb7849716945a2b8cee92"
    "58a346677b6f000006130113031302010001cd0000000b000900000673657276"
    "6572ff01000100000a00080006001d001700180033004700450017004104a6da"
    "7392ec591e17abfd535964b99894d13befb221b3def2ebe3830eac8f01518126"
    "77c4d6d2237e85cf01d6910cfb83954e76ba7352830534159897e8065780002b"
    "0003020304000d0020001e040305030603020308040805080604010501060102"
    "010402050206020202002c0074007271dcd04bb88bc3189119398a00000000ee"
    "fafc76c146b823b096f8aacad365dd0030953f4edf625636e5f21bb2e23fcc65"
    "4b1b5b40318d10d137abcbb87574e36e8a1f025f7dfa5d6e50781b5eda4aa15b"
    "0c8be778257d16aa3030e9e7841dd9e4c0342267e8ca0caf571fb2b7cff0f934"
    "b0002d00020101001c00024001001500af000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr const char* kS5ServerHello =
    "020000770303bb341d847fd789c47c387172dc0c9bf147fccacb5043d86ca4c5"
    "98d3ff571b9800130100004f003300450017004104583e054b7a66672ae020ad"
    "9d2686fcc85b5ad41a134a0f03ee72b893052bd85b4c8de6776f5b04ac07d835"
    "40eab3e3d9c547bc6528c4317d294686093a6cad7d002b00020304";

Secret secret(std::string_view hex_bytes, HashAlgorithm h = kSha256) {
  Secret s;
  EXPECT_TRUE(Secret::from(h, hex(hex_bytes), &s));
  return s;
}

// Feeds whole messages (hex) to a transcript.
void add(TranscriptHash* t, std::initializer_list<const char*> messages) {
  for (const char* m : messages)
    ASSERT_TRUE(t->update(hex(m)));
}

Bytes digest_of(const TranscriptHash& t) {
  HashValue v;
  EXPECT_TRUE(t.digest(&v));
  return bytes(v.span());
}

// The verify_data of a Finished message: what follows its 4-byte header.
Bytes verify_data_of(const char* finished_message) {
  const Bytes m = hex(finished_message);
  return Bytes(m.begin() + 4, m.end());
}

// ---------------------------------------------------------------------------
// RFC 8448 §3: Simple 1-RTT Handshake.

TEST(TlsKeySchedule, Rfc8448SimpleHandshake) {
  TranscriptHash t;
  // The suite is unknown until the ServerHello has been read: both hashes
  // run over the ClientHello and ServerHello.
  add(&t, {kS3ClientHello, kS3ServerHello});
  ASSERT_TRUE(t.select(kSha256));  // TLS_AES_128_GCM_SHA256
  HashValue hello;
  ASSERT_TRUE(t.digest(&hello));
  EXPECT_EQ(bytes(hello.span()), hex(kS3HelloHash));

  TlsKeySchedule ks(kSha256);
  ASSERT_TRUE(ks.set_early_secret());
  EXPECT_EQ(bytes(ks.early_secret().span()), hex(kS3EarlySecret));
  HashValue empty;
  ASSERT_TRUE(empty_hash(kSha256, &empty));
  Secret derived;
  ASSERT_TRUE(derive_secret(ks.early_secret(), "derived", empty, &derived));
  EXPECT_EQ(bytes(derived.span()), hex(kS3DerivedForHandshake));

  ASSERT_TRUE(ks.set_handshake_secret(hex(kS3SharedSecret)));
  EXPECT_EQ(bytes(ks.handshake_secret().span()), hex(kS3HandshakeSecret));
  EXPECT_EQ(ks.early_secret().length, 0);  // wiped: nothing derives from it any more
  Secret c_hs, s_hs;
  ASSERT_TRUE(ks.client_handshake_traffic_secret(hello, &c_hs));
  ASSERT_TRUE(ks.server_handshake_traffic_secret(hello, &s_hs));
  EXPECT_EQ(bytes(c_hs.span()), hex(kS3ClientHsTraffic));
  EXPECT_EQ(bytes(s_hs.span()), hex(kS3ServerHsTraffic));
  ASSERT_TRUE(derive_secret(ks.handshake_secret(), "derived", empty, &derived));
  EXPECT_EQ(bytes(derived.span()), hex(kS3DerivedForMaster));

  ASSERT_TRUE(ks.set_master_secret());
  EXPECT_EQ(bytes(ks.master_secret().span()), hex(kS3MasterSecret));
  EXPECT_EQ(ks.handshake_secret().length, 0);

  // Server Finished: HMAC over ClientHello..CertificateVerify.
  add(&t, {kS3EncryptedExtensions, kS3Certificate, kS3CertificateVerify});
  HashValue through_cv;
  ASSERT_TRUE(t.digest(&through_cv));
  HashValue server_verify;
  ASSERT_TRUE(compute_finished(s_hs, through_cv, &server_verify));
  EXPECT_EQ(bytes(server_verify.span()), hex(kS3ServerVerifyData));
  EXPECT_EQ(bytes(server_verify.span()), verify_data_of(kS3ServerFinished));
  EXPECT_TRUE(verify_finished(s_hs, through_cv, verify_data_of(kS3ServerFinished)));

  // Application secrets: ClientHello..server Finished.
  add(&t, {kS3ServerFinished});
  HashValue through_sf;
  ASSERT_TRUE(t.digest(&through_sf));
  EXPECT_EQ(bytes(through_sf.span()), hex(kS3ServerFinishedHash));
  Secret c_ap, s_ap, exporter;
  ASSERT_TRUE(ks.client_application_traffic_secret(through_sf, &c_ap));
  ASSERT_TRUE(ks.server_application_traffic_secret(through_sf, &s_ap));
  ASSERT_TRUE(ks.exporter_master_secret(through_sf, &exporter));
  EXPECT_EQ(bytes(c_ap.span()), hex(kS3ClientApTraffic));
  EXPECT_EQ(bytes(s_ap.span()), hex(kS3ServerApTraffic));
  EXPECT_EQ(bytes(exporter.span()), hex(kS3ExporterMaster));

  // Client Finished: the client's handshake secret over the same transcript.
  HashValue client_verify;
  ASSERT_TRUE(compute_finished(c_hs, through_sf, &client_verify));
  EXPECT_EQ(bytes(client_verify.span()), hex(kS3ClientVerifyData));
  EXPECT_TRUE(verify_finished(c_hs, through_sf, verify_data_of(kS3ClientFinished)));

  // Resumption: ClientHello..client Finished, then the ticket's PSK from
  // the NewSessionTicket's nonce (RFC 8446 §4.6.1).
  add(&t, {kS3ClientFinished});
  HashValue through_cf;
  ASSERT_TRUE(t.digest(&through_cf));
  EXPECT_EQ(bytes(through_cf.span()), hex(kS3ClientFinishedHash));
  Secret rms;
  ASSERT_TRUE(ks.resumption_master_secret(through_cf, &rms));
  EXPECT_EQ(bytes(rms.span()), hex(kS3ResumptionMaster));

  // NewSessionTicket: header(4) lifetime(4) age_add(4) nonce<0..255>.
  const Bytes nst = hex(kS3NewSessionTicket);
  const ByteSpan nonce(nst.data() + 13, nst[12]);
  ASSERT_EQ(nonce.size(), 2u);
  Secret psk;
  ASSERT_TRUE(ticket_psk(rms, nonce, &psk));
  EXPECT_EQ(bytes(psk.span()), hex(kS3TicketPsk));
}

TEST(TlsKeySchedule, Rfc8448FinishedKeyMatchesTrace) {
  // The finished_key ("expanded" in the trace) is internal to
  // compute_finished; check it through HKDF-Expand-Label to pin the label.
  std::array<std::uint8_t, 32> key;
  ASSERT_TRUE(hkdf_expand_label(kSha256, hex(kS3ServerHsTraffic), "finished", {}, key));
  EXPECT_EQ(bytes(key), hex(kS3ServerFinishedKey));
}

// ---------------------------------------------------------------------------
// RFC 8448 §4: Resumed 0-RTT Handshake, from the §3 ticket.

TEST(TlsKeySchedule, Rfc8448ResumedZeroRttHandshake) {
  TlsKeySchedule ks(kSha256);
  ASSERT_TRUE(ks.set_early_secret(hex(kS3TicketPsk)));
  EXPECT_EQ(bytes(ks.early_secret().span()), hex(kS4EarlySecret));

  Secret binder_key;
  ASSERT_TRUE(ks.binder_key(PskKind::kResumption, &binder_key));
  EXPECT_EQ(bytes(binder_key.span()), hex(kS4BinderKey));

  // The binder covers the ClientHello up to its binders list: here one
  // 32-byte binder, so the list is 2 + 1 + 32 bytes at the very end.
  const Bytes client_hello = hex(kS4ClientHello);
  constexpr std::size_t kBindersLength = 2 + 1 + 32;
  ASSERT_GT(client_hello.size(), kBindersLength);
  const ByteSpan truncated(client_hello.data(), client_hello.size() - kBindersLength);
  const ByteSpan sent_binder(client_hello.data() + client_hello.size() - 32, 32);

  TranscriptHash t;
  HashValue binder_hash;
  ASSERT_TRUE(t.digest_with_tail(kSha256, truncated, &binder_hash));
  EXPECT_EQ(bytes(binder_hash.span()), hex(kS4BinderHash));
  HashValue binder;
  ASSERT_TRUE(compute_psk_binder(binder_key, binder_hash, &binder));
  EXPECT_EQ(bytes(binder.span()), hex(kS4Binder));
  EXPECT_EQ(bytes(binder.span()), bytes(sent_binder));
  EXPECT_TRUE(verify_psk_binder(binder_key, binder_hash, sent_binder));
  // An external PSK's binder key differs ("ext binder"): the binder fails.
  Secret ext_binder_key;
  ASSERT_TRUE(ks.binder_key(PskKind::kExternal, &ext_binder_key));
  EXPECT_NE(bytes(ext_binder_key.span()), bytes(binder_key.span()));
  EXPECT_FALSE(verify_psk_binder(ext_binder_key, binder_hash, sent_binder));

  // digest_with_tail left the transcript empty; now the whole ClientHello.
  ASSERT_TRUE(t.update(client_hello));
  HashValue ch_hash;
  ASSERT_TRUE(t.digest(kSha256, &ch_hash));
  EXPECT_EQ(bytes(ch_hash.span()), hex(kS4ClientHelloHash));
  Secret c_e, e_exp;
  ASSERT_TRUE(ks.client_early_traffic_secret(ch_hash, &c_e));
  ASSERT_TRUE(ks.early_exporter_master_secret(ch_hash, &e_exp));
  EXPECT_EQ(bytes(c_e.span()), hex(kS4ClientEarlyTraffic));
  EXPECT_EQ(bytes(e_exp.span()), hex(kS4EarlyExporterMaster));

  add(&t, {kS4ServerHello});
  ASSERT_TRUE(t.select(kSha256));
  HashValue hello;
  ASSERT_TRUE(t.digest(&hello));
  EXPECT_EQ(bytes(hello.span()), hex(kS4HelloHash));
  ASSERT_TRUE(ks.set_handshake_secret(hex(kS4SharedSecret)));
  EXPECT_EQ(bytes(ks.handshake_secret().span()), hex(kS4HandshakeSecret));
  Secret c_hs, s_hs;
  ASSERT_TRUE(ks.client_handshake_traffic_secret(hello, &c_hs));
  ASSERT_TRUE(ks.server_handshake_traffic_secret(hello, &s_hs));
  EXPECT_EQ(bytes(c_hs.span()), hex(kS4ClientHsTraffic));
  EXPECT_EQ(bytes(s_hs.span()), hex(kS4ServerHsTraffic));
  ASSERT_TRUE(ks.set_master_secret());
  EXPECT_EQ(bytes(ks.master_secret().span()), hex(kS4MasterSecret));

  // A resumed handshake has no Certificate/CertificateVerify.
  add(&t, {kS4EncryptedExtensions});
  HashValue through_ee;
  ASSERT_TRUE(t.digest(&through_ee));
  HashValue server_verify;
  ASSERT_TRUE(compute_finished(s_hs, through_ee, &server_verify));
  EXPECT_EQ(bytes(server_verify.span()), hex(kS4ServerVerifyData));
  EXPECT_TRUE(verify_finished(s_hs, through_ee, verify_data_of(kS4ServerFinished)));

  add(&t, {kS4ServerFinished});
  HashValue through_sf;
  ASSERT_TRUE(t.digest(&through_sf));
  EXPECT_EQ(bytes(through_sf.span()), hex(kS4ServerFinishedHash));
  Secret c_ap, s_ap, exporter;
  ASSERT_TRUE(ks.client_application_traffic_secret(through_sf, &c_ap));
  ASSERT_TRUE(ks.server_application_traffic_secret(through_sf, &s_ap));
  ASSERT_TRUE(ks.exporter_master_secret(through_sf, &exporter));
  EXPECT_EQ(bytes(c_ap.span()), hex(kS4ClientApTraffic));
  EXPECT_EQ(bytes(s_ap.span()), hex(kS4ServerApTraffic));
  EXPECT_EQ(bytes(exporter.span()), hex(kS4ExporterMaster));

  // TLS over TCP sends EndOfEarlyData before the client Finished (QUIC does
  // not, RFC 9001 §8.3); the trace's transcript includes it.
  add(&t, {kS4EndOfEarlyData});
  HashValue through_eoed;
  ASSERT_TRUE(t.digest(&through_eoed));
  HashValue client_verify;
  ASSERT_TRUE(compute_finished(c_hs, through_eoed, &client_verify));
  EXPECT_EQ(bytes(client_verify.span()), hex(kS4ClientVerifyData));
  EXPECT_TRUE(verify_finished(c_hs, through_eoed, verify_data_of(kS4ClientFinished)));

  add(&t, {kS4ClientFinished});
  HashValue through_cf;
  ASSERT_TRUE(t.digest(&through_cf));
  EXPECT_EQ(bytes(through_cf.span()), hex(kS4ClientFinishedHash));
  Secret rms;
  ASSERT_TRUE(ks.resumption_master_secret(through_cf, &rms));
  EXPECT_EQ(bytes(rms.span()), hex(kS4ResumptionMaster));
}

// ---------------------------------------------------------------------------
// RFC 8448 §5: HelloRetryRequest. The handshake traffic secrets hash
// message_hash(ClientHello1) || HelloRetryRequest || ClientHello2 ||
// ServerHello (RFC 8446 §4.4.1).

void check_hrr_secrets(const TranscriptHash& t) {
  HashValue hello;
  ASSERT_TRUE(t.digest(&hello));
  EXPECT_EQ(bytes(hello.span()), hex(kS5HelloHash));

  TlsKeySchedule ks(kSha256);
  ASSERT_TRUE(ks.set_early_secret());
  ASSERT_TRUE(ks.set_handshake_secret(hex(kS5SharedSecret)));
  EXPECT_EQ(bytes(ks.handshake_secret().span()), hex(kS5HandshakeSecret));
  Secret c_hs, s_hs;
  ASSERT_TRUE(ks.client_handshake_traffic_secret(hello, &c_hs));
  ASSERT_TRUE(ks.server_handshake_traffic_secret(hello, &s_hs));
  EXPECT_EQ(bytes(c_hs.span()), hex(kS5ClientHsTraffic));
  EXPECT_EQ(bytes(s_hs.span()), hex(kS5ServerHsTraffic));
  ASSERT_TRUE(ks.set_master_secret());
  EXPECT_EQ(bytes(ks.master_secret().span()), hex(kS5MasterSecret));
}

TEST(TlsKeySchedule, Rfc8448HelloRetryRequestAfterSelect) {
  // The client learns the suite from the HelloRetryRequest.
  TranscriptHash t;
  add(&t, {kS5ClientHello1});
  ASSERT_TRUE(t.select(kSha256));
  ASSERT_TRUE(t.restart_for_hello_retry());
  add(&t, {kS5HelloRetryRequest, kS5ClientHello2, kS5ServerHello});
  check_hrr_secrets(t);
}

TEST(TlsKeySchedule, Rfc8448HelloRetryRequestBeforeSelect) {
  // Restarting both running hashes gives the same result once one is chosen.
  TranscriptHash t;
  add(&t, {kS5ClientHello1});
  ASSERT_TRUE(t.restart_for_hello_retry());
  add(&t, {kS5HelloRetryRequest, kS5ClientHello2, kS5ServerHello});
  ASSERT_TRUE(t.select(kSha256));
  check_hrr_secrets(t);
}

TEST(TlsKeySchedule, Rfc8448HelloRetryRequestFromCookieHash) {
  // A stateless server keeps only Hash(ClientHello1).
  Bytes ch1_hash(32);
  unsigned int len = 0;
  const Bytes ch1 = hex(kS5ClientHello1);
  ASSERT_EQ(EVP_Digest(ch1.data(), ch1.size(), ch1_hash.data(), &len, EVP_sha256(), nullptr), 1);
  TranscriptHash t;
  ASSERT_TRUE(t.restart_from_client_hello_hash(kSha256, ch1_hash));
  EXPECT_TRUE(t.selected());
  add(&t, {kS5HelloRetryRequest, kS5ClientHello2, kS5ServerHello});
  check_hrr_secrets(t);
  // The hash must have the suite's length.
  TranscriptHash t2;
  EXPECT_FALSE(t2.restart_from_client_hello_hash(kSha384, ch1_hash));
}

TEST(TlsKeySchedule, MessageHashConstruction) {
  // RFC 8446 §4.4.1, checked byte for byte against a one-shot hash of
  // 0xfe 00 00 Hash.length || Hash(ClientHello1) for both hashes.
  const Bytes ch1 = hex(kS5ClientHello1);
  const Bytes hrr = hex(kS5HelloRetryRequest);
  for (HashAlgorithm h : {kSha256, kSha384}) {
    SCOPED_TRACE(h == kSha256 ? "SHA-256" : "SHA-384");
    const EVP_MD* md = h == kSha256 ? EVP_sha256() : EVP_sha384();
    Bytes inner(hash_length(h));
    unsigned int len = 0;
    ASSERT_EQ(EVP_Digest(ch1.data(), ch1.size(), inner.data(), &len, md, nullptr), 1);
    Bytes synthetic = {0xfe, 0, 0, static_cast<std::uint8_t>(hash_length(h))};
    synthetic.insert(synthetic.end(), inner.begin(), inner.end());
    synthetic.insert(synthetic.end(), hrr.begin(), hrr.end());
    Bytes expected(hash_length(h));
    ASSERT_EQ(EVP_Digest(synthetic.data(), synthetic.size(), expected.data(), &len, md, nullptr),
              1);

    TranscriptHash t;
    ASSERT_TRUE(t.update(ch1));
    ASSERT_TRUE(t.restart_for_hello_retry());
    ASSERT_TRUE(t.update(hrr));
    HashValue v;
    ASSERT_TRUE(t.digest(h, &v));
    EXPECT_EQ(v.hash, h);
    EXPECT_EQ(bytes(v.span()), expected);
  }
}

// ---------------------------------------------------------------------------
// Transcript behaviour.

TEST(TranscriptHash, BothHashesRunUntilSelected) {
  const Bytes ch = hex(kS3ClientHello);
  const Bytes sh = hex(kS3ServerHello);
  Bytes both = ch;
  both.insert(both.end(), sh.begin(), sh.end());
  Bytes sha384(48);
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(both.data(), both.size(), sha384.data(), &len, EVP_sha384(), nullptr), 1);

  TranscriptHash t;
  EXPECT_TRUE(t.has(kSha256));
  EXPECT_TRUE(t.has(kSha384));
  EXPECT_FALSE(t.selected());
  HashValue v;
  EXPECT_FALSE(t.digest(&v));  // no suite yet
  // Message boundaries do not matter to the hash.
  ASSERT_TRUE(t.update({ch.data(), 10}));
  ASSERT_TRUE(t.update({ch.data() + 10, ch.size() - 10}));
  ASSERT_TRUE(t.update(sh));
  ASSERT_TRUE(t.update({}));
  ASSERT_TRUE(t.digest(kSha256, &v));
  EXPECT_EQ(bytes(v.span()), hex(kS3HelloHash));

  ASSERT_TRUE(t.select(kSha384));
  EXPECT_TRUE(t.selected());
  EXPECT_EQ(t.hash(), kSha384);
  EXPECT_FALSE(t.has(kSha256));
  EXPECT_FALSE(t.digest(kSha256, &v));
  EXPECT_FALSE(t.select(kSha256));  // the choice is final
  EXPECT_TRUE(t.select(kSha384));
  ASSERT_TRUE(t.digest(&v));
  EXPECT_EQ(v.hash, kSha384);
  EXPECT_EQ(v.length, 48);
  EXPECT_EQ(bytes(v.span()), sha384);
}

TEST(TranscriptHash, SnapshotsDoNotDisturbTheRunningHash) {
  TranscriptHash t;
  add(&t, {kS3ClientHello});
  HashValue a, b, tail;
  ASSERT_TRUE(t.digest(kSha256, &a));
  ASSERT_TRUE(t.digest_with_tail(kSha256, hex(kS3ServerHello), &tail));
  ASSERT_TRUE(t.digest(kSha256, &b));
  EXPECT_EQ(bytes(a.span()), bytes(b.span()));
  EXPECT_EQ(bytes(tail.span()), hex(kS3HelloHash));
  add(&t, {kS3ServerHello});
  ASSERT_TRUE(t.digest(kSha256, &b));
  EXPECT_EQ(bytes(b.span()), hex(kS3HelloHash));
}

TEST(TranscriptHash, Moves) {
  TranscriptHash a;
  add(&a, {kS3ClientHello});
  TranscriptHash b(std::move(a));
  add(&b, {kS3ServerHello});
  EXPECT_FALSE(a.has(kSha256));  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_FALSE(a.update(hex("00")));
  ASSERT_TRUE(b.select(kSha256));
  EXPECT_EQ(digest_of(b), hex(kS3HelloHash));
  TranscriptHash c;
  c = std::move(b);
  EXPECT_TRUE(c.selected());
  EXPECT_EQ(digest_of(c), hex(kS3HelloHash));
}

// ---------------------------------------------------------------------------
// Finished and misuse.

TEST(TlsKeySchedule, WrongFinishedFails) {
  const Secret s_hs = secret(kS3ServerHsTraffic);
  const Secret c_hs = secret(kS3ClientHsTraffic);
  TranscriptHash t;
  add(&t, {kS3ClientHello, kS3ServerHello, kS3EncryptedExtensions, kS3Certificate,
           kS3CertificateVerify});
  ASSERT_TRUE(t.select(kSha256));
  HashValue transcript;
  ASSERT_TRUE(t.digest(&transcript));
  const Bytes good = hex(kS3ServerVerifyData);
  ASSERT_TRUE(verify_finished(s_hs, transcript, good));

  for (std::size_t i : {std::size_t{0}, std::size_t{17}, good.size() - 1}) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    EXPECT_FALSE(verify_finished(s_hs, transcript, bad)) << "byte " << i;
  }
  EXPECT_FALSE(verify_finished(s_hs, transcript, {good.data(), good.size() - 1}));
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_FALSE(verify_finished(s_hs, transcript, longer));
  EXPECT_FALSE(verify_finished(s_hs, transcript, {}));
  // The client's key, or a transcript one message further, does not verify.
  EXPECT_FALSE(verify_finished(c_hs, transcript, good));
  add(&t, {kS3ServerFinished});
  HashValue later;
  ASSERT_TRUE(t.digest(&later));
  EXPECT_FALSE(verify_finished(s_hs, later, good));
}

TEST(TlsKeySchedule, StagesInOrderOnly) {
  HashValue h;
  h.hash = kSha256;
  h.length = 32;
  Secret out;
  TlsKeySchedule ks(kSha256);
  EXPECT_FALSE(ks.binder_key(PskKind::kResumption, &out));
  EXPECT_FALSE(ks.set_handshake_secret(hex(kS3SharedSecret)));
  EXPECT_FALSE(ks.set_master_secret());
  EXPECT_FALSE(ks.set_early_secret(ByteSpan{}));  // a PSK is never empty
  ASSERT_TRUE(ks.set_early_secret());
  EXPECT_FALSE(ks.set_early_secret());
  EXPECT_FALSE(ks.client_handshake_traffic_secret(h, &out));
  EXPECT_FALSE(ks.set_handshake_secret({}));  // no psk_ke without (EC)DHE
  ASSERT_TRUE(ks.set_handshake_secret(hex(kS3SharedSecret)));
  EXPECT_FALSE(ks.binder_key(PskKind::kResumption, &out));  // early secret is gone
  EXPECT_FALSE(ks.client_early_traffic_secret(h, &out));
  EXPECT_FALSE(ks.client_application_traffic_secret(h, &out));
  EXPECT_FALSE(ks.set_handshake_secret(hex(kS3SharedSecret)));
  ASSERT_TRUE(ks.set_master_secret());
  EXPECT_FALSE(ks.server_handshake_traffic_secret(h, &out));
  EXPECT_FALSE(ks.set_master_secret());
  EXPECT_TRUE(ks.resumption_master_secret(h, &out));
}

TEST(TlsKeySchedule, MoveWipesTheSource) {
  TlsKeySchedule a(kSha256);
  ASSERT_TRUE(a.set_early_secret());
  ASSERT_TRUE(a.set_handshake_secret(hex(kS3SharedSecret)));
  TlsKeySchedule b(std::move(a));
  EXPECT_EQ(bytes(b.handshake_secret().span()), hex(kS3HandshakeSecret));
  EXPECT_EQ(a.handshake_secret().length, 0);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.handshake_secret().bytes, (std::array<std::uint8_t, kMaxHashLength>{}));
  EXPECT_FALSE(a.set_master_secret());
  TlsKeySchedule c(kSha384);
  c = std::move(b);
  EXPECT_EQ(c.hash(), kSha256);
  ASSERT_TRUE(c.set_master_secret());
  EXPECT_EQ(bytes(c.master_secret().span()), hex(kS3MasterSecret));
}

TEST(TlsKeySchedule, HashesMustMatch) {
  TlsKeySchedule ks(kSha256);
  ASSERT_TRUE(ks.set_early_secret());
  HashValue sha384;
  ASSERT_TRUE(empty_hash(kSha384, &sha384));
  Secret out;
  EXPECT_FALSE(ks.client_early_traffic_secret(sha384, &out));
  HashValue unset;  // length 0
  EXPECT_FALSE(ks.client_early_traffic_secret(unset, &out));
  HashValue verify;
  EXPECT_FALSE(compute_finished(secret(kS3ServerHsTraffic), sha384, &verify));
  EXPECT_FALSE(compute_finished(Secret{}, sha384, &verify));
  // Ticket nonces are at most 255 bytes (opaque ticket_nonce<0..255>).
  const Bytes long_nonce(256, 0);
  EXPECT_FALSE(ticket_psk(secret(kS3ResumptionMaster), long_nonce, &out));
  EXPECT_TRUE(ticket_psk(secret(kS3ResumptionMaster), {}, &out));
}

TEST(TlsKeySchedule, Sha384Schedule) {
  // No RFC 8448 trace uses SHA-384: check lengths and that the whole
  // schedule runs, with the transcript feeding it.
  TranscriptHash t;
  add(&t, {kS3ClientHello, kS3ServerHello});
  ASSERT_TRUE(t.select(kSha384));
  HashValue hello;
  ASSERT_TRUE(t.digest(&hello));
  ASSERT_EQ(hello.length, 48);

  TlsKeySchedule ks(kSha384);
  ASSERT_TRUE(ks.set_early_secret(hex(kS3TicketPsk)));
  EXPECT_EQ(ks.early_secret().length, 48);
  Secret binder_key, c_e;
  ASSERT_TRUE(ks.binder_key(PskKind::kExternal, &binder_key));
  ASSERT_TRUE(ks.client_early_traffic_secret(hello, &c_e));
  EXPECT_EQ(binder_key.hash, kSha384);
  EXPECT_EQ(c_e.length, 48);
  ASSERT_TRUE(ks.set_handshake_secret(hex(kS3SharedSecret)));
  Secret c_hs, s_hs;
  ASSERT_TRUE(ks.client_handshake_traffic_secret(hello, &c_hs));
  ASSERT_TRUE(ks.server_handshake_traffic_secret(hello, &s_hs));
  EXPECT_EQ(c_hs.length, 48);
  EXPECT_NE(bytes(c_hs.span()), bytes(s_hs.span()));
  ASSERT_TRUE(ks.set_master_secret());
  HashValue verify;
  ASSERT_TRUE(compute_finished(s_hs, hello, &verify));
  EXPECT_EQ(verify.length, 48);
  EXPECT_TRUE(verify_finished(s_hs, hello, verify.span()));
  EXPECT_FALSE(verify_finished(s_hs, hello, {verify.bytes.data(), 32}));
  Secret rms, psk;
  ASSERT_TRUE(ks.resumption_master_secret(hello, &rms));
  ASSERT_TRUE(ticket_psk(rms, hex("0000"), &psk));
  EXPECT_EQ(psk.length, 48);
  // A SHA-256 transcript hash is refused by a SHA-384 schedule.
  HashValue sha256;
  ASSERT_TRUE(empty_hash(kSha256, &sha256));
  EXPECT_FALSE(ks.client_application_traffic_secret(sha256, &c_hs));
}

}  // namespace
}  // namespace dquic

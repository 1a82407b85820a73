// Decodes arbitrary bytes as transport parameters. The low bit of the first
// byte picks the sender's role; the rest is the extension_data. Whatever
// decodes must re-encode and decode to an equal struct (values, not bytes:
// non-minimal varints and parameter order are not preserved), and encoding
// into a too-small buffer must fail and leave the writer where it was.
#include <array>
#include <cstddef>
#include <cstdint>

#include "quic/transport_params.h"

using namespace dquic;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const EndpointRole sender = (data[0] & 1) ? EndpointRole::kServer : EndpointRole::kClient;
  const ByteSpan in(data + 1, size - 1);

  TransportParameters p;
  if (decode_transport_parameters(in, sender, &p) != TransportError::kNoError) return 0;
  check(validate_transport_parameters(p, sender) == TransportError::kNoError);

  // A truncated Available Versions list is not re-encodable by design; compare
  // the rest.
  if (p.version_information && p.version_information->available_versions_truncated) {
    check(p.version_information->available().size() == kMaxAvailableVersions);
    p.version_information.reset();
  }

  // Everything decoded is bounded (CIDs, tokens, 16 versions): far below 1 KiB.
  std::array<std::uint8_t, 1024> buf;
  Writer w(buf);
  const std::uint8_t grease_value[] = {0x5a, 0xa5};
  const GreaseTransportParameter grease{std::uint64_t{data[0]} >> 1, grease_value};
  const bool with_grease = (data[0] & 2) != 0;
  check(encode_transport_parameters(p, sender, w, with_grease ? &grease : nullptr));
  const std::size_t len = w.written();

  TransportParameters again;
  check(decode_transport_parameters({buf.data(), len}, sender, &again) == TransportError::kNoError);
  check(again == p);

  // Too small by one byte: fails, rewinds, keeps earlier output.
  if (len > 0) {
    std::array<std::uint8_t, 1024> small;
    Writer ws(std::span<std::uint8_t>(small.data(), len));
    ws.write_u8(0x77);
    check(!encode_transport_parameters(p, sender, ws, with_grease ? &grease : nullptr));
    check(ws.ok() && ws.written() == 1);
  }
  return 0;
}

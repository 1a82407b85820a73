#include "perf_report.h"

#include <cinttypes>
#include <cstdio>

namespace dquic::perf {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string lcore_list(const std::vector<unsigned>& l) {
  std::string s = "[";
  for (std::size_t i = 0; i < l.size(); ++i) {
    if (i != 0) s += ',';
    s += std::to_string(l[i]);
  }
  s += ']';
  return s;
}

}  // namespace

std::string result_json(const PerfResult& r) {
  std::string j = "{";
  auto field = [&j](const std::string& name, const std::string& value) {
    if (j.size() > 1) j += ", ";
    j += json_string(name) + ": " + value;
  };
  auto u64 = [](std::uint64_t v) { return std::to_string(v); };
  field("scenario", json_string(r.scenario));
  field("mode", json_string(r.mode));
  field("conns", u64(r.conns));
  field("streams", u64(r.streams));
  field("download_per_request", u64(r.download_per_request));
  field("upload_per_request", u64(r.upload_per_request));
  field("bytes", u64(r.bytes()));
  field("bytes_down", u64(r.bytes_down));
  field("bytes_up", u64(r.bytes_up));
  field("seconds", num(r.seconds));
  field("goodput_gbps", num(r.goodput_gbps()));
  field("packets_sent", u64(r.client.packets_sent + (r.server ? r.server->packets_sent : 0)));
  field("packets_lost", u64(r.client.packets_lost + (r.server ? r.server->packets_lost : 0)));
  field("client_packets_sent", u64(r.client.packets_sent));
  field("client_packets_lost", u64(r.client.packets_lost));
  if (r.server) {
    field("server_packets_sent", u64(r.server->packets_sent));
    field("server_packets_lost", u64(r.server->packets_lost));
  }
  field("requests_completed", u64(r.requests_completed));
  field("requests_failed", u64(r.requests_failed));
  if (r.mismatches != 0) field("mismatches", u64(r.mismatches));
  field("handshakes", u64(r.handshakes));
  if (r.handshakes_measured)
    field("handshakes_per_s", num(r.seconds > 0 ? r.handshakes / r.seconds : 0));
  if (r.requests_measured) {
    field("requests_per_s", num(r.seconds > 0 ? r.requests_completed / r.seconds : 0));
    const double us = 1e3;
    field("latency_us", "{\"p50\": " + num(r.latency.percentile(50) / us) +
                            ", \"p90\": " + num(r.latency.percentile(90) / us) +
                            ", \"p99\": " + num(r.latency.percentile(99) / us) +
                            ", \"p99.9\": " + num(r.latency.percentile(99.9) / us) +
                            ", \"max\": " + num(static_cast<double>(r.latency.max()) / us) +
                            ", \"count\": " + u64(r.latency.count()) + "}");
  }
  auto side = [&](const std::optional<PerfResult::SideCycles>& c, auto get) -> std::string {
    return c ? num(get(*c)) : "null";
  };
  auto pair = [&](auto get) {
    return "{\"client\": " + side(r.client_cycles, get) +
           ", \"server\": " + side(r.server_cycles, get) + "}";
  };
  using C = PerfResult::SideCycles;
  field("cycles_per_packet", pair([](const C& c) { return c.per_packet; }));
  field("receive_cycles_per_packet", pair([](const C& c) { return c.receive_per_rx_packet; }));
  field("send_cycles_per_packet", pair([](const C& c) { return c.send_per_tx_packet; }));
  field("busy_share", pair([](const C& c) { return c.busy_share; }));
  if (r.handshakes_measured)
    field("cycles_per_handshake", "{\"client\": " +
                                      (r.client_cycles && r.client_cycles->per_handshake
                                           ? num(*r.client_cycles->per_handshake)
                                           : "null") +
                                      ", \"server\": " +
                                      (r.server_cycles && r.server_cycles->per_handshake
                                           ? num(*r.server_cycles->per_handshake)
                                           : "null") +
                                      "}");
  if (r.handshakes_measured && r.server_cycles && r.server_cycles->per_handshake)
    field("server_handshakes_per_s_per_lcore_derived",
          num(r.tsc_hz / *r.server_cycles->per_handshake));
  field("client_verifies_certificate", r.client_verifies_certificate ? "true" : "false");
  field("client_verifies_signature", r.client_verifies_signature ? "true" : "false");
  field("crypto_backend", json_string(r.crypto_backend));
  field("cipher_suite", json_string(r.cipher_suite));
  field("congestion", json_string(r.congestion));
  field("no_encryption", r.no_encryption ? "true" : "false");
  field("lcores", "{\"client\": " + lcore_list(r.client_lcores) +
                      ", \"server\": " + lcore_list(r.server_lcores) + "}");
  return j + "}";
}

std::string result_table(const PerfResult& r) {
  std::string t;
  char line[256];
  auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof(line), "  %-22s %s\n", name, value.c_str());
    t += line;
  };
  t += "quic-perf " + r.mode + " " + r.scenario + " results\n";
  if (r.no_encryption)
    t += "  *** NO ENCRYPTION (diagnostic mode): not a benchmark of the protocol ***\n";
  if (!r.client_verifies_signature)
    t += "  *** --insecure-no-verify: the client did NOT authenticate the server ***\n";
  row("connections x streams", std::to_string(r.conns) + " x " + std::to_string(r.streams));
  row("bytes down / up", std::to_string(r.bytes_down) + " / " + std::to_string(r.bytes_up));
  row("seconds", num(r.seconds));
  row("goodput", num(r.goodput_gbps()) + " Gbit/s");
  row("requests ok / failed",
      std::to_string(r.requests_completed) + " / " + std::to_string(r.requests_failed));
  if (r.requests_measured) {
    row("requests/s", num(r.seconds > 0 ? r.requests_completed / r.seconds : 0));
    row("latency p50/p90/p99/p99.9", num(r.latency.percentile(50) / 1e3) + " / " +
                                         num(r.latency.percentile(90) / 1e3) + " / " +
                                         num(r.latency.percentile(99) / 1e3) + " / " +
                                         num(r.latency.percentile(99.9) / 1e3) + " us");
  }
  if (r.handshakes_measured) row("handshakes/s", num(r.seconds > 0 ? r.handshakes / r.seconds : 0));
  row("client verifies",
      std::string(r.client_verifies_certificate ? "chain+name" : "NO chain/name") + ", " +
          (r.client_verifies_signature ? "CertificateVerify" : "NO CertificateVerify"));
  row("client packets sent/lost",
      std::to_string(r.client.packets_sent) + " / " + std::to_string(r.client.packets_lost));
  row("client PTOs / dropped",
      std::to_string(r.client.pto_count) + " / " + std::to_string(r.client.packets_dropped));
  if (r.server)
    row("server PTOs / dropped",
        std::to_string(r.server->pto_count) + " / " + std::to_string(r.server->packets_dropped));
  if (r.server)
    row("server packets sent/lost",
        std::to_string(r.server->packets_sent) + " / " + std::to_string(r.server->packets_lost));
  auto cyc = [](const std::optional<PerfResult::SideCycles>& c, auto get) {
    return c ? num(get(*c)) : std::string("-");
  };
  using C = PerfResult::SideCycles;
  row("cycles/packet c / s", cyc(r.client_cycles, [](const C& c) { return c.per_packet; }) + " / " +
                                 cyc(r.server_cycles, [](const C& c) { return c.per_packet; }));
  row("  receive / send c",
      cyc(r.client_cycles, [](const C& c) { return c.receive_per_rx_packet; }) + " / " +
          cyc(r.client_cycles, [](const C& c) { return c.send_per_tx_packet; }));
  row("  receive / send s",
      cyc(r.server_cycles, [](const C& c) { return c.receive_per_rx_packet; }) + " / " +
          cyc(r.server_cycles, [](const C& c) { return c.send_per_tx_packet; }));
  row("busy share c / s", cyc(r.client_cycles, [](const C& c) { return c.busy_share; }) + " / " +
                              cyc(r.server_cycles, [](const C& c) { return c.busy_share; }));
  if (r.handshakes_measured && r.server_cycles && r.server_cycles->per_handshake)
    row("server hs/s per lcore", num(r.tsc_hz / *r.server_cycles->per_handshake) +
                                     " (derived: TSC Hz / busy cycles per handshake)");
  if (r.handshakes_measured)
    row("cycles/handshake c / s",
        cyc(r.client_cycles, [](const C& c) { return c.per_handshake.value_or(0); }) + " / " +
            cyc(r.server_cycles, [](const C& c) { return c.per_handshake.value_or(0); }));
  row("crypto", r.crypto_backend);
  row("cipher suite", r.cipher_suite);
  row("congestion", r.congestion);
  row("lcores client / server", lcore_list(r.client_lcores) + " / " + lcore_list(r.server_lcores));
  return t;
}

}  // namespace dquic::perf

#include "offload/backends.h"

#include "offload/aead_evp.h"
#include "offload/cryptodev_aead.h"
#include "offload/cryptodev_hp.h"
#include "offload/hp_inline.h"

namespace dquic::offload {
namespace {

constexpr AeadAlgorithm kPrimaryAead = AeadAlgorithm::kAes128Gcm;  // every Initial uses it

bool any_quic_aead(const drivers::CryptoDeviceInfo& d) {
  return cryptodev_supports_aead(d, AeadAlgorithm::kAes128Gcm) ||
         cryptodev_supports_aead(d, AeadAlgorithm::kAes256Gcm) ||
         cryptodev_supports_aead(d, AeadAlgorithm::kChacha20Poly1305);
}

// First candidate satisfying `pred`, or -1.
template <typename Pred>
int first(const std::vector<drivers::CryptoDeviceInfo>& devices, const std::vector<int>& candidates,
          Pred pred) {
  for (int i : candidates)
    if (pred(devices[static_cast<std::size_t>(i)])) return i;
  return -1;
}

bool choose_aead(const ProtectionOptions& o, const std::vector<drivers::CryptoDeviceInfo>& devices,
                 const std::vector<int>& candidates, BackendChoice* out, std::string* err) {
  auto gcm = [](const drivers::CryptoDeviceInfo& d) {
    return cryptodev_supports_aead(d, kPrimaryAead);
  };
  auto cpu_gcm = [&](const drivers::CryptoDeviceInfo& d) { return d.cpu_crypto() && gcm(d); };
  auto hw_gcm = [&](const drivers::CryptoDeviceInfo& d) { return d.hw_accelerated() && gcm(d); };
  // Zero-copy: a software device that gathers into a linear destination.
  auto sw_gather_gcm = [&](const drivers::CryptoDeviceInfo& d) {
    return !d.hw_accelerated() && d.oop_sgl_in_lb_out() && gcm(d);
  };
  // An explicitly named device may serve only some suites (e.g. ChaCha20):
  // keys it cannot take go inline.
  const bool named = !o.device.empty();
  auto named_any = [&](const drivers::CryptoDeviceInfo& d) { return named && any_quic_aead(d); };
  int dev = -1;
  if (o.aead == "inline") {
    out->aead = AeadBackend::kInline;
    return true;
  }
  if (o.aead == "cpu" && o.zero_copy) {
    *err =
        "aead=cpu: CPU crypto cannot seal out of place on DPDK 22.11, so zero-copy payloads "
        "would be copied (choose auto, inline or cryptodev, or turn zero-copy off)";
    return false;
  }
  if (o.aead == "cpu") {
    dev = first(devices, candidates, cpu_gcm);
    if (dev < 0) {
      dev = first(devices, candidates, [&](const drivers::CryptoDeviceInfo& d) {
        return d.cpu_crypto() && named_any(d);
      });
    }
    if (dev < 0) {
      *err =
          "aead=cpu: no crypto device with CPU crypto (RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) and a "
          "QUIC AEAD";
      return false;
    }
    out->aead = AeadBackend::kCpuCrypto;
  } else if (o.aead == "cryptodev" && o.zero_copy) {
    dev = first(devices, candidates, sw_gather_gcm);
    if (dev < 0) {
      *err =
          "aead=cryptodev: zero-copy needs a software crypto device that gathers out of place "
          "(hardware cannot read unregistered file pages)";
      return false;
    }
    out->aead = AeadBackend::kCryptodevAsync;
  } else if (o.aead == "cryptodev") {
    dev = first(devices, candidates, hw_gcm);
    if (dev < 0) dev = first(devices, candidates, gcm);
    if (dev < 0) dev = first(devices, candidates, named_any);
    if (dev < 0) {
      *err = "aead=cryptodev: no crypto device supports a QUIC AEAD";
      return false;
    }
    out->aead = AeadBackend::kCryptodevAsync;
  } else if (o.aead == "auto" && o.zero_copy) {
    dev = first(devices, candidates, sw_gather_gcm);
    out->aead = dev >= 0 ? AeadBackend::kCryptodevAsync : AeadBackend::kInline;
  } else if (o.aead == "auto") {
    if ((dev = first(devices, candidates, cpu_gcm)) >= 0) {
      out->aead = AeadBackend::kCpuCrypto;
    } else if ((dev = first(devices, candidates, hw_gcm)) >= 0 ||
               (dev = first(devices, candidates, gcm)) >= 0) {
      out->aead = AeadBackend::kCryptodevAsync;
    } else {
      out->aead = AeadBackend::kInline;
    }
  } else {
    *err = "aead: unknown backend '" + o.aead + "' (auto|inline|cryptodev|cpu)";
    return false;
  }
  out->aead_device = dev;
  return true;
}

bool choose_hp(const ProtectionOptions& o, const std::vector<drivers::CryptoDeviceInfo>& devices,
               const std::vector<int>& candidates, BackendChoice* out, std::string* err) {
  if (o.hp == "auto" || o.hp == "inline") {
    out->hp = HpBackend::kInline;
    return true;
  }
  if (o.hp != "cryptodev") {
    *err = "hp: unknown backend '" + o.hp + "' (auto|inline|cryptodev)";
    return false;
  }
  auto ecb = [](const drivers::CryptoDeviceInfo& d) {
    return cryptodev_supports_hp(d, kPrimaryAead) && d.aes_ecb.present;
  };
  auto any = [](const drivers::CryptoDeviceInfo& d) {
    return cryptodev_supports_hp(d, kPrimaryAead);
  };
  // Prefer the AEAD's device (one device, one set of queue pairs), then
  // AES-ECB (one block) over AES-CTR.
  int dev = -1;
  const int a = out->aead_device;
  if (a >= 0 && ecb(devices[static_cast<std::size_t>(a)])) dev = a;
  if (dev < 0) dev = first(devices, candidates, ecb);
  if (dev < 0 && a >= 0 && any(devices[static_cast<std::size_t>(a)])) dev = a;
  if (dev < 0) dev = first(devices, candidates, any);
  if (dev < 0) {
    *err = "hp=cryptodev: no crypto device has AES-ECB or AES-CTR for header protection";
    return false;
  }
  out->hp = HpBackend::kCryptodev;
  out->hp_device = dev;
  return true;
}

}  // namespace

const char* aead_backend_name(AeadBackend b) {
  switch (b) {
    case AeadBackend::kInline:
      return "inline";
    case AeadBackend::kCryptodevAsync:
      return "cryptodev";
    case AeadBackend::kCpuCrypto:
      return "cpu";
  }
  return "?";
}

const char* hp_backend_name(HpBackend b) {
  return b == HpBackend::kCryptodev ? "cryptodev" : "inline";
}

bool choose_backends(const ProtectionOptions& options,
                     const std::vector<drivers::CryptoDeviceInfo>& devices, BackendChoice* out,
                     std::string* err) {
  std::string scratch;
  if (err == nullptr) err = &scratch;
  *out = BackendChoice{};
  std::vector<int> candidates;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    if (options.device.empty() || devices[i].name == options.device)
      candidates.push_back(static_cast<int>(i));
  }
  if (!options.device.empty() && candidates.empty()) {
    *err = "crypto device '" + options.device + "' not found";
    return false;
  }
  if (options.sessions == 0) {
    *err = "sessions must be at least 1";
    return false;
  }
  return choose_aead(options, devices, candidates, out, err) &&
         choose_hp(options, devices, candidates, out, err);
}

std::unique_ptr<ProtectionBackends> ProtectionBackends::create(const ProtectionOptions& options,
                                                               std::uint16_t lanes,
                                                               std::string* err) {
  std::string scratch;
  if (err == nullptr) err = &scratch;
  if (lanes == 0) {
    *err = "protection backends need at least one lane";
    return nullptr;
  }
  std::unique_ptr<ProtectionBackends> b(new ProtectionBackends);
  b->lanes_ = lanes;
  b->zero_copy_ = options.zero_copy;
  b->devices_ = drivers::probe_crypto_devices();
  if (!choose_backends(options, b->devices_, &b->choice_, err)) return nullptr;

  // Start each chosen device once, with a queue pair per lane.
  auto start = [&](int index) -> const drivers::CryptoDevice* {
    const drivers::CryptoDeviceInfo& info = b->devices_[static_cast<std::size_t>(index)];
    for (const drivers::CryptoDevice& d : b->started_)
      if (d.info.dev_id == info.dev_id) return &d;
    drivers::CryptoDevice d;
    if (!drivers::start_crypto_device(info.dev_id, lanes, options.sessions, info.socket, &d, err))
      return nullptr;
    b->started_.push_back(std::move(d));
    return &b->started_.back();
  };
  b->started_.reserve(2);
  const drivers::CryptoDevice* aead_dev = nullptr;
  const drivers::CryptoDevice* hp_dev = nullptr;
  if (b->choice_.aead != AeadBackend::kInline &&
      (aead_dev = start(b->choice_.aead_device)) == nullptr)
    return nullptr;
  if (b->choice_.hp != HpBackend::kInline && (hp_dev = start(b->choice_.hp_device)) == nullptr)
    return nullptr;

  b->lane_engines_.resize(lanes);
  for (std::uint16_t q = 0; q < lanes; ++q) {
    Lane& l = b->lane_engines_[q];
    l.inline_aead = make_evp_aead_engine();
    l.inline_hp = make_inline_hp_engine();
    if (l.inline_aead == nullptr || l.inline_hp == nullptr) {
      *err = "inline crypto engines could not be created";
      return nullptr;
    }
    if (aead_dev != nullptr) {
      const CryptodevMode mode = b->choice_.aead == AeadBackend::kCpuCrypto
                                     ? CryptodevMode::kCpuCrypto
                                     : CryptodevMode::kAsync;
      l.device_aead = make_cryptodev_aead_engine(*aead_dev, q, mode);
      if (l.device_aead == nullptr) {
        *err = "cryptodev " + aead_dev->info.name + ": AEAD engine start failed";
        return nullptr;
      }
      // The capability flag is a claim; the engine's probe is the fact.
      if (options.zero_copy && !l.device_aead->supports_gather()) {
        *err = "cryptodev " + aead_dev->info.name +
               ": zero-copy, but its out-of-place gather failed the self-test";
        return nullptr;
      }
    }
    if (hp_dev != nullptr) {
      l.device_hp = make_cryptodev_hp_engine(*hp_dev, q);
      if (l.device_hp == nullptr) {
        *err = "cryptodev " + hp_dev->info.name + ": header-protection engine start failed";
        return nullptr;
      }
    }
  }
  return b;
}

ProtectionBackends::~ProtectionBackends() {
  // Engines (and their op pools) go before the devices they run on.
  lane_engines_.clear();
  for (drivers::CryptoDevice& d : started_)
    drivers::close_crypto_device(&d);
}

AeadEngine* ProtectionBackends::aead_engine(std::uint16_t lane) const {
  const Lane& l = lane_engines_.at(lane);
  return l.device_aead != nullptr ? l.device_aead.get() : l.inline_aead.get();
}

HpEngine* ProtectionBackends::hp_engine(std::uint16_t lane) const {
  const Lane& l = lane_engines_.at(lane);
  return l.device_hp != nullptr ? l.device_hp.get() : l.inline_hp.get();
}

std::unique_ptr<Protector> ProtectionBackends::make_protector(std::uint16_t lane) {
  if (lane >= lanes_) return nullptr;
  const Lane& l = lane_engines_[lane];
  auto p = std::make_unique<Protector>(aead_engine(lane), hp_engine(lane), l.inline_aead.get(),
                                       l.inline_hp.get());
  if (zero_copy_) p->set_gather_preferred(true);  // the engine gathers: checked in create()
  return p;
}

std::string ProtectionBackends::describe() const {
  auto device = [&](int i) {
    return i < 0 ? std::string() : " on " + devices_[static_cast<std::size_t>(i)].name;
  };
  std::string s = "aead=";
  s += aead_backend_name(choice_.aead);
  s += device(choice_.aead_device);
  if (!lane_engines_.empty()) {
    const AeadEngine* a = aead_engine(0);
    s += " (";
    s += a->name();
    s += a->supports_gather() ? ", gather out-of-place)" : ", gather by copy)";
  }
  s += " hp=";
  s += hp_backend_name(choice_.hp);
  s += device(choice_.hp_device);
  if (!lane_engines_.empty()) {
    s += " (";
    s += hp_engine(0)->name();
    s += ")";
  }
  if (zero_copy_) s += " zero-copy";
  s += " lanes=" + std::to_string(lanes_);
  if (!started_.empty()) s += " sessions/device=" + std::to_string(started_.front().sessions);
  return s;
}

}  // namespace dquic::offload

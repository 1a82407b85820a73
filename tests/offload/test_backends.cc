#include "offload/test_backends.h"

#include <rte_lcore.h>

#include <map>

#include "drivers/crypto_device.h"
#include "offload/aead_evp.h"
#include "offload/cryptodev_aead.h"
#include "offload/cryptodev_hp.h"
#include "offload/hp_inline.h"

namespace dquic::offload {
namespace {

// Devices are started once per process and kept: pairings are built and torn
// down per test (AEAD on queue pair 0, header protection on 1).
std::map<std::string, drivers::CryptoDevice>& started_devices() {
  static std::map<std::string, drivers::CryptoDevice> devices;
  static bool probed = false;
  if (!probed) {
    probed = true;
    for (const auto& info : drivers::probe_crypto_devices()) {
      drivers::CryptoDevice dev;
      std::string err;
      if (drivers::start_crypto_device(info.dev_id, 2, 1024, static_cast<int>(rte_socket_id()),
                                       &dev, &err)) {
        devices.emplace(info.name, dev);
      }
    }
  }
  return devices;
}

class Pairing : public TestBackends {
 public:
  Pairing(std::unique_ptr<AeadEngine> aead, std::unique_ptr<HpEngine> hp)
      : inline_aead_(make_evp_aead_engine()),
        inline_hp_(make_inline_hp_engine()),
        aead_(std::move(aead)),
        hp_(std::move(hp)) {
    protector_ = std::make_unique<Protector>(aead_ ? aead_.get() : inline_aead_.get(),
                                             hp_ ? hp_.get() : inline_hp_.get(), inline_aead_.get(),
                                             inline_hp_.get());
  }
  ~Pairing() override { protector_.reset(); }  // before the engines it uses
  Protector& protector() override { return *protector_; }
  AeadEngine& aead() override { return aead_ ? *aead_ : *inline_aead_; }

 private:
  std::unique_ptr<AeadEngine> inline_aead_;
  std::unique_ptr<HpEngine> inline_hp_;
  std::unique_ptr<AeadEngine> aead_;
  std::unique_ptr<HpEngine> hp_;
  std::unique_ptr<Protector> protector_;
};

}  // namespace

std::vector<std::string> test_backend_names() {
  std::vector<std::string> names = {"inline"};
  for (const auto& [name, dev] : started_devices()) {
    // The flag alone is not enough: some PMDs advertise CPU crypto and refuse
    // it, which the engine's start-up self-test finds.
    if (dev.info.cpu_crypto() && make_cryptodev_aead_engine(dev, 0, CryptodevMode::kCpuCrypto)) {
      names.push_back(name + "_cpu");
    }
    names.push_back(name + "_async");
    if (dev.info.aes_ecb.present || dev.info.aes_ctr.present)
      names.push_back(name + "_async_devhp");
  }
  return names;
}

std::unique_ptr<TestBackends> make_test_backends(const std::string& name) {
  if (name == "inline") return std::make_unique<Pairing>(nullptr, nullptr);
  for (const auto& [dev_name, dev] : started_devices()) {
    for (const char* suffix : {"_cpu", "_async", "_async_devhp"}) {
      if (name != dev_name + suffix) continue;
      const std::string s = suffix;
      const CryptodevMode mode = s == "_cpu" ? CryptodevMode::kCpuCrypto : CryptodevMode::kAsync;
      std::unique_ptr<AeadEngine> aead = make_cryptodev_aead_engine(dev, 0, mode);
      if (aead == nullptr) return nullptr;
      std::unique_ptr<HpEngine> hp;
      if (s == "_async_devhp") {
        hp = make_cryptodev_hp_engine(dev, 1);  // its own queue pair
        if (hp == nullptr) return nullptr;
      }
      return std::make_unique<Pairing>(std::move(aead), std::move(hp));
    }
  }
  return nullptr;
}

void close_test_devices() {
  for (auto& [name, dev] : started_devices())
    drivers::close_crypto_device(&dev);
  started_devices().clear();
}

}  // namespace dquic::offload

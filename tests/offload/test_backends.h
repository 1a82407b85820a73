// Every AEAD/HP backend pairing this machine can run, by name, for tests and
// benchmarks that must cover all of them: "inline" (OpenSSL EVP + AES-NI
// header protection) and, per crypto device found, "<dev>_cpu" (CPU crypto),
// "<dev>_async" (enqueue/dequeue) and "<dev>_async_devhp" (header
// protection on the device too).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "offload/protector.h"

namespace dquic::offload {

class TestBackends {
 public:
  virtual ~TestBackends() = default;
  virtual Protector& protector() = 0;
  // The chosen AEAD engine itself, for checks below the pipeline.
  virtual AeadEngine& aead() = 0;
};

// Names of the pairings available (starts the crypto devices on first call).
std::vector<std::string> test_backend_names();
// nullptr if `name` is not available.
std::unique_ptr<TestBackends> make_test_backends(const std::string& name);
// Stops and closes the devices started above; call before rte_eal_cleanup
// once every pairing is gone.
void close_test_devices();

}  // namespace dquic::offload

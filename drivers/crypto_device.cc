#include "drivers/crypto_device.h"

#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_memory.h>

#include <algorithm>
#include <cstdio>

namespace dquic::drivers {
namespace {

SizeRange range_of(const rte_crypto_param_range& r) {
  return {r.min, r.max, r.increment};
}

void read_capabilities(const rte_cryptodev_capabilities* caps, CryptoDeviceInfo* info) {
  for (const rte_cryptodev_capabilities* c = caps; c->op != RTE_CRYPTO_OP_TYPE_UNDEFINED; ++c) {
    if (c->op != RTE_CRYPTO_OP_TYPE_SYMMETRIC) continue;
    if (c->sym.xform_type == RTE_CRYPTO_SYM_XFORM_AEAD) {
      SymCapability* dst = nullptr;
      if (c->sym.aead.algo == RTE_CRYPTO_AEAD_AES_GCM) dst = &info->aes_gcm;
      if (c->sym.aead.algo == RTE_CRYPTO_AEAD_CHACHA20_POLY1305) dst = &info->chacha20_poly1305;
      if (dst == nullptr) continue;
      dst->present = true;
      dst->key = range_of(c->sym.aead.key_size);
      dst->iv = range_of(c->sym.aead.iv_size);
      dst->digest = range_of(c->sym.aead.digest_size);
      dst->aad = range_of(c->sym.aead.aad_size);
    } else if (c->sym.xform_type == RTE_CRYPTO_SYM_XFORM_CIPHER) {
      SymCapability* dst = nullptr;
      if (c->sym.cipher.algo == RTE_CRYPTO_CIPHER_AES_ECB) dst = &info->aes_ecb;
      if (c->sym.cipher.algo == RTE_CRYPTO_CIPHER_AES_CTR) dst = &info->aes_ctr;
      if (dst == nullptr) continue;
      dst->present = true;
      dst->key = range_of(c->sym.cipher.key_size);
      dst->iv = range_of(c->sym.cipher.iv_size);
    }
  }
}

void set_error(std::string* err, const char* what, std::uint8_t dev_id, int rc) {
  if (err == nullptr) return;
  char buf[160];
  std::snprintf(buf, sizeof(buf), "cryptodev %u: %s failed: %s", dev_id, what,
                rte_strerror(rc < 0 ? -rc : rc));
  *err = buf;
}

}  // namespace

bool CryptoDeviceInfo::cpu_crypto() const {
  return has(RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO);
}
bool CryptoDeviceInfo::hw_accelerated() const {
  return has(RTE_CRYPTODEV_FF_HW_ACCELERATED);
}
bool CryptoDeviceInfo::in_place_sgl() const {
  return has(RTE_CRYPTODEV_FF_IN_PLACE_SGL);
}
bool CryptoDeviceInfo::oop_sgl_in_lb_out() const {
  return has(RTE_CRYPTODEV_FF_OOP_SGL_IN_LB_OUT);
}
bool CryptoDeviceInfo::oop_sgl_in_sgl_out() const {
  return has(RTE_CRYPTODEV_FF_OOP_SGL_IN_SGL_OUT);
}
bool CryptoDeviceInfo::oop_lb_in_lb_out() const {
  return has(RTE_CRYPTODEV_FF_OOP_LB_IN_LB_OUT);
}

std::vector<CryptoDeviceInfo> probe_crypto_devices() {
  std::vector<CryptoDeviceInfo> out;
  const std::uint8_t count = rte_cryptodev_count();
  // Device ids are dense for devices created at EAL init (no hot-unplug here).
  for (std::uint8_t id = 0; id < count; ++id) {
    if (!rte_cryptodev_is_valid_dev(id)) continue;
    rte_cryptodev_info di{};
    rte_cryptodev_info_get(id, &di);
    CryptoDeviceInfo info;
    info.dev_id = id;
    const char* name = rte_cryptodev_name_get(id);
    info.name = name != nullptr ? name : "";
    info.driver = di.driver_name != nullptr ? di.driver_name : "";
    info.socket = rte_cryptodev_socket_id(id);
    info.feature_flags = di.feature_flags;
    info.max_queue_pairs = static_cast<std::uint16_t>(di.max_nb_queue_pairs);
    info.max_sessions = di.sym.max_nb_sessions;
    if (di.capabilities != nullptr) read_capabilities(di.capabilities, &info);
    out.push_back(std::move(info));
  }
  return out;
}

const CryptoDeviceInfo* find_crypto_device(const std::vector<CryptoDeviceInfo>& devices,
                                           const std::string& name) {
  for (const CryptoDeviceInfo& d : devices)
    if (d.name == name) return &d;
  return nullptr;
}

bool start_crypto_device(std::uint8_t dev_id, std::uint16_t queue_pairs, std::uint32_t sessions,
                         int socket, CryptoDevice* out, std::string* err,
                         std::uint32_t descriptors) {
  CryptoDevice dev;
  bool found = false;
  for (CryptoDeviceInfo& info : probe_crypto_devices()) {
    if (info.dev_id == dev_id) {
      dev.info = std::move(info);
      found = true;
    }
  }
  if (!found) {
    set_error(err, "lookup", dev_id, ENODEV);
    return false;
  }
  if (queue_pairs == 0 || queue_pairs > dev.info.max_queue_pairs) {
    if (err != nullptr) {
      *err = "cryptodev " + dev.info.name + ": " + std::to_string(queue_pairs) +
             " queue pairs requested, device offers " + std::to_string(dev.info.max_queue_pairs);
    }
    return false;
  }
  if (socket < 0) socket = SOCKET_ID_ANY;
  if (dev.info.max_sessions != 0) sessions = std::min(sessions, dev.info.max_sessions);
  if (sessions == 0) sessions = 1;

  rte_cryptodev_config conf{};
  conf.socket_id = socket;
  conf.nb_queue_pairs = queue_pairs;
  // Only symmetric crypto is used: let the PMD skip asymmetric and security setup.
  conf.ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO | RTE_CRYPTODEV_FF_SECURITY;
  int rc = rte_cryptodev_configure(dev_id, &conf);
  if (rc < 0) {
    set_error(err, "configure", dev_id, rc);
    return false;
  }

  char pool_name[RTE_MEMPOOL_NAMESIZE];
  std::snprintf(pool_name, sizeof(pool_name), "dquic_sess_%u", dev_id);
  const unsigned priv = rte_cryptodev_sym_get_private_session_size(dev_id);
  // A per-lcore cache would hide sessions from other lcores and make small
  // pools run dry early; session creation is not on the packet path.
  rte_mempool* pool =
      rte_cryptodev_sym_session_pool_create(pool_name, sessions, priv, 0, 0, socket);
  if (pool == nullptr) {
    set_error(err, "session pool create", dev_id, rte_errno);
    rte_cryptodev_close(dev_id);
    return false;
  }

  rte_cryptodev_qp_conf qp{};
  qp.nb_descriptors = descriptors;
  qp.mp_session = pool;
  for (std::uint16_t q = 0; q < queue_pairs; ++q) {
    rc = rte_cryptodev_queue_pair_setup(dev_id, q, &qp, socket);
    if (rc < 0) {
      set_error(err, "queue pair setup", dev_id, rc);
      rte_cryptodev_close(dev_id);
      rte_mempool_free(pool);
      return false;
    }
  }
  rc = rte_cryptodev_start(dev_id);
  if (rc < 0) {
    set_error(err, "start", dev_id, rc);
    rte_cryptodev_close(dev_id);
    rte_mempool_free(pool);
    return false;
  }
  dev.queue_pairs = queue_pairs;
  dev.descriptors = descriptors;
  dev.sessions = sessions;
  dev.session_pool = pool;
  dev.started = true;
  *out = std::move(dev);
  return true;
}

void stop_crypto_device(CryptoDevice* dev) {
  if (dev == nullptr || !dev->started) return;
  rte_cryptodev_stop(dev->info.dev_id);
  dev->started = false;
}

void close_crypto_device(CryptoDevice* dev) {
  if (dev == nullptr || dev->session_pool == nullptr) return;
  stop_crypto_device(dev);
  rte_cryptodev_close(dev->info.dev_id);
  rte_mempool_free(dev->session_pool);
  dev->session_pool = nullptr;
  dev->queue_pairs = 0;
}

}  // namespace dquic::drivers

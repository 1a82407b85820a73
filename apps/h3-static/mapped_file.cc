#include "apps/h3-static/mapped_file.h"

#include <errno.h>
#include <sys/mman.h>

#include <type_traits>

#include "quic/send_buffer.h"

namespace dquic::h3static {

// release_chunk must be usable as a SendBuffer ReleaseFn as it stands.
static_assert(std::is_same_v<decltype(&MappedFile::release_chunk), dquic::ReleaseFn>);

MappedFile::MappedFile(const std::uint8_t* data, const FileKey& key) : data_(data), key_(key) {
  shinfo_.free_cb = &MappedFile::ext_free;
  shinfo_.fcb_opaque = this;
  rte_mbuf_ext_refcnt_set(&shinfo_, 0);  // no mbuf attached yet
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<std::uint8_t*>(data_), key_.size);
}

MappedFile* MappedFile::map(int fd, const FileInfo& info) {
  const FileKey key = FileKey::of(info);
  if (info.size == 0) return new MappedFile(nullptr, key);
  if (info.size > SIZE_MAX) {
    errno = EFBIG;
    return nullptr;
  }
  const std::size_t len = static_cast<std::size_t>(info.size);
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  // Served front to back: read ahead aggressively, drop pages behind.
  (void)madvise(p, len, MADV_SEQUENTIAL);
  return new MappedFile(static_cast<const std::uint8_t*>(p), key);
}

void MappedFile::unref() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

void MappedFile::release_chunk(void* ctx, const std::uint8_t*, std::size_t) {
  static_cast<MappedFile*>(ctx)->unref();
}

void MappedFile::ext_free(void*, void* opaque) {
  // The last attached mbuf is gone: the group's reference goes.
  static_cast<MappedFile*>(opaque)->unref();
}

std::uint16_t MappedFile::attached_mbufs() const {
  return rte_mbuf_ext_refcnt_read(&shinfo_);
}

bool MappedFile::attach(rte_mbuf* m, std::uint64_t offset, std::uint16_t length) {
  if (m == nullptr || length == 0 || offset > size() || length > size() - offset) return false;
  const std::uint16_t attached = rte_mbuf_ext_refcnt_read(&shinfo_);
  if (attached == UINT16_MAX) return false;
  if (attached == 0) {
    // First mbuf of a group: the group holds one reference until
    // ext_free runs.
    ref();
    rte_mbuf_ext_refcnt_set(&shinfo_, 1);
  } else {
    rte_mbuf_ext_refcnt_update(&shinfo_, 1);
  }
  // rte_pktmbuf_attach_extbuf takes a non-const address: DPDK never
  // writes through it for transmit, and the pages are PROT_READ anyway.
  rte_pktmbuf_attach_extbuf(m, const_cast<std::uint8_t*>(data_ + offset), RTE_BAD_IOVA, length,
                            &shinfo_);
  m->data_len = length;
  m->pkt_len = length;
  return true;
}

MappedFileCache::MappedFileCache(std::size_t capacity)
    : entries_(std::make_unique<Entry[]>(capacity > 0 ? capacity : 1)),
      capacity_(capacity > 0 ? capacity : 1) {}

MappedFileCache::~MappedFileCache() {
  for (std::size_t i = 0; i < count_; ++i)
    entries_[i].file->unref();
}

MappedFile* MappedFileCache::acquire(int fd, const FileInfo& info) {
  const FileKey key = FileKey::of(info);
  ++clock_;
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].file->key() == key) {
      ++hits_;
      entries_[i].last_use = clock_;
      entries_[i].file->ref();
      return entries_[i].file;
    }
  }
  ++misses_;
  MappedFile* f = MappedFile::map(fd, info);
  if (f == nullptr) return nullptr;
  std::size_t slot = count_;
  if (count_ == capacity_) {
    slot = 0;
    for (std::size_t i = 1; i < count_; ++i)
      if (entries_[i].last_use < entries_[slot].last_use) slot = i;
    entries_[slot].file->unref();  // the cache's reference
  } else {
    ++count_;
  }
  f->ref();  // the cache's; the map() reference is the caller's
  entries_[slot] = {f, clock_};
  return f;
}

}  // namespace dquic::h3static

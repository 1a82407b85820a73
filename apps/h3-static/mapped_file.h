// A served file mapped read-only into memory and shared, by reference
// count, between the places that hold its bytes until they are sent and
// acknowledged: SendBuffer chunks (append_external: one reference per
// chunk, dropped by its ReleaseFn) and mbufs attached to it as an external
// buffer (rte_pktmbuf_attach_extbuf: the attached mbufs together hold one
// reference, dropped by the shared info's free_cb when the last detaches).
// The bytes are read from the page cache only by whoever encrypts them.
//
// References are atomic, but the mbuf side follows DPDK's own rule for
// rte_mbuf_ext_shared_info (its refcnt update is not atomic while it is 1):
// attach and free the mbufs of one MappedFile on one lcore, which is what a
// per-worker connection does.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "apps/h3-static/file_resolver.h"

namespace dquic::h3static {

// A file's identity and version: a replaced or rewritten file has another.
struct FileKey {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  static FileKey of(const FileInfo& i) { return {i.device, i.inode, i.size, i.mtime_ns}; }
  friend bool operator==(const FileKey&, const FileKey&) = default;
};

class MappedFile {
 public:
  // Maps [0, info.size) of `fd` (MAP_SHARED, PROT_READ, MADV_SEQUENTIAL);
  // the fd may be closed afterwards. One reference, the caller's. nullptr
  // (errno set) on failure. An empty file maps to no memory (data() null).
  static MappedFile* map(int fd, const FileInfo& info);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  void ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // The last reference unmaps the file and deletes this object.
  void unref();
  std::uint32_t refs() const { return refs_.load(std::memory_order_acquire); }

  const std::uint8_t* data() const { return data_; }
  std::uint64_t size() const { return key_.size; }
  const FileKey& key() const { return key_; }

  // A SendBuffer ReleaseFn (lib/quic/send_buffer.h): drops the reference
  // append_chunk took for that chunk. ctx is the MappedFile.
  static void release_chunk(void* ctx, const std::uint8_t* data, std::size_t length);

  // Hands [offset, offset + length) to buffer.append_external with one new
  // reference; false (reference given back) when the range is outside the
  // file or the buffer refuses it. Works with SendBuffer or anything with
  // its append_external signature.
  template <class Buffer>
  bool append_chunk(Buffer& buffer, std::uint64_t offset, std::size_t length) {
    if (offset > size() || length > size() - offset || length == 0) return false;
    ref();
    if (buffer.append_external(data_ + offset, length, &MappedFile::release_chunk, this))
      return true;
    unref();
    return false;
  }

  // Attaches `m` (a fresh direct mbuf, refcnt 1) to [offset, offset +
  // length) as an external buffer and sets its data and packet length.
  // buf_iova is RTE_BAD_IOVA: the mapping is not registered for device
  // DMA, so only the CPU (or a software crypto PMD) may read it. false when
  // the range is outside the file or 65535 mbufs are already attached.
  bool attach(rte_mbuf* m, std::uint64_t offset, std::uint16_t length);
  // Mbufs attached now (DPDK's shared refcnt).
  std::uint16_t attached_mbufs() const;

 private:
  MappedFile(const std::uint8_t* data, const FileKey& key);
  ~MappedFile();
  static void ext_free(void* addr, void* opaque);

  std::atomic<std::uint32_t> refs_{1};
  const std::uint8_t* data_;
  FileKey key_;
  rte_mbuf_ext_shared_info shinfo_{};
};

// Mappings of recently served files, keyed by FileKey, at most `capacity`
// of them; the least recently used is dropped first (its mapping lives on
// while chunks or mbufs still reference it). One per worker: not
// thread-safe. Allocates only in the constructor.
class MappedFileCache {
 public:
  explicit MappedFileCache(std::size_t capacity);
  ~MappedFileCache();
  MappedFileCache(const MappedFileCache&) = delete;
  MappedFileCache& operator=(const MappedFileCache&) = delete;

  // A mapping of the file `fd` / `info` with one reference for the caller
  // (who unrefs it): the cached one when the key matches, else a new one
  // (then cached). nullptr when mapping fails.
  MappedFile* acquire(int fd, const FileInfo& info);

  std::size_t size() const { return count_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    MappedFile* file;
    std::uint64_t last_use;
  };
  std::unique_ptr<Entry[]> entries_;
  std::size_t capacity_;
  std::size_t count_ = 0;
  std::uint64_t clock_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace dquic::h3static

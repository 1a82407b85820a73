// DPDK's packet-capture framework (librte_pdump), so that `dpdk-pdump` (a
// secondary process) can attach to a running program and capture its
// ports' queues (docs/CAPTURE.md). It talks to the primary over the EAL's
// multi-process channel: only a program started with a shared config (no
// --no-shconf / --in-memory) can serve it; otherwise rte_pdump_init()
// still succeeds and nothing can attach.
//
// rte_pdump_init() reserves a process-wide memzone and may run once per
// process: Dataplanes share it by reference count (start-up and shutdown
// only, from the main lcore).
#pragma once

namespace dquic {

class PdumpServer {
 public:
  PdumpServer();   // rte_pdump_init() for the first holder
  ~PdumpServer();  // rte_pdump_uninit() after the last
  PdumpServer(const PdumpServer&) = delete;
  PdumpServer& operator=(const PdumpServer&) = delete;

  // Whether the library is built in (libdpdk lists rte_pdump) and its
  // initialisation succeeded.
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

}  // namespace dquic

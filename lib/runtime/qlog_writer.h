// The qlog writer: a thread of its own (never an lcore) that drains the
// workers' recorder rings (runtime/qlog_recorder.h) every few milliseconds
// and writes one JSON-SEQ qlog file per connection (draft-ietf-quic-qlog-
// main-schema-14 §5, QlogFileSeq; QUIC events of -quic-events-13, HTTP/3
// ones of -h3-events-13) named `<original DCID hex>_<server|client>.sqlog`
// in its directory. A file is closed once its connection's kClosed event
// is written, the rest at stop().
//
// Per connection it keeps the packet_received last seen open until the next
// packet event, so that the frames the connection reports after it (and
// the events processing them caused) are written with and after it.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "quic/role.h"
#include "quic/timestamp.h"
#include "runtime/qlog_recorder.h"

namespace dquic {

class QlogWriter {
 public:
  // The recorders must outlive the writer (or its stop()).
  QlogWriter(std::string directory, std::vector<QlogRecorder*> recorders,
             Duration poll_interval = 2 * kMillisecond);
  ~QlogWriter();  // stop()
  QlogWriter(const QlogWriter&) = delete;
  QlogWriter& operator=(const QlogWriter&) = delete;

  // An existing directory we may create files in.
  static bool directory_writable(const std::string& directory);

  // Starts the thread. Without it, drain() does the work on the caller's.
  void start();
  // Drains every ring until the producers are quiet (call once they
  // stopped), writes what is pending, closes every file, joins the thread.
  // Idempotent.
  void stop();
  // Every ring until empty, on the caller's thread (tests without start();
  // the thread does this itself).
  void drain();

  std::uint64_t files_opened() const { return files_opened_.load(std::memory_order_relaxed); }
  std::uint64_t open_failures() const { return open_failures_.load(std::memory_order_relaxed); }
  std::uint64_t events_written() const { return events_.load(std::memory_order_relaxed); }
  const std::string& directory() const { return directory_; }

 private:
  struct Trace;
  struct Source {
    QlogRecorder* recorder = nullptr;
    std::unordered_map<std::uint32_t, std::unique_ptr<Trace>> traces;
  };
  void run();
  std::size_t drain_pass();  // records taken
  std::size_t drain_one(Source& s);
  void handle(Source& s, const QlogRecord* g, std::size_t n);
  void open_trace(Source& s, const QlogRecord* g);
  void close_trace(Trace& t);
  void flush_pending(Trace& t);
  void flush_acked(Trace& t);
  void emit(Trace& t, const QlogRecord* g, std::size_t n);
  void emit_packet(Trace& t, const char* name, const QlogRecord* g, std::size_t n,
                   const std::vector<QlogRecord>* received_frames);
  void begin_event(Trace& t, Time time, const char* name);
  void end_event(Trace& t);

  std::string directory_;
  std::vector<Source> sources_;
  Duration poll_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
  std::string out_;  // the event being formatted
  std::atomic<std::uint64_t> files_opened_{0}, open_failures_{0}, events_{0};
};

}  // namespace dquic

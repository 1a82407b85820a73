// What an application plugs into a worker (runtime/worker.h): it installs
// its ConnectionHandler on the server connections the worker accepts, hears
// when a connection is about to be destroyed, and gets one call per loop
// iteration for work of its own. Everything runs on the worker's thread.
#pragma once

#include "quic/connection.h"
#include "quic/endpoint.h"
#include "quic/timestamp.h"

namespace dquic {

class Worker;

class WorkerApp {
 public:
  virtual ~WorkerApp() = default;

  // A client Initial is about to create a server connection (the endpoint's
  // NewConnectionHook): set config.handler and anything else of the
  // connection's. False refuses it (CONNECTION_REFUSED, RFC 9000 §5.2.2).
  virtual bool on_incoming(Worker& /*worker*/, const IncomingConnection& /*in*/,
                           ConnectionConfig& /*config*/) {
    return true;
  }
  // The server connection exists; its first datagram is processed next.
  virtual void on_accepted(Worker& /*worker*/, Connection& /*c*/) {}
  // `c` reached kClosed and is destroyed after this returns.
  virtual void on_closed(Worker& /*worker*/, Connection& /*c*/) {}
  // Once per iteration, after receive and timers and before the
  // connections are flushed. Writes made here to a connection outside its
  // handler's callbacks need Worker::wake() to be sent this iteration.
  virtual void on_poll(Worker& /*worker*/, Time /*now*/) {}
};

}  // namespace dquic

#include "runtime/pdump_server.h"

#if DQUIC_HAVE_PDUMP
#include <rte_pdump.h>
#endif

namespace dquic {
#if DQUIC_HAVE_PDUMP
namespace {

int holders = 0;  // main lcore only
bool initialised = false;

}  // namespace
#endif

PdumpServer::PdumpServer() {
#if DQUIC_HAVE_PDUMP
  if (holders++ == 0) initialised = rte_pdump_init() == 0;
  ok_ = initialised;
#endif
}

PdumpServer::~PdumpServer() {
#if DQUIC_HAVE_PDUMP
  if (--holders == 0 && initialised) {
    rte_pdump_uninit();
    initialised = false;
  }
#endif
}

}  // namespace dquic

// Running independent work items on the cores keel may run on.
#pragma once

#include <cstddef>
#include <functional>

#include "core/status.h"

namespace keel {

// The cores this process may run on: those of its CPU affinity mask (as
// `taskset`, a container's cpuset or Kubernetes' static CPU manager set
// it), or every online core when the mask cannot be read. At least 1.
unsigned UsableCores();

// Threads to use for I/O-bound work over many files: the usable cores, at
// least 2 (syscalls block), at most 8.
unsigned WorkerThreads();

// Calls fn(i) for every i in [0, n) on up to `threads` threads (the caller's
// among them) and returns the first error; after an error, items not yet
// started are skipped. fn must be safe to call concurrently.
Status ParallelFor(size_t n, unsigned threads, const std::function<Status(size_t)>& fn);

}  // namespace keel

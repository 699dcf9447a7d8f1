// Library-wide settings of the project's CPU kernels (see cpu_kernels.h).
#include "cpu_kernels.h"

extern "C" {

// Threads each kernel call uses; 0 = std::thread::hardware_concurrency().
void CfSetNumThreads(int n) { cpu_kernels::requested_threads().store(n); }

}  // extern "C"

// Shared pieces of the project's CPU kernels (depthwise_cpu.cc, batchnorm_cpu.cc, cpu_kernels.cc), compiled
// together into one library by src/models/cpu_kernels.py and called by MindSpore through ops.Custom "aot".
//
// Kernel signature (MindSpore AOT): int f(int nparam, void **params, int *ndims, int64_t **shapes,
// const char **dtypes, void *stream, void *extra); inputs first, then the outputs; return 0 on success.
#ifndef CENTERFACE_CPU_KERNELS_H_
#define CENTERFACE_CPU_KERNELS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace cpu_kernels {

// Threads per kernel call, set from Python through CfSetNumThreads; 0 = std::thread::hardware_concurrency().
inline std::atomic<int> &requested_threads() {
  static std::atomic<int> value{0};
  return value;
}

inline int num_threads() {
  const int requested = requested_threads().load();
  const int n = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, n);
}

// Run body(begin, end) over [0, total) split into contiguous chunks, one per thread; the caller's thread takes
// the first chunk. Threads are created per call and joined: no spinning workers are left to compete with
// MindSpore's own thread pool (creating one costs ~20 us, negligible next to a kernel call).
template <typename F>
void parallel_for(int64_t total, F body) {
  const int64_t threads = std::min<int64_t>(num_threads(), total);
  if (threads <= 1) {
    body(0, total);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(threads - 1);
  const int64_t chunk = (total + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t begin = t * chunk, end = std::min(total, begin + chunk);
    if (begin < end) workers.emplace_back(body, begin, end);
  }
  body(0, std::min(total, chunk));
  for (auto &worker : workers) worker.join();
}

inline bool is_f32(const char *dtype) { return std::strcmp(dtype, "float32") == 0; }

}  // namespace cpu_kernels

#endif  // CENTERFACE_CPU_KERNELS_H_

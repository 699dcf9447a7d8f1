// Library-wide settings and small element-wise kernels of the project's CPU kernels (see cpu_kernels.h).
#include "cpu_kernels.h"

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

}  // namespace

extern "C" {

// Threads each kernel call uses; 0 = std::thread::hardware_concurrency().
void CfSetNumThreads(int n) { cpu_kernels::requested_threads().store(n); }

// y = max(x + bias[c], 0) over NCHW float32 in one pass: the epilogue of a BN-folded conv, which MindSpore runs
// as two passes (BiasAdd, then ReLU). params: x (N,C,H,W), bias (C) -> y (N,C,H,W).
int BiasReluNchw(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 3 || ndims[0] != 4 || !is_f32(dtypes[0]) || !is_f32(dtypes[1])) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *bias = static_cast<const float *>(params[1]);
  float *y = static_cast<float *>(params[2]);
  const int64_t c = shapes[0][1], hw = shapes[0][2] * shapes[0][3];
  parallel_for(shapes[0][0] * c, [=](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const float b = bias[plane % c];
      const float *__restrict src = x + plane * hw;
      float *__restrict dst = y + plane * hw;
      for (int64_t i = 0; i < hw; ++i) dst[i] = std::max(src[i] + b, 0.0f);
    }
  });
  return 0;
}

}  // extern "C"

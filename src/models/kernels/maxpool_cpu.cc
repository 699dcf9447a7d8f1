// 3x3 max-pool with stride 2 and padding 1 (PyTorch's max_pool2d(x, 3, 2, 1): taps outside the map are left
// out, as an implicit -inf border), NCHW float32, for MindSpore CPU `ops.Custom` "aot": forward and the input
// gradient used by the op's bprop. Used by src/models/kernels/maxpool.py for the ResNet stem's pool.
//
// Why: MindSpore 2.10's CPU forms of this pool are slow (64 x 256 x 256 at a 512x512 input, measured on a loaded
// machine: ops.Pad 330 ms + a valid MaxPool 29 ms, MaxPool3DWithArgmax 137 ms) while the work is one pass over
// the map. Forward: per output row, the column-wise maximum of its (up to) three input rows, then the maximum
// of three neighbouring columns. Backward: the gradient of each output goes to the first maximum of its window in
// row-major order (PyTorch's rule; any maximum is a valid subgradient where values tie). Work is split over
// (image, channel) planes between threads (cpu_kernels.h).
#include <cmath>
#include <limits>

#include "cpu_kernels.h"

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

int64_t pooled(int64_t size) { return (size - 1) / 2 + 1; }

void forward_plane(const float *x, int64_t h, int64_t w, float *y, float *column_max) {
  const int64_t ho = pooled(h), wo = pooled(w);
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t oy = 0; oy < ho; ++oy) {
    const int64_t first = std::max<int64_t>(2 * oy - 1, 0), last = std::min<int64_t>(2 * oy + 1, h - 1);
    std::copy(x + first * w, x + (first + 1) * w, column_max);
    for (int64_t r = first + 1; r <= last; ++r) {
      const float *__restrict row = x + r * w;
      for (int64_t c = 0; c < w; ++c) column_max[c] = std::max(column_max[c], row[c]);
    }
    float *__restrict out = y + oy * wo;
    // output column k reads input columns 2k - 1, 2k, 2k + 1 (those inside the map)
    out[0] = w > 1 ? std::max(column_max[0], column_max[1]) : column_max[0];
    for (int64_t k = 1; k < wo; ++k) {
      const float right = 2 * k + 1 < w ? column_max[2 * k + 1] : lowest;
      out[k] = std::max(std::max(column_max[2 * k - 1], column_max[2 * k]), right);
    }
  }
}

void backward_plane(const float *dy, const float *x, int64_t h, int64_t w, float *dx) {
  const int64_t ho = pooled(h), wo = pooled(w);
  std::fill(dx, dx + h * w, 0.0f);
  for (int64_t oy = 0; oy < ho; ++oy) {
    const int64_t r0 = std::max<int64_t>(2 * oy - 1, 0), r1 = std::min<int64_t>(2 * oy + 1, h - 1);
    for (int64_t ox = 0; ox < wo; ++ox) {
      const int64_t c0 = std::max<int64_t>(2 * ox - 1, 0), c1 = std::min<int64_t>(2 * ox + 1, w - 1);
      int64_t best = r0 * w + c0;
      for (int64_t r = r0; r <= r1; ++r) {
        for (int64_t c = c0; c <= c1; ++c) {
          // strictly greater: the first maximum in row-major order keeps the gradient; NaN propagates like PyTorch
          if (x[r * w + c] > x[best] || std::isnan(x[r * w + c])) best = r * w + c;
        }
      }
      dx[best] += dy[oy * wo + ox];
    }
  }
}

bool valid_nchw(int nparam, int expected, int *ndims, const char **dtypes) {
  if (nparam != expected) return false;
  for (int i = 0; i < nparam; ++i) {
    if (ndims[i] != 4 || !is_f32(dtypes[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" {

// MaxPool3x3S2(x (N,C,H,W)) -> y (N, C, (H-1)/2+1, (W-1)/2+1)
int MaxPool3x3S2(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (!valid_nchw(nparam, 2, ndims, dtypes)) return 1;
  const float *x = static_cast<const float *>(params[0]);
  float *y = static_cast<float *>(params[1]);
  const int64_t h = shapes[0][2], w = shapes[0][3], planes = shapes[0][0] * shapes[0][1];
  if (h < 1 || w < 1 || shapes[1][2] != pooled(h) || shapes[1][3] != pooled(w)) return 1;
  const int64_t in_plane = h * w, out_plane = pooled(h) * pooled(w);
  parallel_for(planes, [=](int64_t begin, int64_t end) {
    std::vector<float> column_max(w);
    for (int64_t p = begin; p < end; ++p) forward_plane(x + p * in_plane, h, w, y + p * out_plane, column_max.data());
  });
  return 0;
}

// MaxPool3x3S2Grad(dy (N,C,Ho,Wo), x (N,C,H,W)) -> dx (N,C,H,W)
int MaxPool3x3S2Grad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (!valid_nchw(nparam, 3, ndims, dtypes)) return 1;
  const float *dy = static_cast<const float *>(params[0]);
  const float *x = static_cast<const float *>(params[1]);
  float *dx = static_cast<float *>(params[2]);
  const int64_t h = shapes[1][2], w = shapes[1][3], planes = shapes[1][0] * shapes[1][1];
  if (h < 1 || w < 1 || shapes[0][2] != pooled(h) || shapes[0][3] != pooled(w)) return 1;
  const int64_t in_plane = h * w, out_plane = pooled(h) * pooled(w);
  parallel_for(planes, [=](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) backward_plane(dy + p * out_plane, x + p * in_plane, h, w, dx + p * in_plane);
  });
  return 0;
}

}  // extern "C"

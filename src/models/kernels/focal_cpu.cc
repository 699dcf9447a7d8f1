// CenterNet's heat-map loss in one pass, for MindSpore CPU `ops.Custom` "aot": the penalty-reduced focal loss
// (CornerNet eq. 1) on sigmoid(logits), float32 maps of any shape, forward and the logits' gradient. Used by
// src/models/kernels/focal.py for `FocalLossWithLogits` (src/losses.py).
//
// Why: on MindSpore's ops the loss is ~20 element-wise passes forward and ~30 backward over the whole heat map
// (80 x 128 x 128 per image for COCO detection); at batch 8, 512x512 it took 380 ms of a resdcn_18 step against
// PyTorch's 174 ms (measured, docs/performance.md). Here it is one pass each way.
//
// Per element, with p = sigmoid(x), q = clamp(p, eps, 1 - eps) (forward value only; the gradient is taken at q,
// the straight-through clamp of src/losses.py) and t the target:
//   t == 1: l = log(q) (1 - q)^alpha                dl/dq = (1 - q)^alpha / q - alpha log(q) (1 - q)^(alpha - 1)
//   else:   l = log(1 - q) q^alpha (1 - t)^beta
//           dl/dq = (alpha log(1 - q) q^(alpha - 1) - q^alpha / (1 - q)) (1 - t)^beta
// and dl/dx = dl/dq p (1 - p) (MindSpore's SigmoidGrad, on the unclamped p). The forward returns (sum of l,
// number of cells with t == 1); FocalLossWithLogits divides. Sums are taken over fixed blocks (16 float lanes of
// 256 values each, then double) and the blocks added in order, so the result does not depend on the number of
// threads. NaN in x propagates.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu_kernels.h"

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

constexpr int64_t kBlock = 1 << 12;  // elements per partial sum
constexpr int kLanes = 16;

// x^e for the exponent of the loss: repeated products for a small integer e (alpha 2, beta 4 in practice), pow
// otherwise.
struct Power {
  float e;
  int whole;  // e as an integer in [0, 16], or -1
  explicit Power(float exponent) : e(exponent) {
    const float rounded = std::nearbyint(exponent);
    whole = (rounded == exponent && exponent >= 0.0f && exponent <= 16.0f) ? static_cast<int>(rounded) : -1;
  }
  float operator()(float x) const {
    if (whole < 0) return std::pow(x, e);
    float result = 1.0f;
    for (int i = 0; i < whole; ++i) result *= x;
    return result;
  }
};

// Branch-free float exp and log (Cephes' expf / logf polynomials, within 2 ulp of libm on the ranges used here)
// that GCC vectorises: with libm's scalar calls the loss took 190 ms for 8 x 80 x 128 x 128 cells, forward and
// backward, on 2 threads.
inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

inline float fast_exp(float x) {
  const float input = x;
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const float result = y * bits_to_float((static_cast<int32_t>(n) + 127) << 23);
  return input != input ? input : result;  // NaN stays NaN
}

// log of a positive normal float
inline float fast_log(float x) {
  const int32_t bits = float_to_bits(x);
  float e = static_cast<float>((bits >> 23) - 126);
  float m = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // x = m 2^e, m in [0.5, 1)
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += e * -2.12194440e-4f;
  y -= 0.5f * z;
  const float result = (m + y) + e * 0.693359375f;
  return x != x ? x : result;
}

struct Focal {
  float alpha, beta, eps;
  Power a, a_minus_1, b;
  bool usual;  // alpha 2, beta 4: the vectorised loops
  Focal(float alpha_, float beta_, float eps_)
      : alpha(alpha_), beta(beta_), eps(eps_), a(alpha_), a_minus_1(alpha_ - 1.0f), b(beta_),
        usual(alpha_ == 2.0f && beta_ == 4.0f) {}

  static float sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }
  float clamp(float p) const { return p < eps ? eps : (p > 1.0f - eps ? 1.0f - eps : p); }  // keeps NaN

  // alpha 2, beta 4, both branches computed and one selected (vectorisable)
  float loss_usual(float x, float t) const {
    const float q = clamp(sigmoid(x)), r = 1.0f - q, s = (1.0f - t) * (1.0f - t);
    const float positive = fast_log(q) * r * r, negative = fast_log(r) * q * q * s * s;
    return t == 1.0f ? positive : negative;
  }
  float grad_usual(float x, float t) const {
    const float p = sigmoid(x), q = clamp(p), r = 1.0f - q, s = (1.0f - t) * (1.0f - t);
    const float positive = r * r / q - 2.0f * fast_log(q) * r;
    const float negative = (2.0f * fast_log(r) * q - q * q / r) * s * s;
    return (t == 1.0f ? positive : negative) * p * (1.0f - p);
  }

  float loss(float x, float t) const {
    const float q = clamp(sigmoid(x));
    if (t == 1.0f) return fast_log(q) * a(1.0f - q);
    return fast_log(1.0f - q) * a(q) * b(1.0f - t);
  }
  float grad(float x, float t) const {
    const float p = sigmoid(x), q = clamp(p);
    float dq;
    if (t == 1.0f) {
      dq = a(1.0f - q) / q;
      if (alpha != 0.0f) dq -= alpha * fast_log(q) * a_minus_1(1.0f - q);
    } else {
      dq = -a(q) / (1.0f - q);
      if (alpha != 0.0f) dq += alpha * fast_log(1.0f - q) * a_minus_1(q);
      dq *= b(1.0f - t);
    }
    return dq * p * (1.0f - p);
  }
};

bool same_f32_shapes(int *ndims, int64_t **shapes, const char **dtypes, int a, int b) {
  if (ndims[a] != ndims[b] || !is_f32(dtypes[a]) || !is_f32(dtypes[b])) return false;
  for (int d = 0; d < ndims[a]; ++d) {
    if (shapes[a][d] != shapes[b][d]) return false;
  }
  return true;
}

int64_t elements(int *ndims, int64_t **shapes, int index) {
  int64_t count = 1;
  for (int d = 0; d < ndims[index]; ++d) count *= shapes[index][d];
  return count;
}

// Checks what both kernels take (logits, a target of the same shape, the float32 vector (alpha, beta, eps), a
// float32 vector of 2 at index 3) and reads the exponents; null when an input is not so.
std::unique_ptr<Focal> read_focal(int *ndims, int64_t **shapes, const char **dtypes, void **params) {
  if (!same_f32_shapes(ndims, shapes, dtypes, 0, 1)) return nullptr;
  if (ndims[2] != 1 || shapes[2][0] != 3 || !is_f32(dtypes[2])) return nullptr;
  if (ndims[3] != 1 || shapes[3][0] != 2 || !is_f32(dtypes[3])) return nullptr;
  const float *p = static_cast<const float *>(params[2]);
  if (!(p[2] > 0.0f && p[2] < 0.5f)) return nullptr;
  return std::make_unique<Focal>(p[0], p[1], p[2]);
}

}  // namespace

extern "C" {

// FocalLogitsForward(logits, target (same shape), (alpha, beta, eps)) -> (sum of l, positives) float32 (2,)
int FocalLogitsForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                       void *) {
  const auto focal = nparam == 4 ? read_focal(ndims, shapes, dtypes, params) : nullptr;
  if (!focal) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *t = static_cast<const float *>(params[1]);
  const int64_t total = elements(ndims, shapes, 0), blocks = (total + kBlock - 1) / kBlock;
  std::vector<double> sums(blocks, 0.0), positives(blocks, 0.0);
  const Focal f = *focal;
  parallel_for(blocks, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      double sum = 0.0, count = 0.0;
      const int64_t first = k * kBlock, stop = std::min(total, (k + 1) * kBlock);
      float partial[kLanes] = {0.0f};  // float lanes over at most kBlock / kLanes values each, then double
      int64_t i = first;
      if (f.usual) {
        for (; i + kLanes <= stop; i += kLanes) {
          for (int lane = 0; lane < kLanes; ++lane) partial[lane] += f.loss_usual(x[i + lane], t[i + lane]);
        }
      }
      for (; i < stop; ++i) partial[0] += f.loss(x[i], t[i]);
      for (int64_t j = first; j < stop; ++j) count += t[j] == 1.0f;
      for (int lane = 0; lane < kLanes; ++lane) sum += partial[lane];
      sums[k] = sum;
      positives[k] = count;
    }
  });
  double sum = 0.0, count = 0.0;
  for (int64_t k = 0; k < blocks; ++k) {
    sum += sums[k];
    count += positives[k];
  }
  float *out = static_cast<float *>(params[3]);
  out[0] = static_cast<float>(sum);
  out[1] = static_cast<float>(count);
  return 0;
}

// FocalLogitsBackward(logits, target, (alpha, beta, eps), dout (2,)) -> dlogits = dout[0] * dl/dx (the count
// has no gradient)
int FocalLogitsBackward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                        void *) {
  const auto focal = nparam == 5 ? read_focal(ndims, shapes, dtypes, params) : nullptr;
  if (!focal || !same_f32_shapes(ndims, shapes, dtypes, 0, 4)) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *t = static_cast<const float *>(params[1]);
  const float scale = static_cast<const float *>(params[3])[0];
  float *dx = static_cast<float *>(params[4]);
  const int64_t total = elements(ndims, shapes, 0), blocks = (total + kBlock - 1) / kBlock;
  const Focal f = *focal;
  parallel_for(blocks, [&](int64_t begin, int64_t end) {
    const int64_t first = begin * kBlock, stop = std::min(total, end * kBlock);
    if (f.usual) {
      for (int64_t i = first; i < stop; ++i) dx[i] = scale * f.grad_usual(x[i], t[i]);
    } else {
      for (int64_t i = first; i < stop; ++i) dx[i] = scale * f.grad(x[i], t[i]);
    }
  });
  return 0;
}

}  // extern "C"

// Training-mode BatchNorm over NCHW float32 (optionally followed by ReLU) for MindSpore CPU `ops.Custom` "aot"
// kernels: forward (batch mean, biased variance for normalising, unbiased variance for the moving average, as
// mindspore.nn.BatchNorm2d) and backward (input, gamma and beta gradients). Used by src/models/fast_batchnorm.py.
//
// Why: MindSpore's CPU BatchNorm and BatchNormGrad (oneDNN ncsp_bnorm) plus separate ReLU and ReluGrad passes
// were ~35% of a CenterFace training step once the depthwise convs were fast. Here each channel is processed
// by one thread from start to end: its planes are read for the mean, again (from cache) for the variance and
// once more to write the normalised, optionally rectified output; the backward pass reads dy, x and the output
// (whose sign is the ReLU mask) twice and writes dx once. Sums use 16 float lanes per plane (vectorisable)
// accumulated in double across planes, and the variance is taken around the mean (two passes), not as
// E[x^2] - E[x]^2, which loses precision when the mean is large.
#include <cmath>

#include "cpu_kernels.h"

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

constexpr int kLanes = 16;

// sum of p[0..n) with kLanes float partial sums (vectorisable), returned as double
inline double lane_sum(const float *__restrict p, int64_t n) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += p[i + l];
  double s = 0;
  for (; i < n; ++i) s += p[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

inline double lane_sq_dev(const float *__restrict p, int64_t n, float mean) {
  float acc[kLanes] = {0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      float d = p[i + l] - mean;
      acc[l] += d * d;
    }
  double s = 0;
  for (; i < n; ++i) s += double(p[i] - mean) * (p[i] - mean);
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

void forward(const float *x, const float *gamma, const float *beta, float eps, bool relu, float *y, float *mean_out,
             float *invstd_out, float *var_unbiased_out, int64_t n, int64_t c, int64_t hw) {
  const int64_t m = n * hw;
  parallel_for(c, [=](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      double s = 0;
      for (int64_t b = 0; b < n; ++b) s += lane_sum(x + (b * c + ch) * hw, hw);
      const float mean = static_cast<float>(s / m);
      double sq = 0;
      for (int64_t b = 0; b < n; ++b) sq += lane_sq_dev(x + (b * c + ch) * hw, hw, mean);
      const double var = sq / m;
      const float invstd = static_cast<float>(1.0 / std::sqrt(var + eps));
      mean_out[ch] = mean;
      invstd_out[ch] = invstd;
      var_unbiased_out[ch] = static_cast<float>(m > 1 ? sq / (m - 1) : var);
      const float scale = gamma[ch] * invstd, shift = beta[ch] - mean * scale;
      for (int64_t b = 0; b < n; ++b) {
        const float *__restrict src = x + (b * c + ch) * hw;
        float *__restrict dst = y + (b * c + ch) * hw;
        if (relu) {
          for (int64_t i = 0; i < hw; ++i) dst[i] = std::max(src[i] * scale + shift, 0.0f);
        } else {
          for (int64_t i = 0; i < hw; ++i) dst[i] = src[i] * scale + shift;
        }
      }
    }
  });
}

// y (post-ReLU output) gives the ReLU mask when relu is set; it may be null otherwise.
void backward(const float *dy, const float *x, const float *y, const float *gamma, const float *mean,
              const float *invstd, bool relu, float *dx, float *dgamma, float *dbeta, int64_t n, int64_t c,
              int64_t hw) {
  const int64_t m = n * hw;
  parallel_for(c, [=](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      const float mu = mean[ch];
      double sg = 0, sgx = 0;
      for (int64_t b = 0; b < n; ++b) {
        const int64_t off = (b * c + ch) * hw;
        const float *__restrict g = dy + off, *__restrict xs = x + off, *__restrict ys = relu ? y + off : nullptr;
        float a1[kLanes] = {0}, a2[kLanes] = {0};
        int64_t i = 0;
        for (; i + kLanes <= hw; i += kLanes)
          for (int l = 0; l < kLanes; ++l) {
            float gv = g[i + l];
            if (relu) gv = ys[i + l] > 0.0f ? gv : 0.0f;
            a1[l] += gv;
            a2[l] += gv * (xs[i + l] - mu);
          }
        for (; i < hw; ++i) {
          float gv = g[i];
          if (relu) gv = ys[i] > 0.0f ? gv : 0.0f;
          sg += gv;
          sgx += double(gv) * (xs[i] - mu);
        }
        for (int l = 0; l < kLanes; ++l) {
          sg += a1[l];
          sgx += a2[l];
        }
      }
      const float is = invstd[ch];
      dgamma[ch] = static_cast<float>(sgx * is);
      dbeta[ch] = static_cast<float>(sg);
      // dx = gamma * invstd * (g - sum_g / m - (x - mean) * invstd^2 * sum_gx / m)
      const float k = gamma[ch] * is;
      const float mean_g = static_cast<float>(sg / m);
      const float coef = static_cast<float>(sgx / m) * is * is;
      for (int64_t b = 0; b < n; ++b) {
        const int64_t off = (b * c + ch) * hw;
        const float *__restrict g = dy + off, *__restrict xs = x + off, *__restrict ys = relu ? y + off : nullptr;
        float *__restrict out = dx + off;
        for (int64_t i = 0; i < hw; ++i) {
          float gv = g[i];
          if (relu) gv = ys[i] > 0.0f ? gv : 0.0f;
          out[i] = k * (gv - mean_g - (xs[i] - mu) * coef);
        }
      }
    }
  });
}

int64_t plane_size(const int64_t *shape) { return shape[2] * shape[3]; }

}  // namespace

extern "C" {

// params: x (N,C,H,W), gamma (C), beta (C), eps (1) -> y (N,C,H,W), mean (C), invstd (C), var_unbiased (C)
static int run_forward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, bool relu) {
  if (nparam != 8 || ndims[0] != 4) return 1;
  for (int i = 0; i < nparam; ++i)
    if (!is_f32(dtypes[i])) return 1;
  float **p = reinterpret_cast<float **>(params);
  forward(p[0], p[1], p[2], p[3][0], relu, p[4], p[5], p[6], p[7], shapes[0][0], shapes[0][1], plane_size(shapes[0]));
  return 0;
}
int BnTrainForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, false);
}
int BnReluTrainForward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                       void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, true);
}

// params: dy, x, y (the forward output: its sign is the ReLU mask; unused without ReLU), gamma, mean, invstd
//         -> dx (N,C,H,W), dgamma (C), dbeta (C)
static int run_backward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, bool relu) {
  if (nparam != 9 || ndims[1] != 4) return 1;
  for (int i = 0; i < nparam; ++i)
    if (!is_f32(dtypes[i])) return 1;
  float **p = reinterpret_cast<float **>(params);
  backward(p[0], p[1], p[2], p[3], p[4], p[5], relu, p[6], p[7], p[8], shapes[1][0], shapes[1][1],
           plane_size(shapes[1]));
  return 0;
}
int BnTrainBackward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return run_backward(nparam, params, ndims, shapes, dtypes, false);
}
int BnReluTrainBackward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                        void *) {
  return run_backward(nparam, params, ndims, shapes, dtypes, true);
}

}  // extern "C"

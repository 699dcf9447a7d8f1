// Depthwise 3x3 convolution (zero padding 1, stride 1 or 2, NCHW, float32) for MindSpore CPU `ops.Custom`
// "aot" kernels: forward (optionally with a fused per-channel bias and ReLU, for BN-folded inference), and the two
// gradients (input and weight) used by the op's bprop. Used by src/models/fast_depthwise.py.
//
// Why: with the AVX2 cap (docs/design.md "Platform facts") oneDNN runs NCHW depthwise convs as im2col + GEMM per group,
// which made them 60% of CenterFace's convolution time; this direct kernel is bound by memory traffic instead. Each
// (image, channel) plane is copied once into a zero-bordered buffer (for stride 2, with even and odd columns
// de-interleaved), so that every inner loop reads contiguous memory and vectorises without branches. Work is split over
// planes (channels for the weight gradient) between threads (cpu_kernels.h).
#include "cpu_kernels.h"

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

int64_t out_size(int64_t in, int stride) { return (in - 1) / stride + 1; }

// Copies plane x (h, w) into p ((h + 2) rows of pw floats) with a zero border of one pixel. For stride 2 the
// padded row is de-interleaved: columns 0, 2, 4, ... first (pw/2 of them), then 1, 3, 5, ...
void pad_plane(const float *x, int64_t h, int64_t w, int stride, int64_t pw, float *p) {
  std::fill(p, p + pw, 0.0f);
  std::fill(p + (h + 1) * pw, p + (h + 2) * pw, 0.0f);
  for (int64_t r = 0; r < h; ++r) {
    float *row = p + (r + 1) * pw;
    const float *src = x + r * w;
    if (stride == 1) {
      row[0] = 0.0f;
      std::memcpy(row + 1, src, w * sizeof(float));
      std::fill(row + w + 1, row + pw, 0.0f);
    } else {
      int64_t half = pw / 2;
      float *__restrict even = row, *__restrict odd = row + half;
      // padded column c = input column c - 1: P[2k + 1] = x[2k] (odd half), P[2k + 2] = x[2k + 1] (even half)
      const int64_t n_odd = (w + 1) / 2, n_even = w / 2;
      even[0] = 0.0f;
      for (int64_t k = 0; k < n_odd; ++k) odd[k] = src[2 * k];
      for (int64_t k = 0; k < n_even; ++k) even[k + 1] = src[2 * k + 1];
      std::fill(even + n_even + 1, even + half, 0.0f);
      std::fill(odd + n_odd, odd + half, 0.0f);
    }
  }
}

int64_t padded_width(int64_t w, int64_t wo, int stride) {
  // stride 1: w + 2 columns; stride 2: two halves of wo + 1 columns (even c = 2k, k <= wo; odd c = 2k+1, k < wo+1)
  return stride == 1 ? w + 2 : 2 * (wo + 1);
}

// One output row: out[k] = sum_i sum_j wt[i][j] * P[s*oy + i][s*k + j].
inline void conv_row(const float *p, int64_t pw, int64_t oy, int stride, int64_t wo, const float *wt, float *out) {
  for (int64_t k = 0; k < wo; ++k) out[k] = 0.0f;
  for (int i = 0; i < 3; ++i) {
    const float *row = p + (stride * oy + i) * pw;
    const float w0 = wt[3 * i], w1 = wt[3 * i + 1], w2 = wt[3 * i + 2];
    if (stride == 1) {
      for (int64_t k = 0; k < wo; ++k) out[k] += w0 * row[k] + w1 * row[k + 1] + w2 * row[k + 2];
    } else {
      const float *even = row, *odd = row + pw / 2;  // P[.][2k] = even[k], P[.][2k+1] = odd[k], P[.][2k+2] = even[k+1]
      for (int64_t k = 0; k < wo; ++k) out[k] += w0 * even[k] + w1 * odd[k] + w2 * even[k + 1];
    }
  }
}

void forward(const float *x, const float *weight, const float *bias, bool relu, float *y, int64_t n, int64_t c,
             int64_t h, int64_t w, int stride) {
  const int64_t ho = out_size(h, stride), wo = out_size(w, stride), pw = padded_width(w, wo, stride);
  parallel_for(n * c, [=](int64_t begin, int64_t end) {
    std::vector<float> p((h + 2) * pw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t ch = plane % c;
      pad_plane(x + plane * h * w, h, w, stride, pw, p.data());
      const float *wt = weight + ch * 9;
      float *out = y + plane * ho * wo;
      const float b = bias ? bias[ch] : 0.0f;
      for (int64_t oy = 0; oy < ho; ++oy) {
        float *orow = out + oy * wo;
        conv_row(p.data(), pw, oy, stride, wo, wt, orow);
        if (bias || relu) {
          for (int64_t k = 0; k < wo; ++k) {
            float v = orow[k] + b;
            orow[k] = relu ? std::max(v, 0.0f) : v;
          }
        }
      }
    }
  });
}

// dx[y][x] = sum over (i, j, oy, ox) with s*oy + i - 1 = y and s*ox + j - 1 = x of w[i][j] * dy[oy][ox].
void grad_input(const float *dy, const float *weight, float *dx, int64_t n, int64_t c, int64_t h, int64_t w,
                int stride) {
  const int64_t ho = out_size(h, stride), wo = out_size(w, stride);
  parallel_for(n * c, [=](int64_t begin, int64_t end) {
    if (stride == 1) {
      // correlation of the zero-padded dy with the kernel flipped in both axes
      const int64_t pw = w + 2;
      std::vector<float> p((h + 2) * pw);
      for (int64_t plane = begin; plane < end; ++plane) {
        const float *wt = weight + (plane % c) * 9;
        float flipped[9];
        for (int t = 0; t < 9; ++t) flipped[t] = wt[8 - t];
        pad_plane(dy + plane * ho * wo, ho, wo, 1, pw, p.data());
        for (int64_t r = 0; r < h; ++r) conv_row(p.data(), pw, r, 1, w, flipped, dx + plane * h * w + r * w);
      }
      return;
    }
    // stride 2: even input column 2k gets w[.][1] * dy[.][k]; odd 2k+1 gets w[.][0] * dy[.][k+1] + w[.][2] * dy[.][k]
    const int64_t half = (w + 1) / 2 + 1;
    std::vector<float> row_pad(wo + 2), even(half), odd(half);
    for (int64_t plane = begin; plane < end; ++plane) {
      const float *wt = weight + (plane % c) * 9;
      const float *g = dy + plane * ho * wo;
      float *out = dx + plane * h * w;
      for (int64_t r = 0; r < h; ++r) {
        std::fill(even.begin(), even.end(), 0.0f);
        std::fill(odd.begin(), odd.end(), 0.0f);
        for (int i = 0; i < 3; ++i) {
          const int64_t t = r + 1 - i;  // = 2 * oy
          if (t < 0 || (t & 1) || t / 2 >= ho) continue;
          const float *grow = g + (t / 2) * wo;
          std::copy(grow, grow + wo, row_pad.begin());
          row_pad[wo] = 0.0f;
          row_pad[wo + 1] = 0.0f;
          const float w0 = wt[3 * i], w1 = wt[3 * i + 1], w2 = wt[3 * i + 2];
          const int64_t ne = (w + 1) / 2, no = w / 2;  // counts of even / odd input columns
          for (int64_t k = 0; k < ne; ++k) even[k] += w1 * row_pad[k];
          for (int64_t k = 0; k < no; ++k) odd[k] += w0 * row_pad[k + 1] + w2 * row_pad[k];
        }
        float *orow = out + r * w;
        for (int64_t k = 0; k < (w + 1) / 2; ++k) orow[2 * k] = even[k];
        for (int64_t k = 0; k < w / 2; ++k) orow[2 * k + 1] = odd[k];
      }
    }
  });
}

// dw[ch][i][j] = sum over n, oy, ox of dy[n][ch][oy][ox] * P[n][ch][s*oy + i][s*ox + j] (P: x zero-padded by 1).
// Products are accumulated per column in 9 rows of floats (vectorisable, unlike a scalar float reduction, which
// the compiler may not reorder), summed per plane into doubles.
void grad_weight(const float *dy, const float *x, float *dw, int64_t n, int64_t c, int64_t h, int64_t w,
                 int stride) {
  const int64_t ho = out_size(h, stride), wo = out_size(w, stride), pw = padded_width(w, wo, stride);
  parallel_for(c, [=](int64_t begin, int64_t end) {
    std::vector<float> p((h + 2) * pw), cols(9 * wo);
    for (int64_t ch = begin; ch < end; ++ch) {
      double acc[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t b = 0; b < n; ++b) {
        const int64_t plane = b * c + ch;
        pad_plane(x + plane * h * w, h, w, stride, pw, p.data());
        std::fill(cols.begin(), cols.end(), 0.0f);
        const float *g = dy + plane * ho * wo;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const float *__restrict grow = g + oy * wo;
          for (int i = 0; i < 3; ++i) {
            const float *row = p.data() + (stride * oy + i) * pw;
            // P[.][s*k + j] for j = 0, 1, 2 (stride 2: the de-interleaved halves, see pad_plane)
            const float *__restrict r0 = row;
            const float *__restrict r1 = stride == 1 ? row + 1 : row + pw / 2;
            const float *__restrict r2 = stride == 1 ? row + 2 : row + 1;
            float *__restrict c0 = cols.data() + (3 * i) * wo;
            float *__restrict c1 = c0 + wo;
            float *__restrict c2 = c1 + wo;
            for (int64_t k = 0; k < wo; ++k) {
              c0[k] += grow[k] * r0[k];
              c1[k] += grow[k] * r1[k];
              c2[k] += grow[k] * r2[k];
            }
          }
        }
        for (int t = 0; t < 9; ++t) {
          double sum = 0.0;
          for (int64_t k = 0; k < wo; ++k) sum += cols[t * wo + k];
          acc[t] += sum;
        }
      }
      for (int t = 0; t < 9; ++t) dw[ch * 9 + t] = static_cast<float>(acc[t]);
    }
  });
}

}  // namespace

extern "C" {

// params: x (N,C,H,W), weight (C,1,3,3) [, bias (C)], y (N,C,Ho,Wo)
static int run_forward(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, int stride,
                       bool has_bias, bool relu) {
  const int expected = has_bias ? 4 : 3;
  if (nparam != expected || ndims[0] != 4 || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[0];
  forward(static_cast<float *>(params[0]), static_cast<float *>(params[1]),
          has_bias ? static_cast<float *>(params[2]) : nullptr, relu, static_cast<float *>(params[expected - 1]),
          s[0], s[1], s[2], s[3], stride);
  return 0;
}

int DwConv3x3S1(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, 1, false, false);
}
int DwConv3x3S2(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, 2, false, false);
}
int DwConv3x3S1BiasRelu(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                        void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, 1, true, true);
}
int DwConv3x3S2BiasRelu(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                        void *) {
  return run_forward(nparam, params, ndims, shapes, dtypes, 2, true, true);
}

// params: dy (N,C,Ho,Wo), weight (C,1,3,3), x (N,C,H,W) (only its shape is used), dx (N,C,H,W)
static int run_grad_input(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                          int stride) {
  if (nparam != 4 || ndims[3] != 4 || !is_f32(dtypes[0]) || !is_f32(dtypes[1])) return 1;
  const int64_t *s = shapes[3];
  grad_input(static_cast<float *>(params[0]), static_cast<float *>(params[1]), static_cast<float *>(params[3]),
             s[0], s[1], s[2], s[3], stride);
  return 0;
}
int DwConv3x3S1GradInput(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                         void *) {
  return run_grad_input(nparam, params, ndims, shapes, dtypes, 1);
}
int DwConv3x3S2GradInput(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                         void *) {
  return run_grad_input(nparam, params, ndims, shapes, dtypes, 2);
}

// params: dy (N,C,Ho,Wo), x (N,C,H,W), dw (C,1,3,3)
static int run_grad_weight(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes,
                           int stride) {
  if (nparam != 3 || ndims[1] != 4 || !is_f32(dtypes[0]) || !is_f32(dtypes[1])) return 1;
  const int64_t *s = shapes[1];
  grad_weight(static_cast<float *>(params[0]), static_cast<float *>(params[1]), static_cast<float *>(params[2]),
              s[0], s[1], s[2], s[3], stride);
  return 0;
}
int DwConv3x3S1GradWeight(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                          void *) {
  return run_grad_weight(nparam, params, ndims, shapes, dtypes, 1);
}
int DwConv3x3S2GradWeight(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                          void *) {
  return run_grad_weight(nparam, params, ndims, shapes, dtypes, 2);
}

}  // extern "C"

// Modulated deformable im2col (DCNv2, Zhu et al. 2019; 3x3 kernel, stride 1, padding 1, dilation 1, one
// deformable group) for MindSpore CPU `ops.Custom` "aot" kernels: the forward gathers, for every image n, input
// channel c, kernel point k and output pixel p, the bilinearly sampled and modulated input value into a column
// matrix cols[c*9 + k][n*HW + p]; the layer is then weight (O, C*9) x cols + bias, ONE matrix product for the
// whole batch that MindSpore runs itself (the batch in the columns: no broadcast batched product, whose weight
// gradient transposed every image's columns; measured 4.5 s of a 27 s batch-8 DLA-34 training step).
// The backward turns the gradient of cols into the gradients of the input and of the raw offset/mask map.
// Used by src/models/kernels/dcn.py.
//
// Why: MindSpore 2.10's CPU deformable_conv2d materialises the (C, 3H, 3W) sampled map through DeformableOffsets
// and convolves it with stride 3; it was 2x slower than even a grid_sample-based PyTorch version (docs/centernet.md
// "Layer timings on this CPU") and its gradient crashes for batch sizes > 1 through the strided slices its callers need
// (src/models/dcn.py).
//
// Semantics (docs/centernet.md "Deformable convolution layout"). The offset/mask map om (N, 27, H, W) is the raw output
// of `conv_offset_mask` in DCNv2's channel order: channel 2k = dy_k, 2k+1 = dx_k, 18+k = mask logit of kernel point k =
// 3i + j. The sample of pixel (h, w) for point k is taken at (y, x) = (h - 1 + i + dy_k, w - 1 + j + dx_k) with
// bilinear interpolation; taps outside the map count 0, and the sample is 0 unless -1 < y < H and -1 < x < W; it is
// multiplied by sigmoid(mask logit). Coordinate gradients are those of that piecewise-bilinear function.
//
// Layout tricks: every input plane is copied once into a zero-bordered plane with one column of zeros left and
// right and two rows of zeros on top and one below (the extra top row gives samples outside the map a base
// index whose four taps are all zero), so the four taps of any sample are base, base + 1, base + Wp and
// base + Wp + 1 with no bounds checks. The sampling plan (base index and bilinear weights of each kernel point
// and pixel) does not depend on the channel: it is computed once per tile of pixels (forward) or per image
// (backward) and reused for every channel.
#include <cmath>

#include "cpu_kernels.h"

class AotExtra;  // MindSpore's attribute accessor (see infer_shape.cc); these kernels have no attributes

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

constexpr int kPoints = 9;        // 3x3 kernel points
constexpr int kOffsetMask = 27;   // 18 offsets (dy, dx per point) + 9 mask logits
constexpr int64_t kTile = 256;    // pixels per forward work item: its plan (9 x 256 x 20 bytes) stays in L2

struct Geometry {
  int64_t n, c, h, w, hw, wp, plane;  // plane = padded plane size (h + 3) * wp
  Geometry(int64_t n_, int64_t c_, int64_t h_, int64_t w_)
      : n(n_), c(c_), h(h_), w(w_), hw(h_ * w_), wp(w_ + 2), plane((h_ + 3) * (w_ + 2)) {}
};

// Copies x (N*C planes of h x w) into the zero-bordered planes described above.
void pad_planes(const float *x, const Geometry &g, float *padded) {
  parallel_for(g.n * g.c, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      float *dst = padded + plane * g.plane;
      std::fill(dst, dst + 2 * g.wp, 0.0f);
      for (int64_t r = 0; r < g.h; ++r) {
        float *row = dst + (r + 2) * g.wp;
        row[0] = 0.0f;
        std::memcpy(row + 1, x + (plane * g.h + r) * g.w, g.w * sizeof(float));
        row[g.w + 1] = 0.0f;
      }
      std::fill(dst + (g.h + 2) * g.wp, dst + g.plane, 0.0f);
    }
  });
}

inline float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// Sampling of one kernel point at one pixel: base index of the top-left tap in the padded plane, the fractional
// parts (ly, lx) and the mask; inside = false (base 0, all taps zero) outside -1 < y < H, -1 < x < W.
struct Sample {
  int32_t base;
  float ly, lx, mask;
  bool inside;
};

inline Sample sample_at(const float *om, const Geometry &g, int k, int64_t p) {
  const int64_t row = p / g.w, col = p % g.w;
  const float dy = om[(2 * k) * g.hw + p], dx = om[(2 * k + 1) * g.hw + p];
  const float y = static_cast<float>(row - 1 + k / 3) + dy, x = static_cast<float>(col - 1 + k % 3) + dx;
  Sample s{0, 0.0f, 0.0f, sigmoid(om[(18 + k) * g.hw + p]), false};
  if (y > -1.0f && y < static_cast<float>(g.h) && x > -1.0f && x < static_cast<float>(g.w)) {
    const float y0 = std::floor(y), x0 = std::floor(x);
    s.base = static_cast<int32_t>((static_cast<int64_t>(y0) + 2) * g.wp + static_cast<int64_t>(x0) + 1);
    s.ly = y - y0;
    s.lx = x - x0;
    s.inside = true;
  }
  return s;
}

void forward(const float *x, const float *om, float *cols, const Geometry &g) {
  std::vector<float> padded(g.n * g.c * g.plane);
  pad_planes(x, g, padded.data());
  const int64_t tiles = (g.hw + kTile - 1) / kTile;
  const float *pad = padded.data();
  parallel_for(g.n * tiles, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> base(kPoints * kTile);
    std::vector<float> weights(4 * kPoints * kTile);  // w00, w01, w10, w11 of each (point, pixel), mask included
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / tiles, p0 = (item % tiles) * kTile, len = std::min(kTile, g.hw - p0);
      const float *omb = om + b * kOffsetMask * g.hw;
      for (int k = 0; k < kPoints; ++k) {
        for (int64_t t = 0; t < len; ++t) {
          const Sample s = sample_at(omb, g, k, p0 + t);
          const float hy = 1.0f - s.ly, hx = 1.0f - s.lx, m = s.inside ? s.mask : 0.0f;
          base[k * kTile + t] = s.base;
          float *wk = weights.data() + 4 * k * kTile;
          wk[t] = m * hy * hx;
          wk[kTile + t] = m * hy * s.lx;
          wk[2 * kTile + t] = m * s.ly * hx;
          wk[3 * kTile + t] = m * s.ly * s.lx;
        }
      }
      for (int64_t ch = 0; ch < g.c; ++ch) {
        const float *plane = pad + (b * g.c + ch) * g.plane;
        for (int k = 0; k < kPoints; ++k) {
          const int32_t *__restrict bk = base.data() + k * kTile;
          const float *__restrict w00 = weights.data() + 4 * k * kTile;
          const float *__restrict w01 = w00 + kTile, *__restrict w10 = w01 + kTile, *__restrict w11 = w10 + kTile;
          float *__restrict out = cols + ((ch * kPoints + k) * g.n + b) * g.hw + p0;
          const int64_t wp = g.wp;
          for (int64_t t = 0; t < len; ++t) {
            const float *q = plane + bk[t];
            out[t] = w00[t] * q[0] + w01[t] * q[1] + w10[t] * q[wp] + w11[t] * q[wp + 1];
          }
        }
      }
    }
  });
}

// dcols (C*9, N*HW) -> dx (N, C, H, W) and dom (N, 27, H, W). Per image: the plan of all pixels, then channel
// blocks in parallel, each scattering into its own padded dx planes and summing its offset/mask gradient terms
// into its own partial buffer; the partial buffers are added at the end (no two threads write the same memory).
// Inside a block the work runs tile by tile of kTile pixels over every channel of the block, so the tile's plan
// and its offset/mask accumulators stay in L1/L2 while the channels stream through (channel by channel over the
// whole image, the 9*H*W plan and accumulators were re-read from memory for every channel: the five 64-channel
// layers at 128x128, batch 8, took 380-510 ms each instead of 285-390 ms).
void backward(const float *dcols, const float *x, const float *om, float *dx, float *dom, const Geometry &g) {
  std::vector<float> padded(g.n * g.c * g.plane);
  pad_planes(x, g, padded.data());
  // Channels per block for one block per thread, then as many blocks as that takes (5 channels on 4 threads:
  // 3 blocks of 2, 2, 1 channels), so no block is empty.
  const int64_t threads = std::min<int64_t>(cpu_kernels::num_threads(), g.c);
  const int64_t per_block = (g.c + threads - 1) / threads;
  const int64_t blocks = (g.c + per_block - 1) / per_block;
  const int64_t plan_size = kPoints * g.hw;
  const int64_t tiles = (g.hw + kTile - 1) / kTile;
  std::vector<int32_t> base(plan_size);
  std::vector<float> ly(plan_size), lx(plan_size), mask(plan_size);
  std::vector<float> partial(blocks * 3 * plan_size);  // per block: d(dy), d(dx), d(mask) of each (point, pixel)
  for (int64_t b = 0; b < g.n; ++b) {
    const float *omb = om + b * kOffsetMask * g.hw;
    parallel_for(plan_size, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const Sample s = sample_at(omb, g, static_cast<int>(i / g.hw), i % g.hw);
        base[i] = s.base;
        ly[i] = s.ly;
        lx[i] = s.lx;
        mask[i] = s.inside ? s.mask : 0.0f;  // outside: no sample, no gradient of any kind
      }
    });
    parallel_for(blocks, [&](int64_t begin, int64_t end) {
      std::vector<float> acc(3 * kPoints * kTile);  // the tile's d(dy), d(dx), d(mask) summed over the block
      for (int64_t blk = begin; blk < end; ++blk) {
        const int64_t c0 = blk * per_block, c1 = std::min(g.c, (blk + 1) * per_block);
        float *partial_block = partial.data() + blk * 3 * plan_size;  // every element written below, tile by tile
        std::vector<float> dpad((c1 - c0) * g.plane, 0.0f);  // the block's padded dx planes
        for (int64_t tile = 0; tile < tiles; ++tile) {
          const int64_t p0 = tile * kTile, len = std::min(kTile, g.hw - p0);
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int64_t ch = c0; ch < c1; ++ch) {
            const float *plane = padded.data() + (b * g.c + ch) * g.plane;
            float *d = dpad.data() + (ch - c0) * g.plane;
            const int64_t wp = g.wp;
            for (int k = 0; k < kPoints; ++k) {
              const float *__restrict gcol = dcols + ((ch * kPoints + k) * g.n + b) * g.hw + p0;
              const int64_t offset = k * g.hw + p0;
              float *__restrict acc_y = acc.data() + k * kTile;
              float *__restrict acc_x = acc_y + kPoints * kTile, *__restrict acc_m = acc_x + kPoints * kTile;
              for (int64_t t = 0; t < len; ++t) {
                const int64_t i = offset + t;
                const float m = mask[i];
                if (m == 0.0f) continue;  // outside (or a mask that rounds to 0: every term below is 0 then)
                const float grad = gcol[t], fy = ly[i], fx = lx[i], hy = 1.0f - fy, hx = 1.0f - fx;
                const int32_t q = base[i];
                const float v00 = plane[q], v01 = plane[q + 1], v10 = plane[q + wp], v11 = plane[q + wp + 1];
                const float gm = grad * m;
                d[q] += gm * hy * hx;
                d[q + 1] += gm * hy * fx;
                d[q + wp] += gm * fy * hx;
                d[q + wp + 1] += gm * fy * fx;
                acc_m[t] += grad * (hy * (hx * v00 + fx * v01) + fy * (hx * v10 + fx * v11));
                acc_y[t] += gm * (hx * (v10 - v00) + fx * (v11 - v01));
                acc_x[t] += gm * (hy * (v01 - v00) + fy * (v11 - v10));
              }
            }
          }
          for (int part = 0; part < 3; ++part) {
            for (int k = 0; k < kPoints; ++k) {
              std::memcpy(partial_block + part * plan_size + k * g.hw + p0, acc.data() + (part * kPoints + k) * kTile,
                          len * sizeof(float));
            }
          }
        }
        for (int64_t ch = c0; ch < c1; ++ch) {
          const float *d = dpad.data() + (ch - c0) * g.plane;
          float *dst = dx + (b * g.c + ch) * g.hw;
          for (int64_t r = 0; r < g.h; ++r) std::memcpy(dst + r * g.w, d + (r + 2) * g.wp + 1, g.w * sizeof(float));
        }
      }
    });
    float *domb = dom + b * kOffsetMask * g.hw;
    parallel_for(plan_size, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float sy = 0.0f, sx = 0.0f, sm = 0.0f;
        for (int64_t blk = 0; blk < blocks; ++blk) {
          const float *acc = partial.data() + blk * 3 * plan_size;
          sy += acc[i];
          sx += acc[plan_size + i];
          sm += acc[2 * plan_size + i];
        }
        const int64_t k = i / g.hw, p = i % g.hw;
        const float s = sigmoid(omb[(18 + k) * g.hw + p]);  // the mask before zeroing outside samples
        domb[(2 * k) * g.hw + p] = sy;
        domb[(2 * k + 1) * g.hw + p] = sx;
        domb[(18 + k) * g.hw + p] = sm * s * (1.0f - s);
      }
    });
  }
}

bool valid_inputs(const int *ndims, int64_t **shapes, const char **dtypes, int x_index, int om_index) {
  if (ndims[x_index] != 4 || ndims[om_index] != 4 || !is_f32(dtypes[x_index]) || !is_f32(dtypes[om_index]))
    return false;
  const int64_t *xs = shapes[x_index], *os = shapes[om_index];
  return os[0] == xs[0] && os[1] == kOffsetMask && os[2] == xs[2] && os[3] == xs[3];
}

using Shape = std::vector<int64_t>;

Shape shape_of(const int *ndims, int64_t **shapes, int index) { return Shape(shapes[index], shapes[index] + ndims[index]); }

// Product of two dimensions, unknown (-1) if either is; an unknown rank (-2, infer_shape.cc) stays unknown.
int64_t known_product(int64_t a, int64_t b) { return a < 0 || b < 0 ? -1 : a * b; }

}  // namespace

extern "C" {

// MindSpore's C++ output-shape inference (graphs with dynamic input shapes; src/models/kernels/library.py aot_op).
std::vector<int64_t> DcnIm2colInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape x = shape_of(ndims, shapes, 0);
  if (x.size() != 4) return {-2};  // unknown rank (or a wrong one, which the kernel rejects at launch)
  return {known_product(x[1], 9), known_product(x[0], known_product(x[2], x[3]))};
}
std::vector<std::vector<int64_t>> DcnIm2colGradInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return {shape_of(ndims, shapes, 1), shape_of(ndims, shapes, 2)};
}

// params: x (N,C,H,W), om (N,27,H,W) -> cols (C*9, N*H*W)
int DcnIm2col(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 3 || !valid_inputs(ndims, shapes, dtypes, 0, 1)) return 1;
  const int64_t *s = shapes[0];
  forward(static_cast<float *>(params[0]), static_cast<float *>(params[1]), static_cast<float *>(params[2]),
          Geometry(s[0], s[1], s[2], s[3]));
  return 0;
}

// params: dcols (C*9, N*H*W), x (N,C,H,W), om (N,27,H,W) -> dx (N,C,H,W), dom (N,27,H,W)
int DcnIm2colGrad(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 5 || !valid_inputs(ndims, shapes, dtypes, 1, 2) || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[1];
  if (ndims[0] != 2 || shapes[0][0] != s[1] * kPoints || shapes[0][1] != s[0] * s[2] * s[3]) return 1;
  backward(static_cast<float *>(params[0]), static_cast<float *>(params[1]), static_cast<float *>(params[2]),
           static_cast<float *>(params[3]), static_cast<float *>(params[4]), Geometry(s[0], s[1], s[2], s[3]));
  return 0;
}

}  // extern "C"

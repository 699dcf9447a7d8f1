// Winograd F(2x2, 3x3) transforms (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016)
// for MindSpore CPU `ops.Custom` "aot" kernels: a 3x3 / stride 1 / padding 1 convolution computed as
//   Y_tile = A^T [ (G g G^T) (.) (B^T d B) ] A
// for every 2x2 output tile and its 4x4 input patch d. The input transform V = B^T d B and the output transform
// are these kernels; the 16 products sum_c U[k][o][c] V[k][c][p] are one MindSpore BatchMatMul and the weight
// transform U = G g G^T a few MindSpore matrix products (src/models/kernels/conv3x3.py). The adjoint transforms
// serve the backward pass, so every gradient (input, weight, through MindSpore's BatchMatMul gradient) also runs
// at the Winograd cost: 16 products per 2x2 tile instead of 36 multiply-adds per output pixel (2.25x fewer).
//
// Why: MindSpore 2.10 runs NCHW 3x3 convolutions through oneDNN's im2col + GEMM under the AVX2 cap, 1.2-1.4x
// slower than PyTorch's direct convolutions on this machine; DLA-34's 3x3 convs and CenterNet's 256-wide heads
// are ~75% of the pose network's arithmetic (docs/performance.md "Compiled CPU kernels").
//
// Matrices (F(2x2, 3x3), coefficients 0, +-1, +-1/2: the transform adds no rounding beyond the float sums):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Layouts: x (N,C,H,W); tiles th = ceil(H/2), tw = ceil(W/2), P = N*th*tw, tile p = (n*th + ty)*tw + tx covers
// output rows 2ty, 2ty+1 and columns 2tx, 2tx+1 and reads input rows 2ty-1..2ty+2, columns 2tx-1..2tx+2 (zero
// outside); V (16, C, P) with V[4a+b][c][p] = (B^T d B)[a][b]; M (16, O, P); Y (N,O,H,W) (odd H or W: the last
// tile's second row/column is dropped).
#include "cpu_kernels.h"

class AotExtra;  // MindSpore's attribute accessor (see infer_shape.cc); these kernels have no attributes

namespace {

using cpu_kernels::is_f32;
using cpu_kernels::parallel_for;

struct Tiles {
  int64_t n, c, h, w, th, tw, p;
  Tiles(int64_t n_, int64_t c_, int64_t h_, int64_t w_)
      : n(n_), c(c_), h(h_), w(w_), th((h_ + 1) / 2), tw((w_ + 1) / 2), p(n_ * ((h_ + 1) / 2) * ((w_ + 1) / 2)) {}
};

// x -> V. Per plane and tile row, the four input rows are split into even and odd padded columns (padded column
// q = input column q - 1, zero outside): the patch of tile tx is padded columns 2tx..2tx+3 = even[tx], odd[tx],
// even[tx + 1], odd[tx + 1], so every loop below reads and writes contiguous arrays and vectorises.
void input_transform(const float *x, float *v, const Tiles &t) {
  parallel_for(t.n * t.c, [&](int64_t begin, int64_t end) {
    const int64_t half = t.tw + 1;
    std::vector<float> buf(8 * half);  // even and odd halves of the 4 rows
    std::vector<float> u(16 * t.tw);   // B^T d for each tile: [a][s][tx]
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / t.c, ch = plane % t.c;
      const float *src = x + plane * t.h * t.w;
      for (int64_t ty = 0; ty < t.th; ++ty) {
        for (int r = 0; r < 4; ++r) {
          float *even = buf.data() + 2 * r * half, *odd = even + half;
          std::fill(even, even + 2 * half, 0.0f);
          const int64_t y = 2 * ty - 1 + r;
          if (y < 0 || y >= t.h) continue;
          const float *row = src + y * t.w;
          for (int64_t k = 0; 2 * k < t.w; ++k) odd[k] = row[2 * k];          // padded 2k + 1 = input 2k
          for (int64_t k = 0; 2 * k + 1 < t.w; ++k) even[k + 1] = row[2 * k + 1];  // padded 2k + 2 = input 2k + 1
        }
        for (int s = 0; s < 4; ++s) {  // B^T d, column s of every patch
          const float *col[4];
          for (int r = 0; r < 4; ++r) col[r] = buf.data() + 2 * r * half + (s & 1 ? half : 0) + (s >> 1);
          float *__restrict u0 = u.data() + s * t.tw, *__restrict u1 = u0 + 4 * t.tw;
          float *__restrict u2 = u1 + 4 * t.tw, *__restrict u3 = u2 + 4 * t.tw;
          const float *__restrict d0 = col[0], *__restrict d1 = col[1], *__restrict d2 = col[2], *__restrict d3 = col[3];
          for (int64_t tx = 0; tx < t.tw; ++tx) {
            u0[tx] = d0[tx] - d2[tx];
            u1[tx] = d1[tx] + d2[tx];
            u2[tx] = d2[tx] - d1[tx];
            u3[tx] = d1[tx] - d3[tx];
          }
        }
        const int64_t p0 = (b * t.th + ty) * t.tw;
        for (int a = 0; a < 4; ++a) {  // (B^T d) B
          const float *__restrict c0 = u.data() + 4 * a * t.tw, *__restrict c1 = c0 + t.tw;
          const float *__restrict c2 = c1 + t.tw, *__restrict c3 = c2 + t.tw;
          float *__restrict o0 = v + ((4 * a) * t.c + ch) * t.p + p0, *__restrict o1 = o0 + t.c * t.p;
          float *__restrict o2 = o1 + t.c * t.p, *__restrict o3 = o2 + t.c * t.p;
          for (int64_t tx = 0; tx < t.tw; ++tx) {
            o0[tx] = c0[tx] - c2[tx];
            o1[tx] = c1[tx] + c2[tx];
            o2[tx] = c2[tx] - c1[tx];
            o3[tx] = c1[tx] - c3[tx];
          }
        }
      }
    }
  });
}

// dV -> dx: dd = B dv B^T per tile, added into the 4x4 patch it came from (patches overlap by two rows and
// columns). One plane per work item, accumulated in a zero-bordered plane of (2*th + 2) x (2*tw + 2).
void input_transform_adjoint(const float *dv, float *dx, const Tiles &t) {
  parallel_for(t.n * t.c, [&](int64_t begin, int64_t end) {
    const int64_t pw = 2 * t.tw + 2, ph = 2 * t.th + 2;
    std::vector<float> acc(ph * pw);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / t.c, ch = plane % t.c;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t ty = 0; ty < t.th; ++ty) {
        const int64_t p0 = (b * t.th + ty) * t.tw;
        const float *in[16];
        for (int k = 0; k < 16; ++k) in[k] = dv + (k * t.c + ch) * t.p + p0;
        float *r0 = acc.data() + 2 * ty * pw, *r1 = r0 + pw, *r2 = r1 + pw, *r3 = r2 + pw;
        for (int64_t tx = 0; tx < t.tw; ++tx) {
          float g[4][4], s[4][4];
          for (int k = 0; k < 16; ++k) g[k / 4][k % 4] = in[k][tx];
          for (int col = 0; col < 4; ++col) {  // B g: rows of B are [1 0 0 0; 0 1 -1 1; -1 1 1 0; 0 0 0 -1]
            s[0][col] = g[0][col];
            s[1][col] = g[1][col] - g[2][col] + g[3][col];
            s[2][col] = g[1][col] + g[2][col] - g[0][col];
            s[3][col] = -g[3][col];
          }
          float *rows[4] = {r0, r1, r2, r3};
          const int64_t q = 2 * tx;
          for (int r = 0; r < 4; ++r) {  // (B g) B^T
            rows[r][q] += s[r][0];
            rows[r][q + 1] += s[r][1] - s[r][2] + s[r][3];
            rows[r][q + 2] += s[r][1] + s[r][2] - s[r][0];
            rows[r][q + 3] -= s[r][3];
          }
        }
      }
      float *dst = dx + plane * t.h * t.w;  // padded (row, column) = input (row + 1, column + 1)
      for (int64_t y = 0; y < t.h; ++y) std::memcpy(dst + y * t.w, acc.data() + (y + 1) * pw + 1, t.w * sizeof(float));
    }
  });
}

// M -> Y: y = A^T m A per tile, cropped at odd edges. Per tile row: A^T m into two rows of 4 columns per tile
// (contiguous in tx), then the 2x2 results into even/odd output columns.
void output_transform(const float *m, float *y, const Tiles &t, int64_t outc) {
  parallel_for(t.n * outc, [&](int64_t begin, int64_t end) {
    std::vector<float> u(8 * t.tw), res(4 * t.tw);  // u: A^T m [i][s][tx]; res: [i][j][tx]
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / outc, o = plane % outc;
      float *dst = y + plane * t.h * t.w;
      for (int64_t ty = 0; ty < t.th; ++ty) {
        const int64_t p0 = (b * t.th + ty) * t.tw;
        for (int s = 0; s < 4; ++s) {
          const float *__restrict m0 = m + (s * outc + o) * t.p + p0, *__restrict m1 = m0 + 4 * outc * t.p;
          const float *__restrict m2 = m1 + 4 * outc * t.p, *__restrict m3 = m2 + 4 * outc * t.p;
          float *__restrict u0 = u.data() + s * t.tw, *__restrict u1 = u0 + 4 * t.tw;
          for (int64_t tx = 0; tx < t.tw; ++tx) {
            u0[tx] = m0[tx] + m1[tx] + m2[tx];
            u1[tx] = m1[tx] - m2[tx] - m3[tx];
          }
        }
        for (int i = 0; i < 2; ++i) {
          const float *__restrict c0 = u.data() + 4 * i * t.tw, *__restrict c1 = c0 + t.tw;
          const float *__restrict c2 = c1 + t.tw, *__restrict c3 = c2 + t.tw;
          float *__restrict r0 = res.data() + 2 * i * t.tw, *__restrict r1 = r0 + t.tw;
          for (int64_t tx = 0; tx < t.tw; ++tx) {
            r0[tx] = c0[tx] + c1[tx] + c2[tx];
            r1[tx] = c1[tx] - c2[tx] - c3[tx];
          }
        }
        for (int i = 0; i < 2 && 2 * ty + i < t.h; ++i) {
          float *row = dst + (2 * ty + i) * t.w;
          const float *r0 = res.data() + 2 * i * t.tw, *r1 = r0 + t.tw;
          for (int64_t k = 0; 2 * k < t.w; ++k) row[2 * k] = r0[k];
          for (int64_t k = 0; 2 * k + 1 < t.w; ++k) row[2 * k + 1] = r1[k];
        }
      }
    }
  });
}

// dY -> dM: dm = A g A^T per tile (g the tile's 2x2 output gradient, 0 beyond an odd edge).
void output_transform_adjoint(const float *dy, float *dm, const Tiles &t, int64_t outc) {
  parallel_for(t.n * outc, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / outc, o = plane % outc;
      const float *src = dy + plane * t.h * t.w;
      for (int64_t ty = 0; ty < t.th; ++ty) {
        const int64_t p0 = (b * t.th + ty) * t.tw;
        float *out[16];
        for (int k = 0; k < 16; ++k) out[k] = dm + (k * outc + o) * t.p + p0;
        const float *row0 = src + 2 * ty * t.w;
        const float *row1 = 2 * ty + 1 < t.h ? row0 + t.w : nullptr;
        for (int64_t tx = 0; tx < t.tw; ++tx) {
          const int64_t col = 2 * tx;
          const bool second = col + 1 < t.w;
          const float g00 = row0[col], g01 = second ? row0[col + 1] : 0.0f;
          const float g10 = row1 ? row1[col] : 0.0f, g11 = row1 && second ? row1[col + 1] : 0.0f;
          // A g: rows of A are [1 0; 1 1; 1 -1; 0 -1]
          const float s[4][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};
          for (int a = 0; a < 4; ++a) {  // (A g) A^T
            out[4 * a][tx] = s[a][0];
            out[4 * a + 1][tx] = s[a][0] + s[a][1];
            out[4 * a + 2][tx] = s[a][0] - s[a][1];
            out[4 * a + 3][tx] = -s[a][1];
          }
        }
      }
    }
  });
}

using Shape = std::vector<int64_t>;

Shape shape_of(const int *ndims, int64_t **shapes, int index) { return Shape(shapes[index], shapes[index] + ndims[index]); }

int64_t tiles_of(int64_t size) { return size < 0 ? -1 : (size + 1) / 2; }

int64_t known_product(int64_t a, int64_t b) { return a < 0 || b < 0 ? -1 : a * b; }

// Shape of V/M (16, channels, N * ceil(H/2) * ceil(W/2)) for the image shape x (N, ., H, W).
Shape tile_matrix_shape(const Shape &x, int64_t channels) {
  if (x.size() != 4) return {-2};
  return {16, channels, known_product(x[0], known_product(tiles_of(x[2]), tiles_of(x[3])))};
}

}  // namespace

extern "C" {

// params: x (N,C,H,W) -> V (16, C, P)
int WinogradInput(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 2 || ndims[0] != 4 || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[0];
  input_transform(static_cast<float *>(params[0]), static_cast<float *>(params[1]), Tiles(s[0], s[1], s[2], s[3]));
  return 0;
}

// params: dV (16, C, P), x (N,C,H,W) (its shape only) -> dx (N,C,H,W)
int WinogradInputAdjoint(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                         void *) {
  if (nparam != 3 || ndims[1] != 4 || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[1];
  input_transform_adjoint(static_cast<float *>(params[0]), static_cast<float *>(params[2]),
                          Tiles(s[0], s[1], s[2], s[3]));
  return 0;
}

// params: M (16, O, P), x (N,C,H,W) (its shape only) -> Y (N,O,H,W)
int WinogradOutput(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *, void *) {
  if (nparam != 3 || ndims[0] != 3 || ndims[1] != 4 || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[1];
  output_transform(static_cast<float *>(params[0]), static_cast<float *>(params[2]), Tiles(s[0], s[1], s[2], s[3]),
                   shapes[0][1]);
  return 0;
}

// params: dY (N,O,H,W) -> dM (16, O, P)
int WinogradOutputAdjoint(int nparam, void **params, int *ndims, int64_t **shapes, const char **dtypes, void *,
                          void *) {
  if (nparam != 2 || ndims[0] != 4 || !is_f32(dtypes[0])) return 1;
  const int64_t *s = shapes[0];
  output_transform_adjoint(static_cast<float *>(params[0]), static_cast<float *>(params[1]),
                           Tiles(s[0], s[1], s[2], s[3]), s[1]);
  return 0;
}

// MindSpore's C++ output-shape inference (graphs with dynamic input shapes; src/models/kernels/library.py aot_op).
std::vector<int64_t> WinogradInputInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape x = shape_of(ndims, shapes, 0);
  return tile_matrix_shape(x, x.size() == 4 ? x[1] : -1);
}
std::vector<int64_t> WinogradInputAdjointInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return shape_of(ndims, shapes, 1);
}
std::vector<int64_t> WinogradOutputInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape x = shape_of(ndims, shapes, 1);
  if (x.size() != 4 || ndims[0] != 3) return {-2};
  return {x[0], shapes[0][1], x[2], x[3]};
}
std::vector<int64_t> WinogradOutputAdjointInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape dy = shape_of(ndims, shapes, 0);
  return tile_matrix_shape(dy, dy.size() == 4 ? dy[1] : -1);
}

}  // extern "C"

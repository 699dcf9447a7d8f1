// Output-shape functions of the project's CPU kernels, for MindSpore's C++ shape inference of `ops.Custom` "aot".
//
// Why: MindSpore 2.10 re-infers the shapes of every op at run time in a graph whose input shapes are dynamic
// (`Cell.set_inputs` with None dims); for a Custom op it can only do that in C++, through a function named
// `<kernel>InferShape` exported by the kernel's own library (a Python `out_shape` runs at compile time only, and
// the graph then fails with "The pointer[value] is null"). With these functions one compiled graph serves every
// input size (src/models/kernels/library.py `aot_op` uses them when they are exported).
//
// Signature (MindSpore AOT): std::vector<int64_t> f(int *ndims, int64_t **shapes, AotExtra *) for one output,
// std::vector<std::vector<int64_t>> for several; `shapes[i]` is the shape of input i, with -1 for a dimension not
// known yet at compile time and {-2} for an unknown rank. Unknown stays unknown in the result.
#include <cstdint>
#include <vector>

class AotExtra;  // MindSpore's attribute accessor; none of these kernels has attributes

namespace {

using Shape = std::vector<int64_t>;
constexpr int64_t kUnknownDim = -1;
constexpr int64_t kUnknownRank = -2;

Shape input_shape(int *ndims, int64_t **shapes, int index) {
  return Shape(shapes[index], shapes[index] + ndims[index]);
}

bool unknown_rank(int *ndims, int64_t **shapes, int index) {
  return ndims[index] >= 1 && shapes[index][0] == kUnknownRank;
}

// Output size of a 3x3 convolution with padding 1 along one axis.
int64_t conv_out(int64_t size, int64_t stride) { return size < 0 ? kUnknownDim : (size - 1) / stride + 1; }

Shape depthwise_forward(int *ndims, int64_t **shapes, int64_t stride) {
  if (unknown_rank(ndims, shapes, 0)) return {kUnknownRank};
  Shape x = input_shape(ndims, shapes, 0);  // (N, C, H, W)
  if (x.size() != 4) return x;               // the kernel rejects it at launch with a clear failure
  return {x[0], x[1], conv_out(x[2], stride), conv_out(x[3], stride)};
}

// Output size of a 3x3 / stride-2 / padding-1 max-pool along one axis.
int64_t pool_out(int64_t size) { return size < 0 ? kUnknownDim : (size - 1) / 2 + 1; }

// Per-channel outputs (BatchNorm statistics, gamma/beta gradients): one value per channel of input x (N, C, H, W).
Shape channels_of(int *ndims, int64_t **shapes, int index) {
  if (unknown_rank(ndims, shapes, index) || ndims[index] < 2) return {kUnknownDim};
  return {shapes[index][1]};
}

}  // namespace

extern "C" {

// DwConv3x3S{1,2}[BiasRelu](x, weight[, bias]) -> (N, C, ceil(H / s), ceil(W / s))
std::vector<int64_t> DwConv3x3S1InferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return depthwise_forward(ndims, shapes, 1);
}
std::vector<int64_t> DwConv3x3S2InferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return depthwise_forward(ndims, shapes, 2);
}
std::vector<int64_t> DwConv3x3S1BiasReluInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return depthwise_forward(ndims, shapes, 1);
}
std::vector<int64_t> DwConv3x3S2BiasReluInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return depthwise_forward(ndims, shapes, 2);
}

// DwConv3x3S{1,2}GradInput(dy, weight, x) -> the shape of x
std::vector<int64_t> DwConv3x3S1GradInputInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return input_shape(ndims, shapes, 2);
}
std::vector<int64_t> DwConv3x3S2GradInputInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return input_shape(ndims, shapes, 2);
}

// DwConv3x3S{1,2}GradWeight(dy, x) -> (C, 1, 3, 3)
std::vector<int64_t> DwConv3x3S1GradWeightInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return {channels_of(ndims, shapes, 1)[0], 1, 3, 3};
}
std::vector<int64_t> DwConv3x3S2GradWeightInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return {channels_of(ndims, shapes, 1)[0], 1, 3, 3};
}

// MaxPool3x3S2(x) -> (N, C, (H - 1) / 2 + 1, (W - 1) / 2 + 1)
std::vector<int64_t> MaxPool3x3S2InferShape(int *ndims, int64_t **shapes, AotExtra *) {
  if (unknown_rank(ndims, shapes, 0)) return {kUnknownRank};
  Shape x = input_shape(ndims, shapes, 0);
  if (x.size() != 4) return x;  // the kernel rejects it at launch
  return {x[0], x[1], pool_out(x[2]), pool_out(x[3])};
}

// MaxPool3x3S2Grad(dy, x) -> the shape of x
std::vector<int64_t> MaxPool3x3S2GradInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return input_shape(ndims, shapes, 1);
}

// BiasReluNchw(x, bias) -> the shape of x
std::vector<int64_t> BiasReluNchwInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return input_shape(ndims, shapes, 0);
}

// Bn[Relu]TrainForward(x, gamma, beta, eps) -> y (shape of x), mean, invstd, unbiased variance (C each)
std::vector<std::vector<int64_t>> BnTrainForwardInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape c = channels_of(ndims, shapes, 0);
  return {input_shape(ndims, shapes, 0), c, c, c};
}
std::vector<std::vector<int64_t>> BnReluTrainForwardInferShape(int *ndims, int64_t **shapes, AotExtra *extra) {
  return BnTrainForwardInferShape(ndims, shapes, extra);
}

// Bn[Relu]TrainBackward(dy, x, y, gamma, mean, invstd) -> dx (shape of x), dgamma, dbeta (C each)
std::vector<std::vector<int64_t>> BnTrainBackwardInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  const Shape c = channels_of(ndims, shapes, 1);
  return {input_shape(ndims, shapes, 1), c, c};
}
std::vector<std::vector<int64_t>> BnReluTrainBackwardInferShape(int *ndims, int64_t **shapes, AotExtra *extra) {
  return BnTrainBackwardInferShape(ndims, shapes, extra);
}

}  // extern "C"

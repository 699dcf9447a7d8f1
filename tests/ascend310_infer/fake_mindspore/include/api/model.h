// Test double of MindSpore's include/api/model.h. Predict returns two outputs: the input, and the input
// times 2 (float32), so a test can check what the runner writes.
#ifndef FAKE_MINDSPORE_INCLUDE_API_MODEL_H
#define FAKE_MINDSPORE_INCLUDE_API_MODEL_H
#include <memory>
#include <vector>
#include "include/api/context.h"
#include "include/api/graph.h"
#include "include/api/status.h"
#include "include/api/types.h"

namespace mindspore {
class Model {
 public:
  Status Build(GraphCell graph, const std::shared_ptr<Context> &context = nullptr) {
    if (!context || context->MutableDeviceInfo().size() != 1 ||
        context->MutableDeviceInfo()[0]->GetDeviceType() != kAscend310) {
      return Status(kMEFailed, "fake: expected one Ascend310DeviceInfo");
    }
    shape_ = graph.GetGraph().input_shape;
    return Status(kSuccess);
  }
  std::vector<MSTensor> GetInputs() { return {MSTensor("x", DataType::kNumberTypeFloat32, shape_, nullptr, Bytes())}; }
  Status Predict(const std::vector<MSTensor> &inputs, std::vector<MSTensor> *outputs) {
    if (inputs.size() != 1 || inputs[0].DataSize() != Bytes()) {
      return Status(kMEFailed, "fake: wrong input");
    }
    const float *x = static_cast<const float *>(inputs[0].Data().get());
    std::vector<float> doubled(x, x + Bytes() / sizeof(float));
    for (float &v : doubled) v *= 2.0f;
    outputs->clear();
    outputs->emplace_back("out0", DataType::kNumberTypeFloat32, shape_, x, Bytes());
    outputs->emplace_back("out1", DataType::kNumberTypeFloat32, shape_, doubled.data(), Bytes());
    return Status(kSuccess);
  }

 private:
  size_t Bytes() const {
    size_t n = sizeof(float);
    for (int64_t d : shape_) n *= static_cast<size_t>(d);
    return n;
  }
  std::vector<int64_t> shape_;
};
}  // namespace mindspore
#endif

// Test double of MindSpore's include/api/types.h (same signatures as the MindSpore 1.x API).
#ifndef FAKE_MINDSPORE_INCLUDE_API_TYPES_H
#define FAKE_MINDSPORE_INCLUDE_API_TYPES_H
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mindspore {
enum class DataType : int { kNumberTypeFloat32 = 43 };
enum ModelType : uint32_t { kMindIR = 0, kAIR = 1, kOM = 2, kONNX = 3 };

class MSTensor {
 public:
  MSTensor() = default;
  MSTensor(const std::string &name, enum DataType type, const std::vector<int64_t> &shape, const void *data,
           size_t data_len)
      : name_(name), type_(type), shape_(shape), bytes_(std::make_shared<std::vector<char>>(data_len)) {
    if (data != nullptr && data_len > 0) {
      std::memcpy(bytes_->data(), data, data_len);
    }
  }
  std::string Name() const { return name_; }
  enum DataType DataType() const { return type_; }
  const std::vector<int64_t> &Shape() const { return shape_; }
  int64_t ElementNum() const {
    int64_t n = 1;
    for (int64_t d : shape_) n *= d;
    return n;
  }
  std::shared_ptr<const void> Data() const { return std::shared_ptr<const void>(bytes_, bytes_->data()); }
  size_t DataSize() const { return bytes_ ? bytes_->size() : static_cast<size_t>(ElementNum()) * 4; }

 private:
  std::string name_;
  enum DataType type_ = DataType::kNumberTypeFloat32;
  std::vector<int64_t> shape_;
  std::shared_ptr<std::vector<char>> bytes_;
};
}  // namespace mindspore
#endif

// Test double of MindSpore's include/api/context.h (Context, DeviceInfoContext, Ascend310DeviceInfo).
#ifndef FAKE_MINDSPORE_INCLUDE_API_CONTEXT_H
#define FAKE_MINDSPORE_INCLUDE_API_CONTEXT_H
#include <cstdint>
#include <memory>
#include <vector>
#include "include/api/types.h"

namespace mindspore {
enum DeviceType { kCPU = 0, kAscend910 = 4, kAscend310 = 5 };

class DeviceInfoContext : public std::enable_shared_from_this<DeviceInfoContext> {
 public:
  virtual ~DeviceInfoContext() = default;
  virtual enum DeviceType GetDeviceType() const = 0;
};

class Ascend310DeviceInfo : public DeviceInfoContext {
 public:
  enum DeviceType GetDeviceType() const override { return kAscend310; }
  void SetDeviceID(uint32_t device_id) { device_id_ = device_id; }
  uint32_t GetDeviceID() const { return device_id_; }

 private:
  uint32_t device_id_ = 0;
};

class Context {
 public:
  std::vector<std::shared_ptr<DeviceInfoContext>> &MutableDeviceInfo() { return devices_; }

 private:
  std::vector<std::shared_ptr<DeviceInfoContext>> devices_;
};
}  // namespace mindspore
#endif

// Test double of MindSpore's include/api/status.h: only what ascend310_infer/src/main.cc uses.
#ifndef FAKE_MINDSPORE_INCLUDE_API_STATUS_H
#define FAKE_MINDSPORE_INCLUDE_API_STATUS_H
#include <string>

namespace mindspore {
enum StatusCode : int { kSuccess = 0, kMEFailed = 1 };

class Status {
 public:
  Status(StatusCode code = kSuccess, const std::string &message = "") : code_(code), message_(message) {}
  bool operator==(StatusCode code) const { return code_ == code; }
  bool operator!=(StatusCode code) const { return code_ != code; }
  std::string ToString() const { return message_; }

 private:
  StatusCode code_;
  std::string message_;
};
}  // namespace mindspore
#endif

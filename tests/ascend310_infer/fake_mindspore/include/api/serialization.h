// Test double of MindSpore's include/api/serialization.h: the "MindIR" is a text file holding the input shape.
#ifndef FAKE_MINDSPORE_INCLUDE_API_SERIALIZATION_H
#define FAKE_MINDSPORE_INCLUDE_API_SERIALIZATION_H
#include <fstream>
#include <string>
#include "include/api/graph.h"
#include "include/api/model.h"
#include "include/api/status.h"
#include "include/api/types.h"

namespace mindspore {
class Serialization {
 public:
  static Status Load(const std::string &file, ModelType model_type, Graph *graph) {
    std::ifstream in(file);
    if (!in || model_type != kMindIR) {
      return Status(kMEFailed, "fake: cannot read " + file);
    }
    graph->input_shape.clear();
    for (int64_t d; in >> d;) graph->input_shape.push_back(d);
    return graph->input_shape.empty() ? Status(kMEFailed, "fake: no shape in " + file) : Status(kSuccess);
  }
};
}  // namespace mindspore
#endif

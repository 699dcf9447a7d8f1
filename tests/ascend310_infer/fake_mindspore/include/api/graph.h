// Test double of MindSpore's include/api/graph.h + cell.h: a "graph" is just the input shape.
#ifndef FAKE_MINDSPORE_INCLUDE_API_GRAPH_H
#define FAKE_MINDSPORE_INCLUDE_API_GRAPH_H
#include <cstdint>
#include <vector>

namespace mindspore {
class Graph {
 public:
  Graph() = default;
  std::vector<int64_t> input_shape;
};

class GraphCell {
 public:
  explicit GraphCell(const Graph &graph) : graph_(graph) {}
  const Graph &GetGraph() const { return graph_; }

 private:
  Graph graph_;
};
}  // namespace mindspore
#endif

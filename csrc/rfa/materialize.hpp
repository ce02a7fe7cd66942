// One candidate of a program as the graph the general engine analyzes:
// absent nodes and SELECTs resolved, pass-throughs wired to their input,
// "none" inputs dropped from merges (or replaced by a constant, a MERGE
// without inputs, where a node needs one). The same rules as
// rfa_fast.space.Space.graph (docs/spaces.md).
#pragma once
#include <cstdint>
#include <vector>

#include "batch.hpp"
#include "program.hpp"

namespace rfa {

// Owned arrays of one graph; batch() points a Batch at them.
struct GraphArrays {
  int D = 2;
  std::vector<int64_t> graph_ptr{0, 0};
  std::vector<uint8_t> op, pad_mode, ceil_mode, mode, weighted;
  std::vector<int32_t> kernel, stride, dilation, pad_begin, pad_end, pred;
  std::vector<double> scale;
  std::vector<int64_t> c_in, c_out, groups, pred_ptr{0};
  std::vector<int64_t> origin;  // template node of each graph node (-1: a constant standing for "none")

  void clear();
  Batch batch() const;
};

void materialize(const Program& p, const Candidates& c, int64_t b, GraphArrays& g);

// Analyze candidate b through materialize() and the general engine, writing
// its per-graph results at index b of `out` (R resolutions of res).
void analyze_candidate(const Program& p, const Candidates& c, int64_t b, const int64_t* res, int64_t R,
                       const Options& opt, const Outputs& out, GraphArrays& scratch);

}  // namespace rfa

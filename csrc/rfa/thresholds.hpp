// Resolution thresholds of one graph. Fields do not depend on the
// resolution and feature maps grow monotonically with it, so at a square
// resolution I every status rule of docs/semantics.md is "I < T" for a T
// found once per node:
//   unproductive  I < T             T = max(T_a, T_b) (rules (a), (b))
//   border        A <= I < T        A: largest T of the nearest windowed ancestors
//   critical      I < Tc            Tc = ceil(rf_min) (partially: between axes)
// I_min is then max T, and a sweep over S resolutions is a count, not S passes.
//
// Rule (b) asks for the smallest I at which an input's feature map exceeds
// k'. Nodes are grouped into feature-map classes, nodes whose maps are the
// same function of I (everything between two size-changing layers), and the
// size rules are inverted class by class back to the input.
#pragma once
#include <cstdint>
#include <vector>

#include "batch.hpp"
#include "graph_view.hpp"
#include "sizes.hpp"

namespace rfa {

class Thresholds {
 public:
  // false: the class structure is too tangled for a work budget linear in
  // the graph (a long chain of VALID convolutions, each a new class); the
  // caller then uses per-resolution passes, which give the same answers.
  bool build(const GraphView& v, const int64_t* params);

  // Square I_min, and I_min of axis d alone (docs/semantics.md).
  double i_min() const { return as_resolution(i_min_); }
  double i_min_axis(int d) const { return as_resolution(i_min_ax_[d < v_.Dc ? d : 0]); }

  // The square resolutions I[s] (s < S) to count at, and where their results
  // go (out[g*R + r[s]]): the same for every graph of a call, sorted once.
  void set_resolutions(const int64_t* I, const int64_t* r, int64_t S);
  // Per-graph counts at those resolutions, for the graph of the last build().
  void count(int64_t R, const Outputs& out);

 private:
  static constexpr int kMemo = 4;
  struct Class {
    int64_t node;     // the node whose size rule makes it (op class), -1 otherwise
    int32_t parent;   // op class: the class of the node's input
    int32_t pbegin, pend;  // merge class: its parents in merge_parents_
    int32_t first_child = -1, next_sibling = -1;  // classes built on this one, for sharing
    int64_t memo_m[kMemo] = {0, 0, 0, 0}, memo_I[kMemo] = {0, 0, 0, 0};
    int8_t memo_d[kMemo] = {-1, -1, -1, -1};
    uint8_t memo_next = 0;
  };
  struct Join {  // a costly rated node, unproductive below count index t
    int64_t t;
    int32_t cls;
    int64_t params;
    Join(int64_t t_, int32_t c, int64_t p) : t(t_), cls(c), params(p) {}
  };

  static double as_resolution(int64_t t);
  int32_t op_class(int32_t parent, int64_t i);
  int32_t merge_class(std::vector<int32_t>& parents);
  int64_t inverse(int32_t c, int d, int64_t m, int depth);  // smallest I with map(c, d, I) >= m
  int64_t query(int32_t c, int d, int64_t m);               // inverse(), remembered at c
  bool recall(int32_t c, int d, int64_t m, int64_t& I) const;
  void remember(int32_t c, int d, int64_t m, int64_t I);
  void class_sizes(int64_t I);
  int64_t map_product(int32_t c) const;

  GraphView v_;
  int64_t budget_ = 0;
  bool aborted_ = false;
  std::vector<Class> cls_;
  std::vector<int32_t> merge_parents_, node_cls_, tmp_;
  std::vector<int64_t> uT_, csize_, W_, unprod_W_, dead_W_, t_index_;
  std::vector<int64_t> rated_T_, rated_A_;  // per rated node: unproductive below T, border from A
  std::vector<int64_t> tc_min_, tc_max_;    // per spatial node: critical below tc_min, partially below tc_max
  // nodes with parameters: their MAC class, rated index (-1: not rated, -2: dead), parameter count
  std::vector<int32_t> costly_cls_, costly_rated_;
  std::vector<int64_t> costly_params_;
  std::vector<int32_t> wclasses_, dclasses_, active_;
  std::vector<SizeRule> rules_;  // [class * Dc + d], op classes only
  int64_t i_min_ = 1, i_min_ax_[3] = {1, 1, 1};
  // count() scratch
  std::vector<int64_t> sorted_, sorted_r_;  // set_resolutions(): ascending, and each one's index in the call
  std::vector<int64_t> du_, db_, dc_, dp_, macs_, macs_u_, macs_d_;
  std::vector<Join> joins_;
};

}  // namespace rfa

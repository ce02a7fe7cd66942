// NAS-Bench-201 networks without building them. Every network of the space
// is the same macro skeleton (stem, three stages of cells, two residual
// reduction blocks, global pooling, classifier) around one cell of six
// edges, so the rules of docs/semantics.md reduce to a walk over the cell's
// edges per stage with the skeleton's feature-map classes in closed form.
// The answers are those of analyze() on rfa_fast.nas.nb201_batch(...)
// (tests/test_nb201_kernel.py checks all 15,625 cells), at square
// resolutions; the whole space costs a few milliseconds, not the 1.77 M
// nodes of the packed batch.
#pragma once
#include <cstdint>

#include "batch.hpp"

namespace rfa {

struct Nb201 {
  int64_t B = 0;
  const uint8_t* ops = nullptr;  // [B*6]: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
  int64_t channels[3] = {16, 32, 64};
  int64_t num_classes = 10;
  int64_t cells_per_stage = 5;
};

// res: R square resolutions. Fills the per-graph arrays of `out` (D = 2).
void screen_nb201(const Nb201& n, const int64_t* res, int64_t R, const Options& opt, const Outputs& out);

}  // namespace rfa

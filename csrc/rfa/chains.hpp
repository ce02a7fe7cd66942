// The dense path: B chains of L windows with the same topology, parameters
// as [B, L, D] arrays. A chain's feature maps are compositions of
// floor-affine maps, so rule (b)'s threshold inverts in closed form and
// I_min costs O(L) per candidate instead of a bisection.
#pragma once
#include "batch.hpp"

namespace rfa {

struct Chains {
  int64_t B = 0, L = 0;
  int D = 2;
  const int32_t* kernel = nullptr;     // [B*L*D]
  const int32_t* stride = nullptr;     // [B*L*D]
  const int32_t* dilation = nullptr;   // [B*L*D]
  const int32_t* pad_begin = nullptr;  // [B*L*D], or null: "same" (k'-1 in all, (k'-1)/2 before)
  const int32_t* pad_end = nullptr;    // [B*L*D], null with pad_begin
  const int64_t* channels = nullptr;   // [B*(L+1)] or null
};

// Validates the parameter ranges, then fills the per-graph arrays of `out`
// (per-node arrays are ignored). Same results as analyze() on the same
// chains packed as graphs.
void screen_chains(const Chains& c, const int64_t* res, int64_t R, const Options& opt, const Outputs& out);

}  // namespace rfa

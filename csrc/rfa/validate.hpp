#pragma once
#include "batch.hpp"

namespace rfa {

// Checks every array a Batch points to before anything trusts it: pointer
// ranges, node kinds and their input counts, topological order, edges that
// stay inside their own graph, parameter ranges. Throws BatchError naming the
// first offending graph and node.
void validate(const Batch& batch, int threads);

// Resolutions [R*D]: each value in 1..kMaxResolution.
void validate_resolutions(const int64_t* res, int64_t R, int D);

}  // namespace rfa

// The propagation engine: receptive field, jump and center of every node of
// every graph in a batch, then feature maps, status, cost and I_min at the
// requested resolutions. The rules are docs/semantics.md, line by line.
#pragma once
#include "batch.hpp"

namespace rfa {

// Analyze a validated batch at R resolutions (res: [R*D]) into `out`.
// Multi-threaded over graphs; throws BatchError (e.g. a jump overflowing
// int64) naming the graph and node.
void analyze(const Batch& batch, const int64_t* res, int64_t R, const Options& opt, const Outputs& out);

}  // namespace rfa

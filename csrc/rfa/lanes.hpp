// The lane engine: the candidates of a compiled program (program.hpp) run
// through it side by side, a tile of kLanes candidates at a time, every
// node's state a struct of arrays over the tile's lanes. No candidate's
// graph is ever built: a node's attributes come from the program's
// parameters, its presence from its scope and mode, its inputs from the
// program's edges and SELECTs.
//
// The rules are those of docs/semantics.md, for the node kinds of a
// template without upsampling (INPUT, WINDOW, MERGE, GLOBAL, IDENTITY and
// SELECT). Every status is a threshold on the resolution per axis, as in
// thresholds.hpp; the feature map of a node is carried as a closed form
//     fmap(I) = I >= Z ? floor((I + A) / J) : 0  (J: the jump)
// (composing floor-affine window rules exactly), which inverts in O(1) for
// rule (b). A candidate outside what the lanes represent (a merge whose
// inputs' maps do not dominate one another, a ceil-mode window whose
// last-window rule depends on the size, values near the int64 range, or a
// program with TRANSPOSED or RESIZE nodes) is materialized and analyzed by
// the general engine instead: same answers, only slower.
#pragma once
#include <cstdint>

#include "batch.hpp"
#include "program.hpp"

namespace rfa {

constexpr int kLanes = 32;

// The per-graph results of every candidate into `out` (arrays [B*R], [B],
// [B*D]); res: R resolutions, D values each. Validates the rows.
void screen_program(const Program& p, const Candidates& c, const int64_t* res, int64_t R, const Options& opt,
                    const Outputs& out);

// The instruction set the lanes run with here: "avx512", "avx2" or "generic"
// (the environment variable RFA_FAST_LANES chooses among those the CPU has).
const char* lane_isa();

}  // namespace rfa

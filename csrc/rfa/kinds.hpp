// Numeric codes shared with rfa_fast/kinds.py. The core knows no op names:
// only what a node does to the receptive field.
#pragma once
#include <cstdint>

namespace rfa {

enum Kind : uint8_t { INPUT = 0, WINDOW = 1, TRANSPOSED = 2, RESIZE = 3, MERGE = 4, GLOBAL = 5, IDENTITY = 6 };
constexpr uint8_t kNumKinds = 7;

enum PadMode : uint8_t { EXPLICIT = 0, SAME_UPPER = 1, SAME_LOWER = 2, VALID = 3 };
constexpr uint8_t kNumPadModes = 4;

enum ResizeMode : uint8_t { NEAREST = 0, LINEAR = 1, CUBIC = 2 };
constexpr uint8_t kNumResizeModes = 3;

// Status bit flags at one resolution.
// DEAD: no graph output is reachable from the node; it carries no other bit.
enum StatusBit : uint8_t { CRITICAL = 1, PARTIALLY_CRITICAL = 2, UNPRODUCTIVE = 4, BORDER = 8, DEAD = 16 };

inline bool is_windowed(uint8_t kind) { return kind == WINDOW || kind == TRANSPOSED; }

}  // namespace rfa

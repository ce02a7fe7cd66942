// A search space compiled once: a template of nodes in topological order
// whose attributes are *parameters* (a constant, a table indexed by some
// choice columns of a candidate's row, or a per-candidate column of an
// array), whose nodes may be switched off by scopes (optional blocks, the
// alternatives of an op choice) and whose SELECT nodes pick one of their
// inputs per candidate (an op choice, an edge that may be absent).
//
// A candidate is one row of choice indices plus its values in the column
// arrays. Materializing it (materialize.hpp) gives the graph that the
// general engine would analyze; the lane engine (lanes.hpp) gives the same
// answers without building it. docs/spaces.md describes the rules.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "batch.hpp"
#include "kinds.hpp"

namespace rfa {

// Program-only kind: the node is the chosen one of its inputs (or none).
constexpr uint8_t SELECT = 7;

// A node's mode per candidate: present, a pass-through to its single input
// (the "identity" alternative: no node in the graph), or absent ("none").
enum NodeMode : uint8_t { MODE_NODE = 0, MODE_PASS = 1, MODE_NONE = 2 };

// The fields of a node that parameters feed. Per-axis fields come first
// (field * D + axis), then the per-node ones (5 * D + j).
enum AxisField : int { F_KERNEL = 0, F_STRIDE, F_DILATION, F_PAD_BEGIN, F_PAD_END, kAxisFields };
enum NodeField : int { F_MODE = 0, F_PAD_MODE, F_CEIL_MODE, F_WEIGHTED, F_C_IN, F_C_OUT, F_GROUPS, F_SEL, kNodeFields };

enum ParamKind : uint8_t { P_CONST = 0, P_TABLE = 1, P_COLUMN = 2 };

struct Param {
  uint8_t kind = P_CONST;
  int64_t value = 0;  // P_CONST: the value; P_TABLE: offset into the pool; P_COLUMN: which column array
  int32_t key = -1;   // P_TABLE: the key (choice columns) indexing the table; P_COLUMN: the column in the array
  int64_t lo = INT64_MIN, hi = INT64_MAX;  // the range every field fed by it accepts
};

// The arrays a program is made of (owned copies; see the binding for names).
struct Program {
  int D = 2;
  int64_t T = 0;  // template nodes
  int64_t C = 0;  // choice columns of a row
  std::vector<uint8_t> kind;           // [T]
  std::vector<int64_t> pred_ptr;       // [T+1]
  std::vector<int32_t> pred;           // [E], template indices
  std::vector<uint8_t> collapse;       // [T] MERGE: one input left is that input, none left is none
  std::vector<int32_t> scope;          // [T] scope of each node (0: always present)
  std::vector<int32_t> scope_parent;   // [S] (-1 for scope 0)
  std::vector<int32_t> scope_param;    // [S] parameter giving 1 where the scope is on (-1 for scope 0)
  std::vector<int32_t> field_param;    // [T * NF] parameter of each field
  std::vector<double> scale;           // [T * D] RESIZE factors (constant per node)
  std::vector<uint8_t> resize_mode;    // [T]
  std::vector<Param> params;           // [P]
  std::vector<int64_t> key_ptr;        // [K+1]
  std::vector<int32_t> key_col;        // choice column of each key digit
  std::vector<int64_t> key_mult;       // its weight in the table index
  std::vector<int64_t> key_size;       // [K] table size of each key
  std::vector<int64_t> pool;           // table values
  std::vector<int64_t> n_options;      // [C]
  int64_t n_column_arrays = 0;         // column arrays a screen must pass
  std::vector<int64_t> column_width;   // [n_column_arrays] columns each must have

  // Derived when loaded.
  bool lanes_ok = true;     // no TRANSPOSED/RESIZE: the lane engine applies
  bool isotropic = true;    // every per-axis field has the same parameter on every axis
  std::vector<int32_t> slot;        // [T] state slot of each node (slots are reused after a node's last use)
  int64_t n_slots = 0;
  std::vector<int32_t> varying;     // parameters that are not constant (evaluated per tile)
  std::vector<int32_t> tabled;      // the varying ones read from tables
  // per column array, the varying parameters read from it and their columns
  std::vector<std::vector<int32_t>> column_param, column_index;
  std::vector<int64_t> param_node;  // [P] a node that reads the parameter (for messages)
  std::vector<int32_t> param_field; // [P] which of its fields
  std::vector<uint8_t> param_no_pass;  // [P] a mode of a node that cannot pass through (1 is not allowed)

  int NF() const { return kAxisFields * D + kNodeFields; }
  int32_t axis_param(int64_t t, int f, int d) const { return field_param[t * NF() + f * D + d]; }
  int32_t node_param(int64_t t, int f) const { return field_param[t * NF() + kAxisFields * D + f]; }
  int64_t n_preds(int64_t t) const { return pred_ptr[t + 1] - pred_ptr[t]; }
};

// Checks every array of a program and derives what the engines need;
// throws BatchError(-1, node, message) naming the template node at fault.
void finish_program(Program& p);

// The candidates of one screen: rows of choice indices and column arrays.
struct Candidates {
  int64_t B = 0;
  const void* rows = nullptr;  // [B * C]
  int row_bytes = 1;           // 1 (uint8), 4 (int32) or 8 (int64)
  struct Column {
    const void* data = nullptr;  // [B * width]
    int64_t width = 0;
    int bytes = 8;  // 1 (uint8), 4 (int32), 8 (int64)
  };
  std::vector<Column> columns;

  int64_t row(int64_t b, int64_t C, int64_t c) const {
    const int64_t i = b * C + c;
    switch (row_bytes) {
      case 1: return static_cast<const uint8_t*>(rows)[i];
      case 4: return static_cast<const int32_t*>(rows)[i];
      default: return static_cast<const int64_t*>(rows)[i];
    }
  }
  int64_t column(int64_t array, int64_t b, int64_t x) const {
    const Column& c = columns[array];
    const int64_t i = b * c.width + x;
    switch (c.bytes) {
      case 1: return static_cast<const uint8_t*>(c.data)[i];
      case 4: return static_cast<const int32_t*>(c.data)[i];
      default: return static_cast<const int64_t*>(c.data)[i];
    }
  }
};

// Value of parameter p for candidate b (the slow, one-candidate way; the
// lane engine evaluates parameters a tile at a time).
int64_t param_value(const Program& p, const Candidates& c, int32_t id, int64_t b);

// A candidate that breaks a parameter's range: names the candidate, the node
// and the field (BatchError(candidate, node, ...)).
[[noreturn]] void bad_value(const Program& p, int64_t b, int32_t param, int64_t value);

const char* field_name(const Program& p, int field_index);

}  // namespace rfa

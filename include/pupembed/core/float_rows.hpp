// Rows of floats back to back: how embeddings and class probabilities cross the library's API
// (no LibTorch tensor leaves it).
#pragma once

#include <cstdint>
#include <vector>

namespace pupembed {

struct FloatRows {
    int64_t rows = 0, columns = 0;
    std::vector<float> values;  ///< rows x columns, row by row

    bool empty() const { return rows == 0; }
    const float* row(int64_t i) const { return values.data() + i * columns; }
    std::vector<float> row_vector(int64_t i) const { return {row(i), row(i) + columns}; }
};

}  // namespace pupembed

// Random draws that are the same on every platform (std's distributions and std::shuffle are not).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace pupembed {

/// A uniform integer in [0, bound) from mt19937_64, by rejection.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t value;
    do value = rng();
    while (value >= limit);
    return value % bound;
}

/// A uniform real in [0, 1) from mt19937_64's top 53 bits.
inline double uniform_unit(std::mt19937_64& rng) { return double(rng() >> 11) * (1.0 / 9007199254740992.0); }

/// A uniform real in [low, high).
inline double uniform_between(std::mt19937_64& rng, double low, double high) { return low + (high - low) * uniform_unit(rng); }

/// Fisher-Yates shuffle with uniform_below.
template <typename T>
void shuffle_portably(std::vector<T>& items, std::mt19937_64& rng) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[uniform_below(rng, i)]);
}

}  // namespace pupembed

// What the plain benchmark programs share: their arguments and generated embedding-like vectors.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace pupembed::bench {

using Clock = std::chrono::steady_clock;

inline double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// The value after `name` among the arguments, else `fallback`.
inline const char* argument(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return fallback;
}

/// Whether the flag `name` is among the arguments.
inline bool flag(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return true;
    return false;
}

/// 120 breed centres of `d` values (random directions of length about 1).
inline std::vector<float> breed_centres(int64_t d, std::mt19937_64& rng) {
    std::normal_distribution<float> normal;
    std::vector<float> centres(size_t(120 * d));
    for (float& value : centres) value = normal(rng) / std::sqrt(float(d));
    return centres;
}

/// `count` unit vectors, each a breed centre (one of breed_centres) plus noise.
inline std::vector<float> embedding_like(int64_t count, int64_t d, const std::vector<float>& centres, std::mt19937_64& rng) {
    std::normal_distribution<float> noise(0.f, 0.6f / std::sqrt(float(d)));
    std::uniform_int_distribution<int64_t> breed(0, int64_t(centres.size()) / d - 1);
    std::vector<float> values(size_t(count * d));
    for (int64_t i = 0; i < count; ++i) {
        const float* centre = centres.data() + breed(rng) * d;
        float* row = values.data() + i * d;
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) {
            row[j] = centre[j] + noise(rng);
            norm += double(row[j]) * row[j];
        }
        for (int64_t j = 0; j < d; ++j) row[j] = float(row[j] / std::sqrt(norm));
    }
    return values;
}

}  // namespace pupembed::bench

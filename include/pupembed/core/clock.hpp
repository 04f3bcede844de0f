// Time: how long something took (the steady clock) and when it happened (UTC).
#pragma once

#include <chrono>
#include <string>

namespace pupembed {

using Clock = std::chrono::steady_clock;

/// Seconds from `start` until now, on the steady clock.
double seconds_since(Clock::time_point start);

/// The current UTC time as ISO 8601, e.g. "2026-11-28T22:31:30Z".
std::string utc_timestamp();

}  // namespace pupembed

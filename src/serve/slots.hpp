// A counting semaphore: at most N holders at once. Bounds the memory of decoding uploads.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace pupembed {

/// At most `slots` holders at once; the others wait. Bounds the memory of decoding uploads.
class Slots {
public:
    explicit Slots(int slots) : free_(std::max(1, slots)) {}
    class Held {
    public:
        explicit Held(Slots& slots) : slots_(slots) {
            std::unique_lock<std::mutex> lock(slots_.mutex_);
            slots_.changed_.wait(lock, [this] { return slots_.free_ > 0; });
            --slots_.free_;
        }
        ~Held() {
            {
                std::lock_guard<std::mutex> lock(slots_.mutex_);
                ++slots_.free_;
            }
            slots_.changed_.notify_one();
        }
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;

    private:
        Slots& slots_;
    };

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int free_;
};

}  // namespace pupembed

// An advisory lock (flock) on a file of its own, for what two processes must not do at once.
#pragma once

#include <string>

namespace pupembed {

/// Holds an exclusive flock on `path` (made when missing) from construction to destruction. The
/// kernel drops it when the process ends, however it ends. Lock a file of its own: closing another
/// descriptor of a file that SQLite has open would drop SQLite's locks on it.
class FileLock {
public:
    enum class Wait { yes, no };
    /// Wait::yes blocks until the lock is taken (throws Error naming the file when it cannot be
    /// made); Wait::no takes it only when it is free (see taken_by_another).
    FileLock(const std::string& path, Wait wait);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    /// With Wait::no: whether another process holds it (false too when the file could not be made).
    bool taken_by_another() const { return taken_by_another_; }

private:
    int fd_ = -1;
    bool taken_by_another_ = false;
};

}  // namespace pupembed

#include "io/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pupembed/core/error.hpp"

namespace pupembed {

FileLock::FileLock(const std::string& path, Wait wait) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (wait == Wait::no) {
        taken_by_another_ = fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
        return;
    }
    if (fd_ < 0) throw Error(path, std::string("cannot make a lock file: ") + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const int reason = errno;
        ::close(fd_);
        throw Error(path, std::string("cannot lock: ") + std::strerror(reason));
    }
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace pupembed

#include "pupembed/io/file_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pupembed/core/error.hpp"

namespace pupembed {

std::string read_file(const std::string& path, int64_t max_bytes) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any
    // other file that is not a regular file.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0) throw Error(path, std::string("cannot read: ") + std::strerror(errno));
    if (S_ISDIR(info.st_mode)) throw Error(path, "is a folder, not a file");
    if (!S_ISREG(info.st_mode)) throw Error(path, "is not a regular file (a device, pipe or socket)");
    if (info.st_size > max_bytes)
        throw Error(path, "is too large (" + std::to_string(info.st_size) + " bytes; the limit is " +
                              std::to_string(max_bytes) + ")");
    std::string bytes(static_cast<size_t>(info.st_size), '\0');
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw Error(path, std::string("read failed: ") + std::strerror(errno));
        }
        if (got == 0) break;  // the file shrank while being read
        done += static_cast<size_t>(got);
    }
    bytes.resize(done);
    return bytes;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    const std::string temporary = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path, std::string("cannot create: ") + std::strerror(errno));
    const char* cursor = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
        const ssize_t written = ::write(fd, cursor, left);
        if (written < 0) {
            if (errno == EINTR) continue;
            const std::string reason = std::strerror(errno);
            ::close(fd);
            ::unlink(temporary.c_str());
            throw Error(path, "write failed: " + reason);
        }
        cursor += written;
        left -= static_cast<size_t>(written);
    }
    const bool synced = ::fsync(fd) == 0;
    const int sync_errno = errno;
    const bool closed = ::close(fd) == 0;
    if (!synced || !closed) {
        const std::string reason = std::strerror(synced ? errno : sync_errno);
        ::unlink(temporary.c_str());
        throw Error(path, "write failed: " + reason);
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(temporary.c_str());
        throw Error(path, "cannot replace: " + reason);
    }
}

}  // namespace pupembed

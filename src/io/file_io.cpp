#include "pupembed/io/file_io.hpp"

#include <atomic>
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
    AtomicFileWriter file(path);
    file.write(bytes.data(), bytes.size());
    file.commit();
}

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
    // Unique among processes (the pid) and among this process's writers of one path (the count).
    static std::atomic<uint64_t> writers{0};
    temporary_ = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writers++);
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path, std::string("cannot create: ") + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ < 0) return;
    ::close(fd_);
    ::unlink(temporary_.c_str());
}

void AtomicFileWriter::fail(const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    ::unlink(temporary_.c_str());
    throw Error(path_, what + ": " + reason);
}

void AtomicFileWriter::write(const void* data, size_t size) {
    write_at(size_, data, size);
    size_ += int64_t(size);
}

void AtomicFileWriter::write_at(int64_t offset, const void* data, size_t size) {
    if (fd_ < 0) throw Error(path_, "write after the file was committed or failed");
    const char* cursor = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::pwrite(fd_, cursor, size, offset);
        if (written < 0) {
            if (errno == EINTR) continue;
            fail("write failed");
        }
        cursor += written;
        offset += written;
        size -= size_t(written);
    }
}

void AtomicFileWriter::commit() {
    if (fd_ < 0) throw Error(path_, "commit after the file was committed or failed");
    if (::fsync(fd_) != 0) fail("write failed");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(temporary_.c_str());
        throw Error(path_, "write failed: " + reason);
    }
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        ::unlink(temporary_.c_str());
        throw Error(path_, "cannot replace: " + reason);
    }
}

}  // namespace pupembed

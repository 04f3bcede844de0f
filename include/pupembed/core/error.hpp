// The one exception type pupembed throws for bad input, bad files and failed I/O.
#pragma once

#include <stdexcept>
#include <string>

namespace pupembed {

/// What kind of problem an Error is, for front ends that answer differently (the server's HTTP
/// status); the command prints every kind the same way.
enum class ErrorKind {
    Failure,    ///< a file, the system or the library failed
    BadInput,   ///< what the caller gave is not acceptable (a damaged photo, a bad expression)
    NotFound,   ///< what the caller named does not exist (a gallery id)
    Forbidden,  ///< turned off by the operator (adding uploads to a served gallery)
    Busy,       ///< not possible right now (no memory to decode); may work when tried again
};

/// What went wrong, with the file or value it concerns. Front ends print `what()` as one line.
class Error : public std::runtime_error {
public:
    /// `subject` is the file, value or option the problem concerns; it leads the message.
    Error(const std::string& subject, const std::string& problem, ErrorKind kind = ErrorKind::Failure)
        : std::runtime_error(subject.empty() ? problem : subject + ": " + problem), kind_(kind) {}
    explicit Error(const std::string& problem) : std::runtime_error(problem) {}
    Error(const std::string& problem, ErrorKind kind) : std::runtime_error(problem), kind_(kind) {}

    ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_ = ErrorKind::Failure;
};

}  // namespace pupembed

// The one exception type pupembed throws for bad input, bad files and failed I/O.
#pragma once

#include <stdexcept>
#include <string>

namespace pupembed {

/// What went wrong, with the file or value it concerns. Front ends print `what()` as one line.
class Error : public std::runtime_error {
public:
    /// `subject` is the file, value or option the problem concerns; it leads the message.
    Error(const std::string& subject, const std::string& problem)
        : std::runtime_error(subject.empty() ? problem : subject + ": " + problem) {}
    explicit Error(const std::string& problem) : std::runtime_error(problem) {}
};

}  // namespace pupembed

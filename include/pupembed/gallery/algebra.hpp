// "Puppy algebra": expressions that add and subtract photos, e.g.
//   a.jpg + b.jpg - c.jpg        0.5*a.jpg + 0.5*(#12 - #40)        'dog (1).jpg' + #3
// Operands are photo files or gallery ids (#12); quotes allow spaces and parentheses in paths;
// a number followed by * weighs what follows. The expression is linear, so it flattens to one
// weight per operand.
#pragma once

#include <string>
#include <vector>

namespace pupembed {

struct AlgebraTerm {
    double weight = 1;
    std::string operand;  ///< a path, or "#<id>" for a gallery image
    int column = 1;       ///< where the operand starts in the expression (1-based)
};

/// Limits on what parse_algebra() accepts, so that no expression can exhaust the stack, the
/// memory or the time of the process that reads it.
constexpr size_t kMaxAlgebraLength = 10'000;  ///< characters
constexpr size_t kMaxAlgebraOperands = 100;
constexpr int kMaxAlgebraNesting = 32;        ///< parentheses and weights ("2*(3*(...))") inside one another

/// Parses `expression`. Throws Error (BadInput) whose message starts "column N:", says what was
/// expected and ends with the place, "(here: a.jpg + [)])", the character at N in brackets,
/// for a syntax error (an empty expression, a missing operand or operator, unbalanced parentheses,
/// a number without * and an operand after it, an unterminated quote), a weight that is not a
/// finite number or whose product with the weights around it overflows, or an expression over
/// the limits above.
std::vector<AlgebraTerm> parse_algebra(const std::string& expression);

/// True for "#<digits>", setting `id`.
bool parse_gallery_id(const std::string& operand, long long& id);

}  // namespace pupembed

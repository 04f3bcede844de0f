#include "pupembed/gallery/algebra.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

struct Token {
    enum Kind { Operand, Number, Plus, Minus, Times, Open, Close, End } kind;
    std::string text;
    int column;
};

/// A syntax error at a column; parse_algebra turns it into an Error showing the place.
struct SyntaxError {
    int column;
    std::string message;
};

[[noreturn]] void syntax_error(int column, const std::string& message) { throw SyntaxError{column, message}; }

/// The expression around `column` (1-based), the character there in brackets, on one line.
std::string place_in(const std::string& expression, int column) {
    const size_t at = std::min(size_t(std::max(column, 1)) - 1, expression.size());
    const size_t from = at > 30 ? at - 30 : 0;
    std::string here = (from > 0 ? "..." : "") + expression.substr(from, at - from) + "[" +
                       expression.substr(at, at < expression.size() ? 1 : 0) + "]" +
                       expression.substr(std::min(at + 1, expression.size()), 30);
    if (at + 31 < expression.size()) here += "...";
    for (char& c : here)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return here;
}

bool is_number(const std::string& text, double& value) {
    if (text.empty()) return false;
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return end == text.c_str() + text.size() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.');
}

std::vector<Token> tokenize(const std::string& s) {
    std::vector<Token> tokens;
    size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        const int column = int(i) + 1;
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '(' || c == ')' || c == '+' || c == '-' || c == '*') {
            // '+' and '-' are operators where a token starts; inside a name they are part of it.
            const Token::Kind kind = c == '(' ? Token::Open : c == ')' ? Token::Close : c == '+' ? Token::Plus
                                   : c == '-' ? Token::Minus : Token::Times;
            tokens.push_back({kind, std::string(1, c), column});
            ++i;
        } else if (c == '\'' || c == '"') {
            const size_t end = s.find(c, i + 1);
            if (end == std::string::npos) syntax_error(column, std::string("unterminated quote ") + c);
            if (end == i + 1) syntax_error(column, "empty quoted name");
            tokens.push_back({Token::Operand, s.substr(i + 1, end - i - 1), column});
            i = end + 1;
        } else {
            size_t end = i;
            while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end])) && s[end] != '(' && s[end] != ')' &&
                   s[end] != '*')
                ++end;
            std::string text = s.substr(i, end - i);
            double value = 0;
            tokens.push_back({is_number(text, value) ? Token::Number : Token::Operand, text, column});
            i = end;
        }
    }
    tokens.push_back({Token::End, "", int(s.size()) + 1});
    return tokens;
}

std::string describe(const Token& t) {
    switch (t.kind) {
        case Token::End: return "the end";
        case Token::Operand: return "'" + t.text + "'";
        default: return "'" + t.text + "'";
    }
}

class Parser {
public:
    explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

    std::vector<AlgebraTerm> parse() {
        expression(1.0);
        const Token& t = peek();
        if (t.kind == Token::Close) syntax_error(t.column, "')' without a matching '('");
        if (t.kind != Token::End) syntax_error(t.column, "expected + or - before " + describe(t));
        return terms_;
    }

private:
    const Token& peek() const { return tokens_[position_]; }
    const Token& take() { return tokens_[position_++]; }

    /// Counts one level of nesting for as long as it lives; refuses too deep a nesting.
    class Nesting {
    public:
        Nesting(Parser& parser, int column) : parser_(parser) {
            if (++parser_.depth_ > kMaxAlgebraNesting)
                syntax_error(column, "nested too deeply (more than " + std::to_string(kMaxAlgebraNesting) +
                                         " parentheses or weights inside one another)");
        }
        ~Nesting() { --parser_.depth_; }
        Nesting(const Nesting&) = delete;
        Nesting& operator=(const Nesting&) = delete;

    private:
        Parser& parser_;
    };

    // expression := [+|-] term ((+|-) term)*
    void expression(double weight) {
        double sign = 1;
        if (peek().kind == Token::Plus || peek().kind == Token::Minus) sign = take().kind == Token::Minus ? -1 : 1;
        term(weight * sign);
        while (peek().kind == Token::Plus || peek().kind == Token::Minus) {
            const Token& op = take();
            term(op.kind == Token::Minus ? -weight : weight, &op);
        }
    }

    // term := NUMBER '*' term | factor
    void term(double weight, const Token* after = nullptr) {
        const Token& t = peek();
        if (t.kind == Token::Number) {
            take();
            if (peek().kind != Token::Times)
                syntax_error(peek().column, "expected '*' after the weight " + t.text + " (as in " + t.text + "*photo.jpg)");
            take();
            const double factor = std::strtod(t.text.c_str(), nullptr);
            if (!std::isfinite(factor)) syntax_error(t.column, "the weight " + t.text + " is not a finite number");
            if (!std::isfinite(weight * factor))
                syntax_error(t.column, "the weight " + t.text + " times the weights around it overflows");
            const Nesting nesting(*this, t.column);
            term(weight * factor, &t);
            return;
        }
        factor(weight, after);
    }

    // factor := OPERAND | '(' expression ')'
    void factor(double weight, const Token* after) {
        const Token& t = take();
        if (t.kind == Token::Operand) {
            if (terms_.size() >= kMaxAlgebraOperands)
                syntax_error(t.column, "too many operands (the limit is " + std::to_string(kMaxAlgebraOperands) + ")");
            terms_.push_back({weight, t.text, t.column});
            return;
        }
        if (t.kind == Token::Open) {
            const Nesting nesting(*this, t.column);
            expression(weight);
            const Token& close = take();
            if (close.kind != Token::Close)
                syntax_error(close.column, "expected ')' to close the '(' at column " + std::to_string(t.column) +
                                               ", found " + describe(close));
            return;
        }
        std::string where = after ? " after '" + after->text + "'" : "";
        if (t.kind == Token::End && terms_.empty() && !after) syntax_error(t.column, "empty expression: give photos or gallery ids");
        syntax_error(t.column, "expected a photo, a gallery id (#12) or '('" + where + ", found " + describe(t));
    }

    std::vector<Token> tokens_;
    size_t position_ = 0;
    int depth_ = 0;
    std::vector<AlgebraTerm> terms_;
};

}  // namespace

std::vector<AlgebraTerm> parse_algebra(const std::string& expression) {
    try {
        if (expression.size() > kMaxAlgebraLength)
            syntax_error(int(kMaxAlgebraLength) + 1, "the expression is too long (" + std::to_string(expression.size()) +
                                                         " characters; the limit is " + std::to_string(kMaxAlgebraLength) + ")");
        return Parser(tokenize(expression)).parse();
    } catch (const SyntaxError& e) {
        throw Error("column " + std::to_string(e.column) + ": " + e.message + " (here: " + place_in(expression, e.column) + ")",
                    ErrorKind::BadInput);
    }
}

bool parse_gallery_id(const std::string& operand, long long& id) {
    if (operand.size() < 2 || operand[0] != '#' || operand.size() > 19) return false;
    for (size_t i = 1; i < operand.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(operand[i]))) return false;
    id = std::atoll(operand.c_str() + 1);
    return true;
}

}  // namespace pupembed

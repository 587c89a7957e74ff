#include "drivers/radar/flat_json.h"

namespace stopline::drivers::radar {

namespace {

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

bool isHex(char c)
{
    return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

} /* namespace */

const char *FlatJson::errorName(Error error)
{
    switch (error) {
    case Error::None:
        return "none";
    case Error::Syntax:
        return "JSON syntax error";
    case Error::NotAnObject:
        return "JSON value is not an object";
    case Error::Nested:
        return "nested JSON object or array";
    case Error::Trailing:
        return "text after the JSON object";
    case Error::DuplicateKey:
        return "duplicate JSON key";
    case Error::TooManyMembers:
        return "too many JSON members";
    case Error::TooManyItems:
        return "too many JSON array items";
    }
    return "unknown";
}

bool FlatJson::fail(Error error, std::size_t at)
{
    error_ = error;
    errorAt_ = at;
    return false;
}

void FlatJson::skipSpace()
{
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\r' || text_[at_] == '\n'))
        ++at_;
}

bool FlatJson::parseString(std::string_view &out)
{
    /* at_ is on the opening quote */
    std::size_t start = ++at_;
    while (at_ < text_.size()) {
        char c = text_[at_];
        if (c == '"') {
            out = text_.substr(start, at_ - start);
            ++at_;
            return true;
        }
        if (static_cast<unsigned char>(c) < 0x20)
            return fail(Error::Syntax, at_);
        if (c == '\\') {
            if (++at_ >= text_.size())
                return fail(Error::Syntax, at_);
            char e = text_[at_];
            if (e == 'u') {
                for (int i = 1; i <= 4; ++i)
                    if (at_ + i >= text_.size() || !isHex(text_[at_ + i]))
                        return fail(Error::Syntax, at_);
                at_ += 4;
            } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                       e != 'r' && e != 't') {
                return fail(Error::Syntax, at_);
            }
        }
        ++at_;
    }
    return fail(Error::Syntax, at_);
}

bool FlatJson::parseScalar(Value &out)
{
    if (at_ >= text_.size())
        return fail(Error::Syntax, at_);
    char c = text_[at_];
    if (c == '"') {
        out.type = Type::String;
        return parseString(out.text);
    }
    if (c == '{' || c == '[')
        return fail(Error::Nested, at_);
    for (std::string_view literal : {"true", "false", "null"}) {
        if (text_.substr(at_, literal.size()) == literal) {
            out.type = literal == "null" ? Type::Null : Type::Bool;
            out.text = text_.substr(at_, literal.size());
            at_ += literal.size();
            return true;
        }
    }
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    std::size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-')
        ++at_;
    if (at_ >= text_.size() || !isDigit(text_[at_]))
        return fail(Error::Syntax, at_);
    if (text_[at_] == '0')
        ++at_;
    else
        while (at_ < text_.size() && isDigit(text_[at_]))
            ++at_;
    if (at_ < text_.size() && text_[at_] == '.') {
        ++at_;
        if (at_ >= text_.size() || !isDigit(text_[at_]))
            return fail(Error::Syntax, at_);
        while (at_ < text_.size() && isDigit(text_[at_]))
            ++at_;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
        ++at_;
        if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-'))
            ++at_;
        if (at_ >= text_.size() || !isDigit(text_[at_]))
            return fail(Error::Syntax, at_);
        while (at_ < text_.size() && isDigit(text_[at_]))
            ++at_;
    }
    out.type = Type::Number;
    out.text = text_.substr(start, at_ - start);
    return true;
}

bool FlatJson::parse(std::string_view text)
{
    text_ = text;
    at_ = 0;
    memberCount_ = 0;
    itemCount_ = 0;
    error_ = Error::None;
    errorAt_ = 0;

    skipSpace();
    if (at_ >= text_.size() || text_[at_] != '{')
        return fail(Error::NotAnObject, at_);
    ++at_;
    skipSpace();
    if (at_ < text_.size() && text_[at_] == '}') {
        ++at_;
    } else {
        for (;;) {
            skipSpace();
            if (at_ >= text_.size() || text_[at_] != '"')
                return fail(Error::Syntax, at_);
            if (memberCount_ == kMaxMembers)
                return fail(Error::TooManyMembers, at_);
            Member &member = members_[memberCount_];
            member = Member{};
            std::size_t keyAt = at_;
            if (!parseString(member.key))
                return false;
            for (std::size_t i = 0; i < memberCount_; ++i)
                if (members_[i].key == member.key)
                    return fail(Error::DuplicateKey, keyAt);
            skipSpace();
            if (at_ >= text_.size() || text_[at_] != ':')
                return fail(Error::Syntax, at_);
            ++at_;
            skipSpace();
            if (at_ < text_.size() && text_[at_] == '[') {
                std::size_t open = at_++;
                member.value.type = Type::Array;
                member.firstItem = itemCount_;
                skipSpace();
                if (at_ < text_.size() && text_[at_] == ']') {
                    ++at_;
                } else {
                    for (;;) {
                        skipSpace();
                        if (itemCount_ == kMaxItems)
                            return fail(Error::TooManyItems, at_);
                        if (!parseScalar(items_[itemCount_]))
                            return false;
                        ++itemCount_;
                        ++member.itemCount;
                        skipSpace();
                        if (at_ < text_.size() && text_[at_] == ',') {
                            ++at_;
                            continue;
                        }
                        if (at_ < text_.size() && text_[at_] == ']') {
                            ++at_;
                            break;
                        }
                        return fail(Error::Syntax, at_);
                    }
                }
                member.value.text = text_.substr(open, at_ - open);
            } else if (!parseScalar(member.value)) {
                return false;
            }
            ++memberCount_;
            skipSpace();
            if (at_ < text_.size() && text_[at_] == ',') {
                ++at_;
                continue;
            }
            if (at_ < text_.size() && text_[at_] == '}') {
                ++at_;
                break;
            }
            return fail(Error::Syntax, at_);
        }
    }
    skipSpace();
    if (at_ != text_.size())
        return fail(Error::Trailing, at_);
    return true;
}

const FlatJson::Member *FlatJson::find(std::string_view key) const
{
    for (std::size_t i = 0; i < memberCount_; ++i)
        if (members_[i].key == key)
            return &members_[i];
    return nullptr;
}

std::string FlatJson::unescape(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c != '\\' || i + 1 >= raw.size()) {
            out.push_back(c);
            continue;
        }
        char e = raw[++i];
        switch (e) {
        case 'b':
            out.push_back('\b');
            break;
        case 'f':
            out.push_back('\f');
            break;
        case 'n':
            out.push_back('\n');
            break;
        case 'r':
            out.push_back('\r');
            break;
        case 't':
            out.push_back('\t');
            break;
        case 'u': {
            unsigned code = 0;
            for (int k = 0; k < 4 && i + 1 < raw.size(); ++k) {
                char h = raw[++i];
                code = code * 16 + (isDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            if (code < 0x80) {
                out.push_back(static_cast<char>(code));
            } else if (code < 0x800) {
                out.push_back(static_cast<char>(0xc0 | (code >> 6)));
                out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
            } else {
                out.push_back(static_cast<char>(0xe0 | (code >> 12)));
                out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
                out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
            }
            break;
        }
        default:
            out.push_back(e); /* \" \\ \/ */
        }
    }
    return out;
}

} /* namespace stopline::drivers::radar */

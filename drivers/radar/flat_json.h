#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace stopline::drivers::radar {

/* A strict reader for the one JSON shape radars send: a single flat object whose values are
 * strings, numbers, booleans, null, or arrays of those. Everything is a view into the line,
 * nothing is allocated, and anything else (nesting, trailing text, duplicate keys, more than
 * the fixed capacity) is refused with a reason, never guessed at. */
class FlatJson
{
public:
    enum class Type { String, Number, Bool, Null, Array };

    struct Value
    {
        Type type = Type::Null;
        std::string_view text; /* String: raw contents between the quotes (escapes kept);
                                  Number/Bool/Null: the literal */
    };

    struct Member
    {
        std::string_view key; /* raw, escapes kept */
        Value value;          /* for Array: type Array, items via item() */
        std::size_t firstItem = 0;
        std::size_t itemCount = 0;
    };

    enum class Error {
        None,
        Syntax,
        NotAnObject,
        Nested,
        Trailing,
        DuplicateKey,
        TooManyMembers,
        TooManyItems,
    };

    static constexpr std::size_t kMaxMembers = 24;
    static constexpr std::size_t kMaxItems = 48; /* array items across the object */

    /* Parses `text` (whitespace around the object allowed). On failure `error()` says why
     * and `errorOffset()` where. */
    bool parse(std::string_view text);

    Error error() const { return error_; }
    std::size_t errorOffset() const { return errorAt_; }
    std::size_t size() const { return memberCount_; }
    const Member &member(std::size_t index) const { return members_[index]; }
    const Value &item(const Member &member, std::size_t index) const
    {
        return items_[member.firstItem + index];
    }
    /* The member with this key (compared raw), or nullptr. */
    const Member *find(std::string_view key) const;

    static const char *errorName(Error error);

    /* Decodes JSON string escapes (\" \\ \/ \b \f \n \r \t \uXXXX as UTF-8). */
    static std::string unescape(std::string_view raw);

private:
    bool fail(Error error, std::size_t at);
    void skipSpace();
    bool parseString(std::string_view &out);
    bool parseScalar(Value &out);

    std::string_view text_;
    std::size_t at_ = 0;
    std::array<Member, kMaxMembers> members_{};
    std::array<Value, kMaxItems> items_{};
    std::size_t memberCount_ = 0;
    std::size_t itemCount_ = 0;
    Error error_ = Error::None;
    std::size_t errorAt_ = 0;
};

} /* namespace stopline::drivers::radar */

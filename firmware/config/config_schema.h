#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace stopline::firmware {

/* One thing wrong with a configuration, located for the person who has to fix it. */
struct ConfigError
{
    std::string source; /* file name */
    int line = 0;       /* 1-based; 0 when the key is absent */
    std::string key;    /* dotted path, with [index] for arrays of tables */
    std::string message;

    /* "site.toml:12: rules.red_light.grace_s: 9 is out of range 0..1" */
    std::string text() const;
};

/* Declares which keys a configuration may hold, their types and ranges, and where each
 * value goes. Applying a TOML document checks every key against the declaration: an
 * unknown key, a wrong type or an out-of-range value is an error naming the key and its
 * line, and nothing is guessed. Targets are borrowed and must outlive the schema. */
class ConfigSchema
{
public:
    ConfigSchema() = default;
    ConfigSchema(ConfigSchema &&) = default;
    ConfigSchema &operator=(ConfigSchema &&) = default;

    void addBool(const std::string &path, bool *target, std::string help = {});
    void addInt(const std::string &path, long long *target, long long min, long long max,
                std::string help = {});
    void addUnsigned(const std::string &path, unsigned *target, unsigned min, unsigned max,
                     std::string help = {});
    void addDouble(const std::string &path, double *target, double min, double max,
                   std::string help = {});
    void addString(const std::string &path, std::string *target, std::string help = {});
    /* A string that must be one of `choices`. */
    void addChoice(const std::string &path, std::string *target, std::vector<std::string> choices,
                   std::string help = {});
    void addStringList(const std::string &path, std::vector<std::string> *target,
                       std::string help = {});
    /* A string checked by `check`, which returns the problem or nullopt. */
    void addCheckedString(const std::string &path, std::string *target,
                          std::function<std::optional<std::string>(const std::string &)> check,
                          std::string help = {});
    /* Marks a key that must be present (after all layers are applied). */
    void require(const std::string &path);

    /* An array of tables ([[path]]): for each element, `element` is called with its index
     * and returns the schema of that element (typically after appending a new element to
     * a vector and binding its fields). */
    void addTableArray(const std::string &path,
                       std::function<ConfigSchema(std::size_t index)> element,
                       std::string help = {});

    /* Applies a parsed document: returns every error found (empty when all is well). */
    std::vector<ConfigError> apply(const toml::table &doc, const std::string &source);

    /* Parses and applies a file; a TOML syntax error is reported with its line too. */
    std::vector<ConfigError> applyFile(const std::string &path);

    /* Parses `value` as the type declared for `path`, checks it and applies it. Used by
     * the console's `set KEY VALUE`; returns the problem or nullopt. */
    std::optional<std::string> applyOne(const std::string &path, const std::string &value);

    /* Keys marked required that no applied layer provided. */
    std::vector<ConfigError> missingRequired(const std::string &source) const;

    /* Every declared scalar key with its current value, in TOML syntax, by section. */
    std::string dump() const;

    bool knows(const std::string &path) const;

private:
    struct Field
    {
        std::string help;
        /* Checks and stores a node; returns the problem or nullopt. */
        std::function<std::optional<std::string>(const toml::node &)> set;
        std::function<std::string()> show;
        std::function<ConfigSchema(std::size_t)> element; /* table arrays only */
        bool seen = false;
        bool required = false;
    };

    void add(const std::string &path, Field field);
    void walk(const toml::table &table, const std::string &prefix, const std::string &source,
              std::vector<ConfigError> *errors);
    std::string suggest(const std::string &path) const;

    std::map<std::string, Field> fields_;
    std::vector<std::string> order_;
};

/* Reads a file's text and returns its SHA-256 in hex; for the config identity in
 * evidence records, over the effective configuration rendered by dump(). */
std::string configHash(const std::string &effectiveText);

} /* namespace stopline::firmware */

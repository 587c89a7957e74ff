#include "firmware/config/config_schema.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "evidence/crypto.h"

namespace stopline::firmware {

std::string ConfigError::text() const
{
    std::string out = source;
    if (line > 0)
        out += ":" + std::to_string(line);
    out += ": ";
    if (!key.empty())
        out += key + ": ";
    return out + message;
}

namespace {

int lineOf(const toml::node &node)
{
    return static_cast<int>(node.source().begin.line);
}

const char *typeName(const toml::node &node)
{
    switch (node.type()) {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a number";
    case toml::node_type::boolean:
        return "true/false";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::table:
        return "a table";
    default:
        return "a date/time";
    }
}

std::string formatDouble(double v)
{
    std::ostringstream ss;
    ss.precision(15);
    ss << v;
    std::string s = ss.str();
    if (s.find_first_of(".eE") == std::string::npos && std::isfinite(v))
        s += ".0";
    return s;
}

std::string quote(const std::string &s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

size_t editDistance(const std::string &a, const std::string &b)
{
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min(
                    {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

} /* namespace */

void ConfigSchema::add(const std::string &path, Field field)
{
    if (!fields_.count(path))
        order_.push_back(path);
    fields_[path] = std::move(field);
}

void ConfigSchema::addBool(const std::string &path, bool *target, std::string help)
{
    add(path, {std::move(help),
               [target](const toml::node &n) -> std::optional<std::string> {
                   if (!n.is_boolean())
                       return std::string("expected true or false, got ") + typeName(n);
                   *target = *n.value<bool>();
                   return std::nullopt;
               },
               [target] { return std::string(*target ? "true" : "false"); }});
}

void ConfigSchema::addInt(const std::string &path, long long *target, long long min, long long max,
                          std::string help)
{
    add(path, {std::move(help),
               [=](const toml::node &n) -> std::optional<std::string> {
                   if (!n.is_integer())
                       return std::string("expected an integer, got ") + typeName(n);
                   long long v = *n.value<long long>();
                   if (v < min || v > max)
                       return std::to_string(v) + " is out of range " + std::to_string(min) + ".." +
                              std::to_string(max);
                   *target = v;
                   return std::nullopt;
               },
               [target] { return std::to_string(*target); }});
}

void ConfigSchema::addUnsigned(const std::string &path, unsigned *target, unsigned min,
                               unsigned max, std::string help)
{
    add(path, {std::move(help),
               [=](const toml::node &n) -> std::optional<std::string> {
                   if (!n.is_integer())
                       return std::string("expected an integer, got ") + typeName(n);
                   long long v = *n.value<long long>();
                   if (v < min || v > max)
                       return std::to_string(v) + " is out of range " + std::to_string(min) + ".." +
                              std::to_string(max);
                   *target = static_cast<unsigned>(v);
                   return std::nullopt;
               },
               [target] { return std::to_string(*target); }});
}

void ConfigSchema::addDouble(const std::string &path, double *target, double min, double max,
                             std::string help)
{
    add(path, {std::move(help),
               [=](const toml::node &n) -> std::optional<std::string> {
                   if (!n.is_number())
                       return std::string("expected a number, got ") + typeName(n);
                   double v = *n.value<double>();
                   if (!std::isfinite(v) || v < min || v > max)
                       return formatDouble(v) + " is out of range " + formatDouble(min) + ".." +
                              formatDouble(max);
                   *target = v;
                   return std::nullopt;
               },
               [target] { return formatDouble(*target); }});
}

void ConfigSchema::addString(const std::string &path, std::string *target, std::string help)
{
    addCheckedString(path, target, nullptr, std::move(help));
}

void ConfigSchema::addCheckedString(
        const std::string &path, std::string *target,
        std::function<std::optional<std::string>(const std::string &)> check, std::string help)
{
    add(path, {std::move(help),
               [=](const toml::node &n) -> std::optional<std::string> {
                   if (!n.is_string())
                       return std::string("expected a string, got ") + typeName(n);
                   std::string v = *n.value<std::string>();
                   if (check)
                       if (auto problem = check(v))
                           return problem;
                   *target = v;
                   return std::nullopt;
               },
               [target] { return quote(*target); }});
}

void ConfigSchema::addChoice(const std::string &path, std::string *target,
                             std::vector<std::string> choices, std::string help)
{
    addCheckedString(
            path, target,
            [choices](const std::string &v) -> std::optional<std::string> {
                if (std::find(choices.begin(), choices.end(), v) != choices.end())
                    return std::nullopt;
                std::string list;
                for (const auto &c : choices)
                    list += (list.empty() ? "" : ", ") + quote(c);
                return quote(v) + " is not one of " + list;
            },
            std::move(help));
}

void ConfigSchema::addStringList(const std::string &path, std::vector<std::string> *target,
                                 std::string help)
{
    add(path, {std::move(help),
               [target](const toml::node &n) -> std::optional<std::string> {
                   const toml::array *arr = n.as_array();
                   if (!arr)
                       return std::string("expected an array of strings, got ") + typeName(n);
                   std::vector<std::string> out;
                   for (size_t i = 0; i < arr->size(); ++i) {
                       const toml::node &e = *arr->get(i);
                       if (!e.is_string())
                           return "element " + std::to_string(i) + " is " + typeName(e) +
                                  ", expected a string";
                       out.push_back(*e.value<std::string>());
                   }
                   *target = std::move(out);
                   return std::nullopt;
               },
               [target] {
                   std::string s = "[";
                   for (size_t i = 0; i < target->size(); ++i)
                       s += (i ? ", " : "") + quote((*target)[i]);
                   return s + "]";
               }});
}

void ConfigSchema::require(const std::string &path)
{
    fields_.at(path).required = true;
}

void ConfigSchema::addTableArray(const std::string &path,
                                 std::function<ConfigSchema(std::size_t)> element, std::string help)
{
    Field f;
    f.help = std::move(help);
    f.element = std::move(element);
    add(path, std::move(f));
}

bool ConfigSchema::knows(const std::string &path) const
{
    return fields_.count(path) > 0;
}

std::string ConfigSchema::suggest(const std::string &path) const
{
    std::string best;
    size_t bestDistance = 4; /* only close misspellings */
    for (const auto &[known, field] : fields_) {
        size_t d = editDistance(path, known);
        if (d < bestDistance) {
            bestDistance = d;
            best = known;
        }
    }
    return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

void ConfigSchema::walk(const toml::table &table, const std::string &prefix,
                        const std::string &source, std::vector<ConfigError> *errors)
{
    for (auto &&[key, node] : table) {
        std::string path =
                prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
        int line = lineOf(node);
        auto it = fields_.find(path);
        if (it != fields_.end() && it->second.element) {
            const toml::array *arr = node.as_array();
            if (!arr || !arr->is_array_of_tables()) {
                errors->push_back(
                        {source, line, path, "expected an array of tables ([[" + path + "]])"});
                continue;
            }
            it->second.seen = true;
            for (size_t i = 0; i < arr->size(); ++i) {
                ConfigSchema element = it->second.element(i);
                std::vector<ConfigError> sub;
                element.walk(*arr->get(i)->as_table(), "", source, &sub);
                auto missing = element.missingRequired(source);
                sub.insert(sub.end(), missing.begin(), missing.end());
                for (ConfigError &e : sub) {
                    e.key = path + "[" + std::to_string(i) + "]." + e.key;
                    if (e.line == 0)
                        e.line = lineOf(*arr->get(i));
                    errors->push_back(std::move(e));
                }
            }
            continue;
        }
        if (it != fields_.end()) {
            if (auto problem = it->second.set(node))
                errors->push_back({source, line, path, *problem});
            else
                it->second.seen = true;
            continue;
        }
        if (const toml::table *sub = node.as_table()) {
            std::string sectionPrefix = path + ".";
            bool isSection = std::any_of(fields_.begin(), fields_.end(), [&](const auto &f) {
                return f.first.compare(0, sectionPrefix.size(), sectionPrefix) == 0;
            });
            if (isSection) {
                walk(*sub, path, source, errors);
                continue;
            }
        }
        errors->push_back({source, line, path, "unknown key" + suggest(path)});
    }
}

std::vector<ConfigError> ConfigSchema::apply(const toml::table &doc, const std::string &source)
{
    std::vector<ConfigError> errors;
    walk(doc, "", source, &errors);
    /* Tables iterate in key order; people read files top to bottom. */
    std::stable_sort(errors.begin(), errors.end(),
                     [](const ConfigError &a, const ConfigError &b) { return a.line < b.line; });
    return errors;
}

std::vector<ConfigError> ConfigSchema::applyFile(const std::string &path)
{
    toml::table doc;
    try {
        doc = toml::parse_file(path);
    } catch (const toml::parse_error &e) {
        return {{path, static_cast<int>(e.source().begin.line), "",
                 "TOML syntax error: " + std::string(e.description())}};
    }
    return apply(doc, path);
}

std::optional<std::string> ConfigSchema::applyOne(const std::string &path, const std::string &value)
{
    auto it = fields_.find(path);
    if (it == fields_.end())
        return "unknown key '" + path + "'" + suggest(path);
    if (it->second.element)
        return "'" + path + "' is a list of tables; edit the configuration file instead";
    std::optional<std::string> problem;
    try {
        toml::table one = toml::parse("v = " + value);
        problem = it->second.set(*one.get("v"));
    } catch (const toml::parse_error &) {
        problem = "not a TOML value";
    }
    if (problem && !value.empty() && value.front() != '"') {
        /* Let a technician type text without quotes. */
        toml::value<std::string> text(value);
        if (!it->second.set(text))
            return std::nullopt;
    }
    return problem;
}

std::vector<ConfigError> ConfigSchema::missingRequired(const std::string &source) const
{
    std::vector<ConfigError> out;
    for (const std::string &path : order_) {
        const Field &f = fields_.at(path);
        if (f.required && !f.seen)
            out.push_back({source, 0, path, "required key is missing"});
    }
    return out;
}

std::string ConfigSchema::dump() const
{
    /* Grouped by section in order of first declaration: a TOML table may be opened once. */
    std::vector<std::string> sections;
    std::map<std::string, std::string> bodies;
    std::string arrays;
    for (const std::string &path : order_) {
        const Field &f = fields_.at(path);
        if (f.element) {
            arrays += "# [[" + path + "]] entries: see the configuration file\n";
            continue;
        }
        size_t dot = path.rfind('.');
        std::string sec = dot == std::string::npos ? "" : path.substr(0, dot);
        std::string key = dot == std::string::npos ? path : path.substr(dot + 1);
        if (!bodies.count(sec))
            sections.push_back(sec);
        bodies[sec] += key + " = " + f.show() + "\n";
    }
    std::string out;
    for (const std::string &sec : sections)
        out += (sec.empty() ? "" : "\n[" + sec + "]\n") + bodies[sec];
    return out + arrays;
}

std::string configHash(const std::string &effectiveText)
{
    return evidence::toHex(evidence::sha256(effectiveText));
}

} /* namespace stopline::firmware */

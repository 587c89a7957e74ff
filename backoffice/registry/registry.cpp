#include "backoffice/registry/registry.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

#include "backoffice/store/store.h"

namespace stopline::backoffice {

namespace {

struct OwnershipName
{
    Ownership value;
    const char *key;
    const char *label;
};

const OwnershipName kOwnershipNames[] = {
        {Ownership::Private, "private", "Privately owned"},
        {Ownership::Commercial, "commercial", "Commercial"},
        {Ownership::RentalLease, "rental_lease", "Rental / leased"},
        {Ownership::Government, "government", "Government (not public safety)"},
        {Ownership::PublicSafetyOtherAgency, "public_safety_other_agency",
         "Public safety, outside agency"},
        {Ownership::CityOwned, "city_owned", "City-owned"},
        {Ownership::PoliceMarked, "police_marked", "Police department, marked"},
        {Ownership::PoliceUnmarked, "police_unmarked", "Police department, unmarked / undercover"},
};

std::string lower(std::string s)
{
    for (char &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string &s)
{
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

const char *kColumns = "plate, state, owner_name, owner_address, owner_phone, make, model, year, "
                       "colour, ownership, agency, agency_contact, department, source, imported_ns";

VehicleEntry entryFromRow(const Row &r)
{
    VehicleEntry e;
    e.plate = r.text(0);
    e.state = r.text(1);
    e.ownerName = r.text(2);
    e.ownerAddress = r.text(3);
    e.ownerPhone = r.text(4);
    e.make = r.text(5);
    e.model = r.text(6);
    e.year = static_cast<int>(r.integer(7));
    e.colour = r.text(8);
    parseOwnership(r.text(9), &e.ownership);
    e.agency = r.text(10);
    e.agencyContact = r.text(11);
    e.department = r.text(12);
    e.source = r.text(13);
    e.importedNs = r.integer(14);
    return e;
}

} /* namespace */

const char *ownershipKey(Ownership o)
{
    for (const OwnershipName &n : kOwnershipNames)
        if (n.value == o)
            return n.key;
    return "private";
}

const char *ownershipLabel(Ownership o)
{
    for (const OwnershipName &n : kOwnershipNames)
        if (n.value == o)
            return n.label;
    return "";
}

bool parseOwnership(const std::string &text, Ownership *o)
{
    std::string t = lower(trim(text));
    for (const OwnershipName &n : kOwnershipNames)
        if (t == n.key) {
            *o = n.value;
            return true;
        }
    return false;
}

std::string normalizePlate(const std::string &text)
{
    std::string out;
    for (char c : text)
        if (std::isalnum(static_cast<unsigned char>(c)))
            out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool validState(const std::string &state)
{
    return state.size() == 2 && std::isupper(static_cast<unsigned char>(state[0])) &&
           std::isupper(static_cast<unsigned char>(state[1]));
}

std::vector<std::vector<std::string>> parseCsv(const std::string &text, std::vector<size_t> *lines)
{
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, fieldStarted = false;
    size_t line = 1, rowLine = 1, quoteLine = 0;
    auto endRow = [&] {
        row.push_back(field);
        field.clear();
        fieldStarted = false;
        bool blank = row.size() == 1 && row[0].empty();
        if (!blank) {
            rows.push_back(std::move(row));
            if (lines)
                lines->push_back(rowLine);
        }
        row.clear();
    };
    size_t i = 0;
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) /* spreadsheet exports start with a BOM */
        i = 3;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < text.size() && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                if (c == '\n')
                    ++line;
                field += c;
            }
            continue;
        }
        if (c == '"' && !fieldStarted) {
            quoted = true;
            fieldStarted = true;
            quoteLine = line;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
            fieldStarted = false;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
                ++i;
            endRow();
            ++line;
            rowLine = line;
        } else {
            field += c;
            fieldStarted = true;
        }
    }
    if (quoted)
        throw std::runtime_error("line " + std::to_string(quoteLine) +
                                 ": a quoted field is never closed");
    if (fieldStarted || !row.empty())
        endRow();
    return rows;
}

RegistryImport parseRegistryCsv(const std::string &text, const std::string &source)
{
    RegistryImport out;
    std::vector<size_t> lines;
    std::vector<std::vector<std::string>> rows;
    try {
        rows = parseCsv(text, &lines);
    } catch (const std::exception &e) {
        out.problems.push_back({0, e.what()});
        return out;
    }
    if (rows.empty()) {
        out.problems.push_back({1, "the file is empty: expected a header row"});
        return out;
    }
    static const std::vector<std::string> required = {"plate",         "state",  "owner_name",
                                                      "owner_address", "make",   "model",
                                                      "year",          "colour", "ownership"};
    static const std::vector<std::string> optional = {"owner_phone", "agency", "agency_contact",
                                                      "department"};
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < rows[0].size(); ++i) {
        std::string name = lower(trim(rows[0][i]));
        if (name == "color")
            name = "colour";
        bool known = std::find(required.begin(), required.end(), name) != required.end() ||
                     std::find(optional.begin(), optional.end(), name) != optional.end();
        if (!known) {
            out.problems.push_back({lines[0], "unknown column '" + rows[0][i] + "'"});
            continue;
        }
        if (col.count(name))
            out.problems.push_back({lines[0], "column '" + name + "' appears twice"});
        col[name] = i;
    }
    for (const std::string &r : required)
        if (!col.count(r))
            out.problems.push_back({lines[0], "missing column '" + r + "'"});
    if (!out.problems.empty())
        return out;

    std::map<std::pair<std::string, std::string>, size_t> seen;
    for (size_t n = 1; n < rows.size(); ++n) {
        const std::vector<std::string> &r = rows[n];
        size_t line = lines[n];
        auto get = [&](const std::string &name) {
            auto it = col.find(name);
            return it == col.end() || it->second >= r.size() ? std::string() : trim(r[it->second]);
        };
        if (r.size() != rows[0].size()) {
            out.problems.push_back({line, std::to_string(r.size()) + " fields, the header has " +
                                                  std::to_string(rows[0].size())});
            continue;
        }
        VehicleEntry e;
        e.plate = normalizePlate(get("plate"));
        e.state = get("state");
        for (char &c : e.state)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        e.ownerName = get("owner_name");
        e.ownerAddress = get("owner_address");
        e.ownerPhone = get("owner_phone");
        e.make = get("make");
        e.model = get("model");
        e.colour = get("colour");
        e.agency = get("agency");
        e.agencyContact = get("agency_contact");
        e.department = get("department");
        e.source = source;
        std::string problem;
        std::string year = get("year");
        if (e.plate.empty())
            problem = "plate is empty";
        else if (e.plate.size() > 10)
            problem = "plate '" + get("plate") + "' is longer than 10 characters";
        else if (!validState(e.state))
            problem = "state '" + get("state") + "' is not a two-letter code";
        else if (e.ownerName.empty())
            problem = "owner_name is empty";
        else if (e.ownerAddress.empty())
            problem = "owner_address is empty";
        else if (year.empty() || year.size() != 4 ||
                 !std::all_of(year.begin(), year.end(),
                              [](char c) { return c >= '0' && c <= '9'; }))
            problem = "year '" + year + "' is not a four-digit year";
        else if (!parseOwnership(get("ownership"), &e.ownership))
            problem = "ownership '" + get("ownership") +
                      "' is not one of private, commercial, rental_lease, government, "
                      "public_safety_other_agency, city_owned, police_marked, police_unmarked";
        else if (e.ownership == Ownership::PublicSafetyOtherAgency &&
                 (e.agency.empty() || e.agencyContact.empty()))
            problem = "a public_safety_other_agency vehicle needs agency and agency_contact";
        if (!problem.empty()) {
            out.problems.push_back({line, "plate " + get("plate") + ": " + problem});
            continue;
        }
        e.year = std::stoi(year);
        auto key = std::make_pair(e.plate, e.state);
        if (auto it = seen.find(key); it != seen.end()) {
            out.problems.push_back({line, "plate " + e.plate + " " + e.state +
                                                  " already given on line " +
                                                  std::to_string(it->second)});
            continue;
        }
        seen[key] = line;
        out.entries.push_back(std::move(e));
    }
    return out;
}

std::optional<VehicleEntry> StoreRegistry::lookup(const std::string &plate,
                                                  const std::string &state)
{
    auto rows = store_->rawQuery(std::string("SELECT ") + kColumns +
                                         " FROM registry_vehicles WHERE plate = ? AND state = ?",
                                 {normalizePlate(plate), state});
    if (rows.empty())
        return std::nullopt;
    return entryFromRow(rows[0]);
}

std::vector<VehicleEntry> StoreRegistry::search(const std::string &text, size_t limit)
{
    std::vector<VehicleEntry> out;
    std::string t = lower(trim(text));
    if (t.empty())
        return out;
    std::string plate = normalizePlate(t);
    /* LIKE patterns: escape the wildcards a person might type. */
    std::string like;
    for (char c : t) {
        if (c == '%' || c == '_' || c == '\\')
            like += '\\';
        like += c;
    }
    for (const Row &r : store_->rawQuery(
                 std::string("SELECT ") + kColumns +
                         " FROM registry_vehicles WHERE (? <> '' AND plate LIKE ? ESCAPE '\\') OR "
                         "owner_key LIKE ? ESCAPE '\\' ORDER BY plate, state LIMIT ?",
                 {plate, plate + "%", "%" + like + "%", static_cast<int64_t>(limit)}))
        out.push_back(entryFromRow(r));
    return out;
}

size_t StoreRegistry::import(const std::vector<VehicleEntry> &entries)
{
    int64_t now = store_->now();
    store_->transact(true, [&](SqlDb &db) {
        for (const VehicleEntry &e : entries)
            db.query("INSERT INTO registry_vehicles (plate, state, owner_name, owner_address, "
                     "owner_phone, make, model, year, colour, ownership, agency, agency_contact, "
                     "department, owner_key, source, imported_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plate, state) DO UPDATE SET "
                     "owner_name = excluded.owner_name, owner_address = excluded.owner_address, "
                     "owner_phone = excluded.owner_phone, make = excluded.make, model = "
                     "excluded.model, year = excluded.year, colour = excluded.colour, ownership = "
                     "excluded.ownership, agency = excluded.agency, agency_contact = "
                     "excluded.agency_contact, department = excluded.department, owner_key = "
                     "excluded.owner_key, source = excluded.source, imported_ns = "
                     "excluded.imported_ns",
                     {e.plate, e.state, e.ownerName, e.ownerAddress, e.ownerPhone, e.make, e.model,
                      int64_t{e.year}, e.colour, std::string(ownershipKey(e.ownership)), e.agency,
                      e.agencyContact, e.department, lower(e.ownerName), e.source, now});
    });
    return entries.size();
}

int64_t StoreRegistry::count()
{
    return store_->rawQuery("SELECT COUNT(*) FROM registry_vehicles")[0].integer(0);
}

} /* namespace stopline::backoffice */

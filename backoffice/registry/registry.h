#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stopline::backoffice {

class Store;

/* Who owns a vehicle, as the agency's business rules distinguish them (policy "Vehicle
 * types"): the class decides whether a citation goes out, a notice, or a referral. */
enum class Ownership {
    Private,
    Commercial,
    RentalLease,
    Government,              /* government, not public safety */
    PublicSafetyOtherAgency, /* with agency and contact */
    CityOwned,               /* with department when the registry knows it */
    PoliceMarked,
    PoliceUnmarked,
};

/* "private", "commercial", "rental_lease", "government", "public_safety_other_agency",
 * "city_owned", "police_marked", "police_unmarked": the spelling in CSV files and JSON. */
const char *ownershipKey(Ownership o);
const char *ownershipLabel(Ownership o);
bool parseOwnership(const std::string &text, Ownership *o);
inline bool isPolice(Ownership o)
{
    return o == Ownership::PoliceMarked || o == Ownership::PoliceUnmarked;
}

/* One registration: plate and state to owner and vehicle. */
struct VehicleEntry
{
    std::string plate; /* normalized (normalizePlate) */
    std::string state; /* two letters, upper case */
    std::string ownerName;
    std::string ownerAddress;
    std::string ownerPhone;
    std::string make;
    std::string model;
    int year = 0;
    std::string colour;
    Ownership ownership = Ownership::Private;
    std::string agency;        /* public safety of another agency */
    std::string agencyContact; /* person notified for that agency */
    std::string department;    /* city-owned */
    std::string source;        /* file it was imported from */
    int64_t importedNs = 0;
};

/* Plates as people type them ("abc-123", "ABC 123") compare equal: upper case, letters
 * and digits only. */
std::string normalizePlate(const std::string &text);
/* True for two letters (US states, DC, territories, Canadian provinces). */
bool validState(const std::string &state);

struct CsvProblem
{
    size_t line = 0; /* 1-based line of the file */
    std::string message;
};

struct RegistryImport
{
    std::vector<VehicleEntry> entries;
    std::vector<CsvProblem> problems;
};

/* Parses a registry export: RFC 4180 CSV with a header naming the columns plate, state,
 * owner_name, owner_address, make, model, year, colour (or color), ownership, and
 * optionally owner_phone, agency, agency_contact, department, in any order. Every bad
 * row is reported with its line and what was wrong; good rows are still returned so
 * the caller decides whether a partial import is acceptable. */
RegistryImport parseRegistryCsv(const std::string &text, const std::string &source);

/* Parses RFC 4180 CSV into rows of fields (quoted fields may hold commas, quotes and
 * line breaks). `lines` receives the 1-based line each row starts on. Throws
 * std::runtime_error naming the line of an unterminated quote. */
std::vector<std::vector<std::string>> parseCsv(const std::string &text,
                                               std::vector<size_t> *lines = nullptr);

/* Where owner data comes from. Real DMV links differ by state (and need agreements),
 * so the rest of the back-office only sees this interface. */
class Registry
{
public:
    virtual ~Registry() = default;
    virtual std::optional<VehicleEntry> lookup(const std::string &plate,
                                               const std::string &state) = 0;
    /* Plate prefix or owner-name fragment, case-insensitive; for the technician's search. */
    virtual std::vector<VehicleEntry> search(const std::string &text, size_t limit) = 0;
};

/* The file-backed registry: CSV exports imported into the store (import-registry), so
 * every server process and both database backends see the same data. */
class StoreRegistry : public Registry
{
public:
    explicit StoreRegistry(Store *store) : store_(store) {}

    std::optional<VehicleEntry> lookup(const std::string &plate, const std::string &state) override;
    std::vector<VehicleEntry> search(const std::string &text, size_t limit) override;

    /* Inserts or replaces (same plate and state) every entry in one transaction:
     * either the whole file is in or none of it. Returns the number written. */
    size_t import(const std::vector<VehicleEntry> &entries);
    int64_t count();

private:
    Store *store_;
};

} /* namespace stopline::backoffice */

#pragma once

/* Shared set-up of the back-office tests: a store on SQLite (temporary folder) or on
 * the real PostgreSQL server (a fresh schema per run, dropped afterwards), enrolled
 * devices, and sealed chains made by the project's own sealing code. */

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "backoffice/ingest.h"
#include "backoffice/store/store.h"
#include "evidence/crypto.h"
#include "evidence/keys.h"
#include "evidence/seal.h"
#include "sample_chain.h"

namespace stopline::backoffice::testing {

inline std::string pgUrl()
{
    const char *env = std::getenv("STOPLINE_TEST_PG");
    return env && *env ? env : "postgresql://stopline:stopline-test@localhost/stopline_test";
}

inline int64_t nowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

/* A throw-away store. PostgreSQL being unreachable is an error, never a skip: CI
 * starts it (scripts/services.sh). */
class TempStore
{
public:
    explicit TempStore(bool postgres, size_t pool = 4) : postgres_(postgres)
    {
        std::string tag = evidence::toHex(evidence::randomBytes(6));
        if (postgres) {
            schema_ = "t_" + tag;
            store_ = Store::openPostgres(pgUrl(), schema_, pool);
        } else {
            dir_ = (std::filesystem::temp_directory_path() / ("stopline-bo-" + tag)).string();
            store_ = Store::openSqliteDir(dir_, pool);
        }
    }
    ~TempStore()
    {
        store_.reset();
        if (postgres_) {
            try {
                openPostgres(pgUrl(), "")
                        ->execScript("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
            } catch (...) {
            }
        } else {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }
    Store &operator*() { return *store_; }
    Store *operator->() { return store_.get(); }
    Store *get() { return store_.get(); }
    const std::string &dir() const { return dir_; }

private:
    bool postgres_;
    std::string dir_, schema_;
    std::unique_ptr<Store> store_;
};

/* A device with its own key, enrolled in `store`. */
struct TestDevice
{
    std::string id;
    std::unique_ptr<evidence::SigningKey> key;
    std::string token;

    TestDevice(Store *store, const std::string &deviceId, const std::string &site = "Test Site")
        : id(deviceId), key(evidence::SigningKey::generate()),
          token(evidence::toHex(evidence::randomBytes(16)))
    {
        DeviceKey k{key->keyId(), id,        key->publicKey().raw(), INT64_MIN, INT64_MAX,
                    INT64_MAX,    "enrolled"};
        store->enrollDevice(id, site, "test", k, hexSha256(token));
    }

    testkit::SampleChain chain(unsigned count, int64_t start = 1'700'000'000'000'000'000) const
    {
        return testkit::makeSampleChain(*key, id, count, start);
    }
};

} /* namespace stopline::backoffice::testing */

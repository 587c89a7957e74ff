/* SQLite backend of SqlDb: the embedded default, one file in the data folder. */
#include "backoffice/store/db.h"

#include <unordered_map>

#include <sqlite3.h>

namespace stopline::backoffice {

bool Row::isNull(size_t i) const
{
    return std::holds_alternative<std::nullptr_t>(values.at(i));
}

int64_t Row::integer(size_t i) const
{
    const Value &v = values.at(i);
    if (auto p = std::get_if<int64_t>(&v))
        return *p;
    if (auto p = std::get_if<double>(&v))
        return static_cast<int64_t>(*p);
    if (auto p = std::get_if<std::string>(&v))
        return std::stoll(*p);
    return 0;
}

double Row::real(size_t i) const
{
    const Value &v = values.at(i);
    if (auto p = std::get_if<double>(&v))
        return *p;
    if (auto p = std::get_if<int64_t>(&v))
        return static_cast<double>(*p);
    if (auto p = std::get_if<std::string>(&v))
        return std::stod(*p);
    return 0;
}

std::string Row::text(size_t i) const
{
    const Value &v = values.at(i);
    if (auto p = std::get_if<std::string>(&v))
        return *p;
    if (auto p = std::get_if<Blob>(&v))
        return p->bytes;
    if (auto p = std::get_if<int64_t>(&v))
        return std::to_string(*p);
    if (auto p = std::get_if<double>(&v))
        return std::to_string(*p);
    return {};
}

namespace {

class SqliteDb : public SqlDb
{
public:
    explicit SqliteDb(const std::string &path)
    {
        int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw DbError("cannot open SQLite database " + path + ": " + msg);
        }
        /* A writer waits for another (the queue's BEGIN IMMEDIATE) instead of failing. */
        sqlite3_busy_timeout(db_, 30000);
        /* WAL: readers never block the writer. synchronous=FULL fsyncs the WAL at every
         * commit, so "201 Created" means the bytes are on the disk (NORMAL would only
         * survive a process crash, not a power cut). */
        execScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    }

    ~SqliteDb() override
    {
        for (auto &[sql, stmt] : cache_)
            sqlite3_finalize(stmt);
        sqlite3_close(db_);
    }

    Dialect dialect() const override { return Dialect::Sqlite; }

    std::vector<Row> query(const std::string &sql, const std::vector<Value> &params) override
    {
        sqlite3_stmt *stmt = prepare(sql);
        struct Reset
        {
            sqlite3_stmt *s;
            ~Reset()
            {
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
            }
        } reset{stmt};
        for (size_t i = 0; i < params.size(); ++i) {
            int idx = static_cast<int>(i + 1);
            const Value &v = params[i];
            int rc;
            if (std::holds_alternative<std::nullptr_t>(v))
                rc = sqlite3_bind_null(stmt, idx);
            else if (auto p = std::get_if<int64_t>(&v))
                rc = sqlite3_bind_int64(stmt, idx, *p);
            else if (auto p = std::get_if<double>(&v))
                rc = sqlite3_bind_double(stmt, idx, *p);
            else if (auto p = std::get_if<std::string>(&v))
                rc = sqlite3_bind_text64(stmt, idx, p->data(), p->size(), SQLITE_TRANSIENT,
                                         SQLITE_UTF8);
            else {
                const std::string &b = std::get<Blob>(v).bytes;
                rc = sqlite3_bind_blob64(stmt, idx, b.data(), b.size(), SQLITE_TRANSIENT);
            }
            if (rc != SQLITE_OK)
                throw DbError("SQLite bind failed: " + std::string(sqlite3_errmsg(db_)));
        }
        std::vector<Row> rows;
        for (;;) {
            int rc = sqlite3_step(stmt);
            if (rc == SQLITE_DONE)
                break;
            if (rc != SQLITE_ROW)
                throw DbError("SQLite: " + std::string(sqlite3_errmsg(db_)) +
                              " in: " + sql.substr(0, 120));
            Row row;
            int n = sqlite3_column_count(stmt);
            row.values.reserve(n);
            for (int c = 0; c < n; ++c) {
                switch (sqlite3_column_type(stmt, c)) {
                case SQLITE_NULL:
                    row.values.emplace_back(nullptr);
                    break;
                case SQLITE_INTEGER:
                    row.values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
                    break;
                case SQLITE_FLOAT:
                    row.values.emplace_back(sqlite3_column_double(stmt, c));
                    break;
                case SQLITE_BLOB: {
                    const char *p = static_cast<const char *>(sqlite3_column_blob(stmt, c));
                    row.values.emplace_back(
                            Blob{std::string(p ? p : "", sqlite3_column_bytes(stmt, c))});
                    break;
                }
                default: {
                    const char *p = reinterpret_cast<const char *>(sqlite3_column_text(stmt, c));
                    row.values.emplace_back(std::string(p ? p : "", sqlite3_column_bytes(stmt, c)));
                }
                }
            }
            rows.push_back(std::move(row));
        }
        changes_ = sqlite3_changes64(db_);
        return rows;
    }

    void execScript(const std::string &sql) override
    {
        char *err = nullptr;
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            std::string msg = err ? err : "unknown error";
            sqlite3_free(err);
            throw DbError("SQLite: " + msg + " in: " + sql.substr(0, 120));
        }
    }

    int64_t changes() const override { return changes_; }

private:
    sqlite3_stmt *prepare(const std::string &sql)
    {
        if (auto it = cache_.find(sql); it != cache_.end())
            return it->second;
        sqlite3_stmt *stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr) !=
            SQLITE_OK)
            throw DbError("SQLite: " + std::string(sqlite3_errmsg(db_)) +
                          " in: " + sql.substr(0, 120));
        cache_.emplace(sql, stmt);
        return stmt;
    }

    sqlite3 *db_ = nullptr;
    /* Prepared statements by text: the store runs a few dozen distinct statements. */
    std::unordered_map<std::string, sqlite3_stmt *> cache_;
    int64_t changes_ = 0;
};

} /* namespace */

std::unique_ptr<SqlDb> openSqlite(const std::string &path)
{
    return std::make_unique<SqliteDb>(path);
}

} /* namespace stopline::backoffice */

#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace stopline::backoffice {

/* A database call failed; the message names the statement's purpose and the server's
 * own words, so an operator can tell a full disk from a typo. */
class DbError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

/* Binary parameter or column: kept apart from text because PostgreSQL sends bytea
 * differently and SQLite would otherwise store it with text affinity. */
struct Blob
{
    std::string bytes;
};

using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

/* One result row. Accessors convert the way both backends store things (integers as
 * BIGINT, flags as 0/1), so the store's SQL is written once. */
class Row
{
public:
    std::vector<Value> values;

    bool isNull(size_t i) const;
    int64_t integer(size_t i) const;
    double real(size_t i) const;
    /* Text or blob column as bytes; empty for NULL. */
    std::string text(size_t i) const;
};

enum class Dialect { Sqlite, Postgres };

/* The small SQL surface the store needs from a backend: parameterized statements with
 * `?` placeholders and explicit transactions. One connection, used by one thread at a
 * time (the store keeps a pool). */
class SqlDb
{
public:
    virtual ~SqlDb() = default;

    virtual Dialect dialect() const = 0;

    /* Runs one statement and returns its rows (RETURNING included). */
    virtual std::vector<Row> query(const std::string &sql,
                                   const std::vector<Value> &params = {}) = 0;

    /* Runs one or more statements without parameters (DDL, BEGIN, ...). */
    virtual void execScript(const std::string &sql) = 0;

    /* Rows changed by the last query() that was an INSERT/UPDATE/DELETE. */
    virtual int64_t changes() const = 0;

    /* A write transaction: SQLite takes the write lock now (BEGIN IMMEDIATE), so the
     * transaction can never fail later with SQLITE_BUSY on upgrade. */
    void beginWrite() { execScript(dialect() == Dialect::Sqlite ? "BEGIN IMMEDIATE" : "BEGIN"); }
    void beginRead() { execScript("BEGIN"); }
    void commit() { execScript("COMMIT"); }
    void rollback() { execScript("ROLLBACK"); }
};

/* Opens (creating if needed) an SQLite database in WAL mode with synchronous=FULL: a
 * commit returns only after the WAL is fsynced, so an acknowledged record survives a
 * power cut, not only kill -9. */
std::unique_ptr<SqlDb> openSqlite(const std::string &path);

/* Connects to PostgreSQL with a libpq URL. With a non-empty `schema` the connection
 * creates it if needed and works inside it (tests use one schema per run). */
std::unique_ptr<SqlDb> openPostgres(const std::string &url, const std::string &schema);

/* Rolls back unless committed: every early return or exception leaves the connection
 * clean for the next user of the pool. */
class Transaction
{
public:
    Transaction(SqlDb &db, bool write) : db_(db)
    {
        if (write)
            db_.beginWrite();
        else
            db_.beginRead();
    }
    ~Transaction()
    {
        if (!done_) {
            try {
                db_.rollback();
            } catch (...) {
            }
        }
    }
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;

    void commit()
    {
        db_.commit();
        done_ = true;
    }

private:
    SqlDb &db_;
    bool done_ = false;
};

} /* namespace stopline::backoffice */

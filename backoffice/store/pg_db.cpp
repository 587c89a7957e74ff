/* PostgreSQL backend of SqlDb (libpq): the scale backend, shared by several servers. */
#include "backoffice/store/db.h"

#include <cstdlib>
#include <cstring>

#include <libpq-fe.h>

namespace stopline::backoffice {

namespace {

/* Type oids from pg_type.h (server headers are not needed for these constants). */
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

/* `?` placeholders to `$n`, skipping quoted literals. */
std::string toDollarParams(const std::string &sql)
{
    std::string out;
    out.reserve(sql.size() + 16);
    int n = 0;
    bool quoted = false;
    for (char c : sql) {
        if (c == '\'')
            quoted = !quoted;
        if (c == '?' && !quoted) {
            out += '$';
            out += std::to_string(++n);
        } else {
            out += c;
        }
    }
    return out;
}

bool validIdentifier(const std::string &s)
{
    if (s.empty() || s.size() > 60)
        return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
            return false;
    return !std::isdigit(static_cast<unsigned char>(s[0]));
}

class PgDb : public SqlDb
{
public:
    PgDb(const std::string &url, const std::string &schema)
    {
        conn_ = PQconnectdb(url.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::string msg = PQerrorMessage(conn_);
            PQfinish(conn_);
            conn_ = nullptr;
            throw DbError("cannot connect to PostgreSQL: " + msg);
        }
        execScript("SET client_min_messages TO WARNING");
        if (!schema.empty()) {
            if (!validIdentifier(schema))
                throw DbError("PostgreSQL schema name '" + schema + "' is not a plain identifier");
            execScript("CREATE SCHEMA IF NOT EXISTS " + schema);
            execScript("SET search_path TO " + schema);
        }
    }

    ~PgDb() override
    {
        if (conn_)
            PQfinish(conn_);
    }

    Dialect dialect() const override { return Dialect::Postgres; }

    std::vector<Row> query(const std::string &sql, const std::vector<Value> &params) override
    {
        std::string text = toDollarParams(sql);
        std::vector<std::string> storage(params.size());
        std::vector<const char *> values(params.size());
        std::vector<int> lengths(params.size());
        std::vector<int> formats(params.size());
        std::vector<Oid> types(params.size());
        for (size_t i = 0; i < params.size(); ++i) {
            const Value &v = params[i];
            if (std::holds_alternative<std::nullptr_t>(v)) {
                values[i] = nullptr;
                continue;
            }
            if (auto p = std::get_if<int64_t>(&v)) {
                storage[i] = std::to_string(*p);
                types[i] = kInt8Oid;
            } else if (auto p = std::get_if<double>(&v)) {
                char buf[64];
                std::snprintf(buf, sizeof(buf), "%.17g", *p);
                storage[i] = buf;
                types[i] = kFloat8Oid;
            } else if (auto p = std::get_if<std::string>(&v)) {
                storage[i] = *p;
            } else {
                storage[i] = std::get<Blob>(v).bytes;
                formats[i] = 1; /* binary: bytea goes as raw bytes */
                types[i] = kByteaOid;
            }
            values[i] = storage[i].data();
            lengths[i] = static_cast<int>(storage[i].size());
        }
        PGresult *res =
                PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), types.data(),
                             values.data(), lengths.data(), formats.data(), 0);
        ResultGuard guard{res};
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            throw DbError("PostgreSQL: " + std::string(PQresultErrorMessage(res)) +
                          " in: " + sql.substr(0, 120));
        const char *affected = PQcmdTuples(res);
        changes_ = affected && *affected ? std::atoll(affected) : 0;
        std::vector<Row> rows;
        int nrows = PQntuples(res), ncols = PQnfields(res);
        rows.reserve(nrows);
        for (int r = 0; r < nrows; ++r) {
            Row row;
            row.values.reserve(ncols);
            for (int c = 0; c < ncols; ++c) {
                if (PQgetisnull(res, r, c)) {
                    row.values.emplace_back(nullptr);
                    continue;
                }
                const char *v = PQgetvalue(res, r, c);
                switch (PQftype(res, c)) {
                case kInt2Oid:
                case kInt4Oid:
                case kInt8Oid:
                    row.values.emplace_back(static_cast<int64_t>(std::atoll(v)));
                    break;
                case kBoolOid:
                    row.values.emplace_back(static_cast<int64_t>(v[0] == 't'));
                    break;
                case kFloat4Oid:
                case kFloat8Oid:
                case kNumericOid:
                    row.values.emplace_back(std::atof(v));
                    break;
                case kByteaOid: {
                    size_t len = 0;
                    unsigned char *raw =
                            PQunescapeBytea(reinterpret_cast<const unsigned char *>(v), &len);
                    if (!raw)
                        throw DbError("PostgreSQL: cannot decode bytea column");
                    row.values.emplace_back(Blob{std::string(reinterpret_cast<char *>(raw), len)});
                    PQfreemem(raw);
                    break;
                }
                default:
                    row.values.emplace_back(std::string(v, PQgetlength(res, r, c)));
                }
            }
            rows.push_back(std::move(row));
        }
        return rows;
    }

    void execScript(const std::string &sql) override
    {
        PGresult *res = PQexec(conn_, sql.c_str());
        ResultGuard guard{res};
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            throw DbError("PostgreSQL: " + std::string(PQresultErrorMessage(res)) +
                          " in: " + sql.substr(0, 120));
    }

    int64_t changes() const override { return changes_; }

private:
    struct ResultGuard
    {
        PGresult *r;
        ~ResultGuard() { PQclear(r); }
    };

    PGconn *conn_ = nullptr;
    int64_t changes_ = 0;
};

} /* namespace */

std::unique_ptr<SqlDb> openPostgres(const std::string &url, const std::string &schema)
{
    return std::make_unique<PgDb>(url, schema);
}

} /* namespace stopline::backoffice */

// A thin RAII layer over SQLite's C API: a connection and prepared statements whose failures
// throw Error naming the database file.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace pupembed {

class SqliteDb;

class SqliteStatement {
public:
    SqliteStatement(const SqliteDb& db, const char* sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    SqliteStatement& bind(int index, int64_t value);
    SqliteStatement& bind(int index, double value);
    SqliteStatement& bind(int index, const std::string& value);
    SqliteStatement& bind_blob(int index, const void* data, size_t size);
    /// Advances to the next row: true while there is one.
    bool step();
    /// Runs a statement that returns no rows.
    void run();
    void reset();

    int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    /// The column's bytes and their count.
    const void* blob(int column, size_t& size) const;

private:
    const SqliteDb& db_;
    sqlite3_stmt* statement_ = nullptr;
};

class SqliteDb {
public:
    /// Opens (and with `create`, creates) the database file; throws Error naming it.
    SqliteDb(const std::string& path, bool create);
    ~SqliteDb();
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    /// Runs one or more statements that return no rows.
    void execute(const char* sql) const;
    /// Puts the database in write-ahead-log mode (a setting kept in the file), waiting up to the
    /// busy timeout for other connections: SQLite does not wait by itself for this one.
    void use_write_ahead_log() const;
    /// Throws Error naming the file with SQLite's message and `what` was attempted.
    [[noreturn]] void fail(const std::string& what) const;

    sqlite3* handle() const { return db_; }
    const std::string& path() const { return path_; }

private:
    sqlite3* db_ = nullptr;
    std::string path_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class SqliteTransaction {
public:
    explicit SqliteTransaction(const SqliteDb& db);
    ~SqliteTransaction();
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    void commit();

private:
    const SqliteDb& db_;
    bool done_ = false;
};

}  // namespace pupembed

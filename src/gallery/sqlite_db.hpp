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

/// How a database file is opened.
enum class SqliteAccess {
    ReadWrite,  ///< reads and writes an existing file
    Create,     ///< the same, making the file when there is none
    ReadOnly,   ///< reads only; another process may still change the file
    /// Reads only a file that nobody changes while it is open (a read-only folder): SQLite then
    /// needs no lock or shared-memory file beside it, which such a folder could not hold.
    Immutable,
};

/// One connection. Not safe to share between threads by itself (SQLite's own mutex is off):
/// its owner serialises every use (Gallery does).
class SqliteDb {
public:
    /// Opens the database file as `access` says; throws Error naming it.
    SqliteDb(const std::string& path, SqliteAccess access);
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

/// BEGIN IMMEDIATE (a write transaction: it takes the file's write lock at once) or, with
/// `reading`, BEGIN (reads that see one committed state throughout) on construction; ROLLBACK
/// on destruction unless commit() ran.
class SqliteTransaction {
public:
    explicit SqliteTransaction(const SqliteDb& db, bool reading = false);
    ~SqliteTransaction();
    SqliteTransaction(const SqliteTransaction&) = delete;
    SqliteTransaction& operator=(const SqliteTransaction&) = delete;
    void commit();

private:
    const SqliteDb& db_;
    bool done_ = false;
};

}  // namespace pupembed

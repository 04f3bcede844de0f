#include "gallery/sqlite_db.hpp"

#include <chrono>
#include <thread>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {
constexpr int kBusyTimeoutMs = 10000;
}

namespace {

/// `path` as an SQLite URI: "file:" and the path with its special characters escaped (an
/// absolute path after an empty authority, "file:///...", so that one starting "//" stays a path).
std::string file_uri(const std::string& path) {
    std::string uri = path.empty() || path[0] != '/' ? "file:" : "file://";
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char c : path) {
        if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
            uri += '%';
            uri += digits[c >> 4];
            uri += digits[c & 15];
        } else {
            uri += char(c);
        }
    }
    return uri;
}

}  // namespace

SqliteDb::SqliteDb(const std::string& path, SqliteAccess access) : path_(path) {
    // Our own owner serialises every use of the connection, so SQLite's per-call mutex is off.
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    std::string uri = file_uri(path);
    switch (access) {
        case SqliteAccess::ReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
        case SqliteAccess::Create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
        case SqliteAccess::ReadOnly: flags |= SQLITE_OPEN_READONLY; break;
        case SqliteAccess::Immutable:
            flags |= SQLITE_OPEN_READONLY;
            uri += "?immutable=1";
            break;
    }
    if (sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(path, "cannot open the gallery (" + message + ")");
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    sqlite3_extended_result_codes(db_, 1);
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::fail(const std::string& what) const {
    const int code = sqlite3_errcode(db_);
    std::string message = sqlite3_errmsg(db_);
    if ((code & 0xff) == SQLITE_NOTADB) throw Error(path_, "not a pupembed gallery (not an SQLite database)");
    if ((code & 0xff) == SQLITE_CORRUPT) throw Error(path_, "damaged gallery (" + message + ")");
    throw Error(path_, what + ": " + message);
}

void SqliteDb::execute(const char* sql) const {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        sqlite3_free(error);
        fail("cannot run \"" + std::string(sql).substr(0, 40) + "\"");
    }
}

void SqliteDb::use_write_ahead_log() const {
    // Changing the journal mode needs the file to itself, and SQLite answers "database is locked"
    // at once, without its busy handler, while another process opens the same new gallery.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
    for (;;) {
        const int code = sqlite3_exec(db_, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
        if (code == SQLITE_OK) return;
        const bool busy = (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED;
        if (!busy || std::chrono::steady_clock::now() > deadline) fail("cannot switch to write-ahead logging");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

SqliteStatement::SqliteStatement(const SqliteDb& db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle(), sql, -1, &statement_, nullptr) != SQLITE_OK)
        db.fail("cannot read the gallery");
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(statement_); }

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) db_.fail("cannot bind a value");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
    if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) db_.fail("cannot bind a value");
    return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const std::string& value) {
    if (sqlite3_bind_text(statement_, index, value.data(), int(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail("cannot bind a value");
    return *this;
}

SqliteStatement& SqliteStatement::bind_blob(int index, const void* data, size_t size) {
    if (sqlite3_bind_blob(statement_, index, data, int(size), SQLITE_TRANSIENT) != SQLITE_OK) db_.fail("cannot bind a value");
    return *this;
}

bool SqliteStatement::step() {
    const int result = sqlite3_step(statement_);
    if (result == SQLITE_ROW) return true;
    if (result == SQLITE_DONE) return false;
    db_.fail("cannot access the gallery");
}

void SqliteStatement::run() {
    while (step()) {
    }
    reset();
}

void SqliteStatement::reset() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
}

int64_t SqliteStatement::integer(int column) const { return sqlite3_column_int64(statement_, column); }
double SqliteStatement::real(int column) const { return sqlite3_column_double(statement_, column); }

std::string SqliteStatement::text(int column) const {
    const auto* text = sqlite3_column_text(statement_, column);
    return text ? std::string(reinterpret_cast<const char*>(text), size_t(sqlite3_column_bytes(statement_, column))) : "";
}

const void* SqliteStatement::blob(int column, size_t& size) const {
    const void* data = sqlite3_column_blob(statement_, column);
    size = size_t(sqlite3_column_bytes(statement_, column));
    return data;
}

SqliteTransaction::SqliteTransaction(const SqliteDb& db, bool reading) : db_(db) {
    db.execute(reading ? "BEGIN" : "BEGIN IMMEDIATE");
}

SqliteTransaction::~SqliteTransaction() {
    if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteTransaction::commit() {
    db_.execute("COMMIT");
    done_ = true;
}

}  // namespace pupembed

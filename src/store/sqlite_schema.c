/* SQLite: creating and extending tables to match the app model.
 *
 * Migration only adds: missing tables, columns and indexes. It never drops, renames or converts,
 * so a column whose type no longer matches its field is reported as a warning and left as it is.
 * "_froth_schema" remembers each column's field kind, which catches changes that keep the SQL
 * type (text to list of text, both TEXT).
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "store/words.h"

#define MAX_WARNINGS 4096 /* bytes of warning text returned to the caller */

static const char INTERNAL_DDL[] =
    "CREATE TABLE IF NOT EXISTS \"_froth_sessions\" ("
    "\"token_hash\" BLOB PRIMARY KEY NOT NULL, "
    "\"id\" TEXT NOT NULL UNIQUE, "
    "\"user_id\" TEXT NOT NULL, "
    "\"created\" INTEGER NOT NULL, "
    "\"last_used\" INTEGER NOT NULL, "
    "\"expires\" INTEGER NOT NULL, "
    "\"idle_ms\" INTEGER NOT NULL, "
    "\"two_factor\" INTEGER NOT NULL DEFAULT 0, "
    "\"revoked\" INTEGER NOT NULL DEFAULT 0, "
    "\"client_address\" TEXT, "
    "\"user_agent\" TEXT);"
    "CREATE INDEX IF NOT EXISTS \"_froth_sessions__user_id\" ON \"_froth_sessions\" "
    "(\"user_id\");"
    "CREATE TABLE IF NOT EXISTS \"_froth_audit\" ("
    "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, "
    "\"time\" INTEGER NOT NULL, "
    "\"event\" TEXT NOT NULL, "
    "\"user_id\" TEXT, "
    "\"admin_label\" TEXT, "
    "\"client_address\" TEXT, "
    "\"user_agent\" TEXT, "
    "\"session_id\" TEXT, "
    "\"detail\" TEXT);"
    "CREATE INDEX IF NOT EXISTS \"_froth_audit__time\" ON \"_froth_audit\" (\"time\");"
    "CREATE INDEX IF NOT EXISTS \"_froth_audit__user_id\" ON \"_froth_audit\" "
    "(\"user_id\", \"id\");"
    "CREATE TABLE IF NOT EXISTS \"_froth_admin_tokens\" ("
    "\"label\" TEXT PRIMARY KEY NOT NULL, "
    "\"token_hash\" BLOB NOT NULL UNIQUE, "
    "\"created\" INTEGER NOT NULL, "
    "\"last_used\" INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS \"_froth_password_resets\" ("
    "\"token_hash\" BLOB PRIMARY KEY NOT NULL, "
    "\"user_id\" TEXT NOT NULL, "
    "\"expires\" INTEGER NOT NULL, "
    "\"used\" INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS \"_froth_outbox\" ("
    "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, "
    "\"recipient\" TEXT NOT NULL, "
    "\"subject\" TEXT NOT NULL, "
    "\"body\" TEXT NOT NULL, "
    "\"created\" INTEGER NOT NULL, "
    "\"sent\" INTEGER);"
    "CREATE TABLE IF NOT EXISTS \"_froth_jobs\" ("
    "\"id\" TEXT PRIMARY KEY NOT NULL, "
    "\"workflow\" TEXT NOT NULL, "
    "\"run_at\" INTEGER NOT NULL, "
    "\"params\" TEXT NOT NULL, "
    "\"caller_kind\" INTEGER NOT NULL, "
    "\"caller_id\" TEXT NOT NULL, "
    "\"status\" TEXT NOT NULL, "
    "\"lease_until\" INTEGER NOT NULL, "
    "\"attempts\" INTEGER NOT NULL, "
    "\"created\" INTEGER NOT NULL, "
    "\"finished\" INTEGER);"
    "CREATE INDEX IF NOT EXISTS \"_froth_jobs__due\" ON \"_froth_jobs\" (\"status\", \"run_at\");"
    "CREATE TABLE IF NOT EXISTS \"_froth_schema\" ("
    "\"table\" TEXT NOT NULL, "
    "\"column\" TEXT NOT NULL, "
    "\"type\" TEXT NOT NULL, "
    "\"field\" TEXT NOT NULL, "
    "\"kind\" TEXT NOT NULL, "
    "PRIMARY KEY (\"table\", \"column\"));";

/* One column the model expects. */
typedef struct {
    const char *name;
    const char *sql_type;
    const app_field_t *field; /* NULL for hidden columns */
    char words[STORE__WORDS_COLUMN_MAX + 1]; /* the name of a words column, which name points to */
} column_t;

typedef struct {
    store__sqlite_conn_t *c;
    char *errbuf;
    size_t errlen;
    sbuf_t warnings;
} migration_t;

static const char *sql_type(store__storage_t storage)
{
    switch (storage) {
    case STORAGE_REAL:
        return "REAL";
    case STORAGE_BOOL:
    case STORAGE_DATE:
        return "INTEGER";
    case STORAGE_TEXT:
    case STORAGE_JSON:
        break;
    }
    return "TEXT";
}

/* Writes the field kind as app.json spells it, without the target of a reference or option. */
static void kind_name(const app_field_t *field, char *out, size_t size)
{
    static const char *const names[] = {
        [FK_TEXT] = "text",         [FK_NUMBER] = "number",
        [FK_BOOL] = "yes/no",       [FK_DATE] = "date",
        [FK_DATE_RANGE] = "date range", [FK_GEO] = "geographic address",
        [FK_FILE] = "file",         [FK_IMAGE] = "image",
        [FK_OPTION] = "option",     [FK_THING] = "thing",
    };
    const unsigned k = (unsigned)field->type.kind;
    const char *name = k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
    snprintf(out, size, "%s%s", field->type.is_list ? "list of " : "", name);
}

static void warn(migration_t *m, const char *type, const char *column, const char *problem,
                 const char *have, const char *want)
{
    LOG_WARN("schema column left unchanged", "type=%s column=%s problem=%s have=%s want=%s",
             log_quote(type), log_quote(column), log_quote(problem), log_quote(have),
             log_quote(want));
    if (m->warnings.len > 0)
        sbuf_puts(&m->warnings, "; ");
    sbuf_printf(&m->warnings, "%s.%s: %s is %s but the model wants %s; left unchanged", type,
                column, problem, have, want);
}

/* Runs q (built by this file) and reports a failure in errbuf with what it was doing. When
 * first is given, the first column of the first row is copied into it. *found is set to whether
 * there was a row. */
static err_t run(migration_t *m, store__sql_t *q, const char *what, char *first, size_t size,
                 bool *found)
{
    sqlite3 *db = m->c->db;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sql_error(q);
    if (err != ERR_OK) {
        snprintf(m->errbuf, m->errlen, "%s: invalid name in the app model", what);
        goto out;
    }
    /* Schema statements run once per start, so they bypass the statement cache. */
    int rc = sqlite3_prepare_v2(db, sbuf_cstr(&q->sql), (int)q->sql.len, &stmt, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < q->nparams; i++)
        rc = store__sqlite_bind_value(stmt, (int)i + 1, &q->params[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && first != NULL) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        snprintf(first, size, "%s", text == NULL ? "" : text);
    }
    if (found != NULL)
        *found = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(m->errbuf, m->errlen, "%s failed: %s", what, sqlite3_errmsg(db));
        err = store__sqlite_fail(m->c, rc, what);
    }
out:
    sqlite3_finalize(stmt);
    store__sql_deinit(q);
    return err;
}

static void init_sql(store__sql_t *q)
{
    store__sql_init(q, &store__sqlite_dialect);
}

static err_t table_exists(migration_t *m, const char *table, bool *exists)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ");
    store__sql_param(&q, value_text(table, strlen(table)));
    return run(m, &q, "reading the schema", NULL, 0, exists);
}

static err_t declared_type(migration_t *m, const char *table, const char *column, char *out,
                           size_t size, bool *found)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "SELECT type FROM pragma_table_info(");
    store__sql_param(&q, value_text(table, strlen(table)));
    store__sql_puts(&q, ") WHERE name = ");
    store__sql_param(&q, value_text(column, strlen(column)));
    return run(m, &q, "reading the schema", out, size, found);
}

/* ---- Tables and columns ----------------------------------------------------------------- */

/* The constraint a built-in column carries. An added column needs a default for NOT NULL. */
static const char *constraint(const column_t *col, bool adding)
{
    if (col->field == NULL)
        return "";
    switch (col->field->builtin) {
    case BUILTIN_ID:
        return " PRIMARY KEY NOT NULL";
    case BUILTIN_CREATED_DATE:
    case BUILTIN_MODIFIED_DATE:
        return adding ? " NOT NULL DEFAULT 0" : " NOT NULL";
    default:
        return "";
    }
}

static void column_def(store__sql_t *q, const column_t *col, bool adding)
{
    store__sql_ident(q, col->name);
    store__sql_puts(q, " ");
    store__sql_puts(q, col->sql_type);
    store__sql_puts(q, constraint(col, adding));
}

static err_t create_table(migration_t *m, const app_type_t *type, const column_t *cols,
                          size_t ncols)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "CREATE TABLE ");
    store__sql_ident(&q, type->table);
    store__sql_puts(&q, " (");
    for (size_t i = 0; i < ncols; i++) {
        if (i > 0)
            store__sql_puts(&q, ", ");
        column_def(&q, &cols[i], false);
    }
    store__sql_puts(&q, ")");
    LOG_INFO("creating table", "type=%s table=%s", log_quote(type->name), type->table);
    return run(m, &q, "creating a table", NULL, 0, NULL);
}

static err_t add_or_check_column(migration_t *m, const app_type_t *type, const column_t *col)
{
    char have[64] = "";
    bool found = false;
    err_t err = declared_type(m, type->table, col->name, have, sizeof(have), &found);
    if (err != ERR_OK)
        return err;
    if (found) {
        if (strcasecmp(have, col->sql_type) != 0)
            warn(m, type->name, col->name, "SQL type", have, col->sql_type);
        return ERR_OK;
    }
    if (col->field != NULL && col->field->builtin == BUILTIN_ID) {
        snprintf(m->errbuf, m->errlen, "table \"%s\" exists but has no \"_id\" column",
                 type->table);
        return ERR_INVALID;
    }
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "ALTER TABLE ");
    store__sql_ident(&q, type->table);
    store__sql_puts(&q, " ADD COLUMN ");
    column_def(&q, col, true);
    LOG_INFO("adding column", "table=%s column=%s", type->table, col->name);
    return run(m, &q, "adding a column", NULL, 0, NULL);
}

static err_t create_index(migration_t *m, const char *table, const char *suffix, bool unique,
                          const char *columns)
{
    char name[2 * STORE__MAX_IDENT];
    snprintf(name, sizeof(name), "%s__%s", table, suffix);
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, unique ? "CREATE UNIQUE INDEX IF NOT EXISTS " : "CREATE INDEX IF NOT EXISTS ");
    store__sql_ident(&q, name);
    store__sql_puts(&q, " ON ");
    store__sql_ident(&q, table);
    store__sql_puts(&q, " (");
    store__sql_puts(&q, columns);
    store__sql_puts(&q, ")");
    return run(m, &q, "creating an index", NULL, 0, NULL);
}

/* The unique email index is separate from the column because ALTER TABLE cannot add a UNIQUE
 * column. A User table created before the email columns can then gain them. */
typedef struct {
    migration_t *m;
    const app_type_t *type;
} rule_index_t;

static err_t create_rule_index(void *ud, const char *suffix, const char *columns)
{
    const rule_index_t *ri = ud;
    return create_index(ri->m, ri->type->table, suffix, false, columns);
}

static err_t create_rule_indexes(migration_t *m, const app_type_t *type)
{
    rule_index_t ri = {.m = m, .type = type};
    return store__create_rule_indexes(type, create_rule_index, &ri);
}

static err_t create_indexes(migration_t *m, const app_type_t *type)
{
    err_t err = create_index(m, type->table, "created", false, "\"_created\", \"_id\"");
    /* Owner rules filter on the creator and pages follow the default order, so one index
     * serves both. */
    if (err == ERR_OK)
        err = create_index(m, type->table, "created_by", false,
                           "\"_created_by\", \"_created\", \"_id\"");
    if (err == ERR_OK && type->is_user)
        err = create_index(m, type->table, "email_norm", true, "\"_email_norm\"");
    if (err == ERR_OK)
        err = create_rule_indexes(m, type);
    return err;
}

/* Compares the field's kind with the one recorded at the last migration, or records it. */
static err_t check_kind(migration_t *m, const app_type_t *type, const app_field_t *field)
{
    const char *column = store__column_name(field);
    char want[64];
    kind_name(field, want, sizeof(want));
    char have[64] = "";
    bool found = false;
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "SELECT \"kind\" FROM \"_froth_schema\" WHERE \"table\" = ");
    store__sql_param(&q, value_text(type->table, strlen(type->table)));
    store__sql_puts(&q, " AND \"column\" = ");
    store__sql_param(&q, value_text(column, strlen(column)));
    err_t err = run(m, &q, "reading field kinds", have, sizeof(have), &found);
    if (err != ERR_OK)
        return err;
    if (found) {
        if (strcmp(have, want) != 0)
            warn(m, type->name, column, "field kind", have, want);
        return ERR_OK;
    }
    init_sql(&q);
    store__sql_puts(&q, "INSERT INTO \"_froth_schema\" (\"table\", \"column\", \"type\", "
                        "\"field\", \"kind\") VALUES (");
    const char *texts[] = {type->table, column, type->name, field->name, want};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (i > 0)
            store__sql_puts(&q, ", ");
        store__sql_param(&q, value_text(texts[i], strlen(texts[i])));
    }
    store__sql_puts(&q, ")");
    return run(m, &q, "recording field kinds", NULL, 0, NULL);
}

/* ---- Words for "text contains" ---------------------------------------------------------- */

/* froth_words(text): the stemmed words that store__words_of gives, for filling words columns in
 * one UPDATE. Registered on the migrating connection only; searches read the stored words. */
static void words_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    if (text == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    sbuf_t words;
    sbuf_init(&words, 2 * n + 2);
    if (store__words_of(text, n, false, &words) == ERR_OK)
        sqlite3_result_text(ctx, words.data, (int)words.len, SQLITE_TRANSIENT);
    else
        sqlite3_result_error_nomem(ctx);
    sbuf_deinit(&words);
}

/* Fills the words column of a text field for rows that have text but no words yet: rows written
 * before the column existed, or by another program. A field without a words column is skipped. */
static err_t fill_words(migration_t *m, const app_type_t *type, const app_field_t *field)
{
    char words[STORE__WORDS_COLUMN_MAX + 1];
    if (!store__words_column(field, words, sizeof(words)))
        return ERR_OK;
    const int rc = sqlite3_create_function(m->c->db, "froth_words", 1,
                                           SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                           words_function, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(m->errbuf, m->errlen, "registering froth_words failed: %s",
                 sqlite3_errmsg(m->c->db));
        return store__sqlite_fail(m->c, rc, "register froth_words");
    }
    const char *column = store__column_name(field);
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "UPDATE ");
    store__sql_ident(&q, type->table);
    store__sql_puts(&q, " SET ");
    store__sql_ident(&q, words);
    store__sql_puts(&q, " = froth_words(");
    store__sql_ident(&q, column);
    store__sql_puts(&q, ") WHERE ");
    store__sql_ident(&q, column);
    store__sql_puts(&q, " IS NOT NULL AND ");
    store__sql_ident(&q, words);
    store__sql_puts(&q, " IS NULL");
    err_t err = run(m, &q, "filling a words column", NULL, 0, NULL);
    const int changed = sqlite3_changes(m->c->db);
    if (err == ERR_OK && changed > 0)
        LOG_INFO("filled words column", "table=%s column=%s rows=%d", type->table, words,
                 changed);
    return err;
}

/* Every field's column, the hidden words column of each text field, and the User type's hidden
 * columns: at most 2 * nfields + 6. */
static size_t expected_columns(const app_type_t *type, column_t *cols)
{
    size_t n = 0;
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *field = &type->fields[i];
        cols[n++] = (column_t){.name = store__column_name(field),
                               .sql_type = sql_type(store__field_storage(field)),
                               .field = field};
    }
    for (size_t i = 0; i < type->nfields; i++) {
        column_t *col = &cols[n];
        if (store__words_column(&type->fields[i], col->words, sizeof(col->words))) {
            col->name = col->words;
            col->sql_type = "TEXT";
            n++;
        }
    }
    if (type->is_user) {
        cols[n++] = (column_t){.name = "_email_norm", .sql_type = "TEXT"};
        cols[n++] = (column_t){.name = "_password_hash", .sql_type = "TEXT"};
        cols[n++] = (column_t){.name = "_totp_secret", .sql_type = "TEXT"};
        cols[n++] = (column_t){.name = "_totp_enabled", .sql_type = "INTEGER"};
        cols[n++] = (column_t){.name = "_totp_last_step", .sql_type = "INTEGER"};
        cols[n++] = (column_t){.name = "_recovery_codes", .sql_type = "TEXT"};
    }
    return n;
}

static err_t migrate_type(migration_t *m, const app_type_t *type)
{
    if (type->table == NULL || strncmp(type->table, "_froth", 6) == 0) {
        snprintf(m->errbuf, m->errlen, "type \"%s\": table name is missing or reserved",
                 type->name == NULL ? "" : type->name);
        return ERR_INVALID;
    }
    column_t *cols = calloc(2 * type->nfields + 6, sizeof(*cols));
    if (cols == NULL)
        return ERR_NOMEM;
    const size_t ncols = expected_columns(type, cols);

    bool exists = false;
    err_t err = table_exists(m, type->table, &exists);
    if (err == ERR_OK && !exists)
        err = create_table(m, type, cols, ncols);
    for (size_t i = 0; exists && err == ERR_OK && i < ncols; i++)
        err = add_or_check_column(m, type, &cols[i]);
    if (err == ERR_OK)
        err = create_indexes(m, type);
    for (size_t i = 0; exists && err == ERR_OK && i < type->nfields; i++)
        err = fill_words(m, type, &type->fields[i]);
    for (size_t i = 0; err == ERR_OK && i < type->nfields; i++) {
        if (type->fields[i].builtin == BUILTIN_NONE)
            err = check_kind(m, type, &type->fields[i]);
    }
    free(cols);
    return err;
}

/* ---- Entry points ----------------------------------------------------------------------- */

/* Columns added to the store's own tables after they were first released. CREATE TABLE IF NOT
 * EXISTS leaves an older table as it was, so each is added here when it is missing, and the
 * indexes over them are created after. */
static const struct {
    const char *table;
    const char *column;
    const char *sql_type;
} LATER_COLUMNS[] = {
    {"_froth_sessions", "client_address", "TEXT"},
    {"_froth_sessions", "user_agent", "TEXT"},
    /* The outbox's delivery state, from the SMTP relay on; status is pending, sending, sent or
     * failed. */
    {"_froth_outbox", "status", "TEXT NOT NULL DEFAULT 'pending'"},
    {"_froth_outbox", "attempts", "INTEGER NOT NULL DEFAULT 0"},
    {"_froth_outbox", "next_attempt", "INTEGER NOT NULL DEFAULT 0"},
    {"_froth_outbox", "lease_until", "INTEGER NOT NULL DEFAULT 0"},
    {"_froth_outbox", "message_id", "TEXT"},
    {"_froth_outbox", "last_error", "TEXT"},
    {"_froth_outbox", "failed", "INTEGER"},
};

static err_t add_later_columns(migration_t *m)
{
    err_t err = ERR_OK;
    for (size_t i = 0; err == ERR_OK && i < sizeof(LATER_COLUMNS) / sizeof(LATER_COLUMNS[0]); i++) {
        char have[64];
        bool found = false;
        err = declared_type(m, LATER_COLUMNS[i].table, LATER_COLUMNS[i].column, have, sizeof(have),
                            &found);
        if (err != ERR_OK || found)
            continue;
        store__sql_t q;
        init_sql(&q);
        store__sql_puts(&q, "ALTER TABLE ");
        store__sql_ident(&q, LATER_COLUMNS[i].table);
        store__sql_puts(&q, " ADD COLUMN ");
        store__sql_ident(&q, LATER_COLUMNS[i].column);
        store__sql_puts(&q, " ");
        store__sql_puts(&q, LATER_COLUMNS[i].sql_type);
        LOG_INFO("adding column", "table=%s column=%s", LATER_COLUMNS[i].table,
                 LATER_COLUMNS[i].column);
        err = run(m, &q, "adding a column", NULL, 0, NULL);
    }
    if (err == ERR_OK)
        err = store__sqlite_exec(m->c,
                                 "CREATE INDEX IF NOT EXISTS \"_froth_outbox__due\" ON "
                                 "\"_froth_outbox\" (\"status\", \"next_attempt\")",
                                 "create outbox index");
    if (err != ERR_OK && m->errlen > 0 && m->errbuf[0] == '\0')
        snprintf(m->errbuf, m->errlen, "upgrading the store's own tables failed: %s",
                 err_name(err));
    return err;
}

static err_t create_internal(migration_t *m)
{
    char *message = NULL;
    int rc = sqlite3_exec(m->c->db, INTERNAL_DDL, NULL, NULL, &message);
    if (rc == SQLITE_OK)
        return add_later_columns(m);
    snprintf(m->errbuf, m->errlen, "creating the store's own tables failed: %s",
             message != NULL ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return store__sqlite_fail(m->c, rc, "create internal tables");
}

/* Runs body inside one write transaction, so that concurrent starts migrate one at a time and a
 * failed migration leaves the schema as it was. */
static err_t in_transaction(migration_t *m, const app_t *app)
{
    err_t err = store__sqlite_exec(m->c, "BEGIN IMMEDIATE", "begin migration");
    if (err != ERR_OK) {
        snprintf(m->errbuf, m->errlen, "cannot lock the database for migration: %s",
                 err_name(err));
        return err;
    }
    err = create_internal(m);
    for (size_t i = 0; app != NULL && err == ERR_OK && i < app->ntypes; i++)
        err = migrate_type(m, &app->types[i]);
    if (err == ERR_OK)
        err = store__sqlite_exec(m->c, "COMMIT", "commit migration");
    if (err != ERR_OK) {
        if (m->errlen > 0 && m->errbuf[0] == '\0')
            snprintf(m->errbuf, m->errlen, "migration failed: %s", err_name(err));
        if (!sqlite3_get_autocommit(m->c->db)) {
            err_t rolled = store__sqlite_exec(m->c, "ROLLBACK", "roll back migration");
            (void)rolled;
        }
    }
    return err;
}

static err_t migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen)
{
    migration_t m = {.c = store__sqlite_conn(conn), .errbuf = errbuf, .errlen = errlen};
    sbuf_init(&m.warnings, MAX_WARNINGS);
    err_t err = in_transaction(&m, app);
    if (err == ERR_OK)
        snprintf(errbuf, errlen, "%s", sbuf_cstr(&m.warnings));
    sbuf_deinit(&m.warnings);
    return err;
}

err_t store__sqlite_migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen)
{
    return migrate(conn, app, errbuf, errlen);
}

err_t store__sqlite_migrate_internal(store_conn_t *conn, char *errbuf, size_t errlen)
{
    return migrate(conn, NULL, errbuf, errlen);
}

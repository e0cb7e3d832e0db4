/* PostgreSQL: creating and extending tables to match the app model.
 *
 * The rules are SQLite's (sqlite_schema.c): migration only adds missing tables, columns and
 * indexes, never drops, renames or converts, and reports a column whose type no longer matches
 * its field. Tables live in the connection's current schema (the first on search_path).
 */
#include "store/postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "store/words.h"

#define MAX_WARNINGS 4096 /* bytes of warning text returned to the caller */

/* PostgreSQL cuts longer identifiers to this many bytes, so two long index names could meet. */
#define PG_MAX_IDENT 63

/* The key of the transaction-level advisory lock that migrations take, so that nodes starting
 * together on one database migrate one after another. The bytes spell "frothmig". */
#define MIGRATION_LOCK_KEY "7382085284972554599"

static const char INTERNAL_DDL[] =
    "CREATE TABLE IF NOT EXISTS \"_froth_sessions\" ("
    "\"token_hash\" BYTEA PRIMARY KEY NOT NULL, "
    "\"id\" TEXT NOT NULL UNIQUE, "
    "\"user_id\" TEXT NOT NULL, "
    "\"created\" BIGINT NOT NULL, "
    "\"last_used\" BIGINT NOT NULL, "
    "\"expires\" BIGINT NOT NULL, "
    "\"idle_ms\" BIGINT NOT NULL, "
    "\"two_factor\" BOOLEAN NOT NULL DEFAULT FALSE, "
    "\"revoked\" BOOLEAN NOT NULL DEFAULT FALSE, "
    "\"client_address\" TEXT, "
    "\"user_agent\" TEXT);"
    "CREATE INDEX IF NOT EXISTS \"_froth_sessions__user_id\" ON \"_froth_sessions\" "
    "(\"user_id\");"
    "CREATE TABLE IF NOT EXISTS \"_froth_audit\" ("
    "\"id\" BIGSERIAL PRIMARY KEY, "
    "\"time\" BIGINT NOT NULL, "
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
    "\"token_hash\" BYTEA NOT NULL UNIQUE, "
    "\"created\" BIGINT NOT NULL, "
    "\"last_used\" BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS \"_froth_counters\" ("
    "\"key\" TEXT PRIMARY KEY NOT NULL, "
    "\"window_end\" BIGINT NOT NULL, "
    "\"count\" BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS \"_froth_password_resets\" ("
    "\"token_hash\" BYTEA PRIMARY KEY NOT NULL, "
    "\"user_id\" TEXT NOT NULL, "
    "\"expires\" BIGINT NOT NULL, "
    "\"used\" BOOLEAN NOT NULL DEFAULT FALSE);"
    "CREATE TABLE IF NOT EXISTS \"_froth_outbox\" ("
    "\"id\" BIGSERIAL PRIMARY KEY, "
    "\"recipient\" TEXT NOT NULL, "
    "\"subject\" TEXT NOT NULL, "
    "\"body\" TEXT NOT NULL, "
    "\"created\" BIGINT NOT NULL, "
    "\"sent\" BIGINT);"
    /* The delivery columns, which stores created before the SMTP relay lack. status is
     * pending, sending, sent or failed. */
    "ALTER TABLE \"_froth_outbox\" "
    "ADD COLUMN IF NOT EXISTS \"status\" TEXT NOT NULL DEFAULT 'pending', "
    "ADD COLUMN IF NOT EXISTS \"attempts\" INTEGER NOT NULL DEFAULT 0, "
    "ADD COLUMN IF NOT EXISTS \"next_attempt\" BIGINT NOT NULL DEFAULT 0, "
    "ADD COLUMN IF NOT EXISTS \"lease_until\" BIGINT NOT NULL DEFAULT 0, "
    "ADD COLUMN IF NOT EXISTS \"message_id\" TEXT, "
    "ADD COLUMN IF NOT EXISTS \"last_error\" TEXT, "
    "ADD COLUMN IF NOT EXISTS \"failed\" BIGINT;"
    "CREATE INDEX IF NOT EXISTS \"_froth_outbox__due\" ON \"_froth_outbox\" "
    "(\"status\", \"next_attempt\");"
    "CREATE TABLE IF NOT EXISTS \"_froth_jobs\" ("
    "\"id\" TEXT PRIMARY KEY NOT NULL, "
    "\"workflow\" TEXT NOT NULL, "
    "\"run_at\" BIGINT NOT NULL, "
    "\"params\" TEXT NOT NULL, "
    "\"caller_kind\" INTEGER NOT NULL, "
    "\"caller_id\" TEXT NOT NULL, "
    "\"status\" TEXT NOT NULL, "
    "\"lease_until\" BIGINT NOT NULL, "
    "\"attempts\" INTEGER NOT NULL, "
    "\"created\" BIGINT NOT NULL, "
    "\"finished\" BIGINT);"
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
    store__pg_conn_t *c;
    char *errbuf;
    size_t errlen;
    sbuf_t warnings;
} migration_t;

/* Spelled as information_schema.columns.data_type reports them, apart from case. */
static const char *sql_type(store__storage_t storage)
{
    switch (storage) {
    case STORAGE_REAL:
        return "DOUBLE PRECISION";
    case STORAGE_BOOL:
        return "BOOLEAN";
    case STORAGE_DATE:
        return "BIGINT";
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

/* Writes "<what> failed: <server message>" into errbuf unless it already contains a message. */
static void report(migration_t *m, const char *what)
{
    if (m->errlen == 0 || m->errbuf[0] != '\0')
        return;
    snprintf(m->errbuf, m->errlen, "%s failed: %s", what, PQerrorMessage(m->c->pg));
    size_t n = strlen(m->errbuf);
    while (n > 0 && (m->errbuf[n - 1] == '\n' || m->errbuf[n - 1] == ' '))
        m->errbuf[--n] = '\0';
}

/* Runs q (built by this file) and reports a failure in errbuf with what it was doing. When
 * first is given, the first column of the first row is copied into it. *found is set to whether
 * there was a row. */
static err_t run(migration_t *m, store__sql_t *q, const char *what, char *first, size_t size,
                 bool *found)
{
    PGresult *res = NULL;
    err_t err = store__sql_error(q);
    if (err != ERR_OK) {
        snprintf(m->errbuf, m->errlen, "%s: invalid name in the app model", what);
        goto out;
    }
    /* Schema statements run once per start, so they bypass the statement cache. */
    err = store__pg_query_once(m->c, sbuf_cstr(&q->sql), q->params, q->nparams, what, &res);
    if (err != ERR_OK) {
        report(m, what);
        goto out;
    }
    const bool row = PQntuples(res) > 0;
    if (found != NULL)
        *found = row;
    if (row && first != NULL)
        snprintf(first, size, "%s", PQgetvalue(res, 0, 0));
out:
    PQclear(res);
    store__sql_deinit(q);
    return err;
}

static void init_sql(store__sql_t *q)
{
    store__sql_init(q, &store__pg_dialect);
}

static void text_param(store__sql_t *q, const char *s)
{
    store__sql_param(q, value_text(s, strlen(s)));
}

static err_t table_exists(migration_t *m, const char *table, bool *exists)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "SELECT 1 FROM information_schema.tables "
                        "WHERE table_schema = current_schema() AND table_name = ");
    text_param(&q, table);
    return run(m, &q, "reading the schema", NULL, 0, exists);
}

static err_t declared_type(migration_t *m, const char *table, const char *column, char *out,
                           size_t size, bool *found)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "SELECT data_type FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = ");
    text_param(&q, table);
    store__sql_puts(&q, " AND column_name = ");
    text_param(&q, column);
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

/* Longer names would be cut by PostgreSQL without an error, so they are refused here. */
static err_t check_ident(migration_t *m, const char *what, const char *name)
{
    if (strlen(name) <= PG_MAX_IDENT)
        return ERR_OK;
    snprintf(m->errbuf, m->errlen, "%s \"%s\" is longer than PostgreSQL's %d-byte limit", what,
             name, PG_MAX_IDENT);
    return ERR_INVALID;
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

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Index names are "<table>__<suffix>", as on SQLite. One that would pass PostgreSQL's limit
 * keeps its first bytes and ends in a hash of the whole name, so it stays the same on every
 * start and differs from its neighbours. */
static void index_name(const char *table, const char *suffix, char *out, size_t size)
{
    char full[2 * STORE__MAX_IDENT + 8];
    snprintf(full, sizeof(full), "%s__%s", table, suffix);
    if (strlen(full) <= PG_MAX_IDENT) {
        snprintf(out, size, "%s", full);
        return;
    }
    snprintf(out, size, "%.*s_%016llx", PG_MAX_IDENT - 17, full,
             (unsigned long long)fnv1a(full));
}

static err_t create_index(migration_t *m, const char *table, const char *suffix, bool unique,
                          const char *columns)
{
    char name[PG_MAX_IDENT + 1];
    index_name(table, suffix, name, sizeof(name));
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, unique ? "CREATE UNIQUE INDEX IF NOT EXISTS "
                               : "CREATE INDEX IF NOT EXISTS ");
    store__sql_ident(&q, name);
    store__sql_puts(&q, " ON ");
    store__sql_ident(&q, table);
    store__sql_puts(&q, " (");
    store__sql_puts(&q, columns);
    store__sql_puts(&q, ")");
    return run(m, &q, "creating an index", NULL, 0, NULL);
}

/* The same indexes as on SQLite. */
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
    text_param(&q, type->table);
    store__sql_puts(&q, " AND \"column\" = ");
    text_param(&q, column);
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
        text_param(&q, texts[i]);
    }
    store__sql_puts(&q, ")");
    return run(m, &q, "recording field kinds", NULL, 0, NULL);
}

/* ---- Words for "text contains" ---------------------------------------------------------- */

/* Rows per statement when filling words columns: 2 parameters each, far below libpq's 65,535. */
#define FILL_PAGE 500

/* Sets the words of one page of rows in a single UPDATE ... FROM (VALUES ...). */
static err_t fill_page(migration_t *m, const app_type_t *type, const char *words,
                       const PGresult *rows)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_puts(&q, "UPDATE ");
    store__sql_ident(&q, type->table);
    store__sql_puts(&q, " AS t SET ");
    store__sql_ident(&q, words);
    store__sql_puts(&q, " = v.words FROM (VALUES ");
    sbuf_t text;
    for (int r = 0; r < PQntuples(rows) && store__sql_error(&q) == ERR_OK; r++) {
        const size_t n = (size_t)PQgetlength(rows, r, 1);
        sbuf_init(&text, 2 * n + 2);
        const err_t err = store__words_of(PQgetvalue(rows, r, 1), n, false, &text);
        const char *kept = err == ERR_OK ? store__sql_keep(&q, text.data, text.len) : NULL;
        const size_t len = text.len;
        sbuf_deinit(&text);
        if (err != ERR_OK)
            store__sql_fail(&q, ERR_NOMEM);
        if (kept == NULL)
            break;
        store__sql_puts(&q, r > 0 ? ", (" : "(");
        text_param(&q, PQgetvalue(rows, r, 0));
        store__sql_puts(&q, ", ");
        store__sql_param(&q, value_text(kept, len));
        store__sql_puts(&q, ")");
    }
    store__sql_puts(&q, ") AS v(id, words) WHERE t.\"_id\" = v.id");
    return run(m, &q, "filling a words column", NULL, 0, NULL);
}

/* Fills the words column of a text field for rows that have text but no words yet: rows written
 * before the column existed, or by another program. Every page sets the words of the rows it
 * read, so the next page reads new rows and the loop ends. */
static err_t fill_words(migration_t *m, const app_type_t *type, const app_field_t *field)
{
    char words[STORE__WORDS_COLUMN_MAX + 1];
    if (!store__words_column(field, words, sizeof(words)))
        return ERR_OK;
    const char *column = store__column_name(field);
    size_t filled = 0;
    err_t err = ERR_OK;
    for (int rows = FILL_PAGE; err == ERR_OK && rows == FILL_PAGE;) {
        store__sql_t q;
        init_sql(&q);
        store__sql_puts(&q, "SELECT \"_id\", ");
        store__sql_ident(&q, column);
        store__sql_puts(&q, "::text FROM ");
        store__sql_ident(&q, type->table);
        store__sql_puts(&q, " WHERE ");
        store__sql_ident(&q, column);
        store__sql_puts(&q, " IS NOT NULL AND ");
        store__sql_ident(&q, words);
        store__sql_puts(&q, " IS NULL LIMIT ");
        store__sql_param(&q, store__int_value(FILL_PAGE));
        PGresult *res = NULL;
        err = store__sql_error(&q);
        if (err == ERR_OK)
            err = store__pg_query_once(m->c, sbuf_cstr(&q.sql), q.params, q.nparams,
                                       "reading rows without words", &res);
        store__sql_deinit(&q);
        if (err != ERR_OK) {
            report(m, "reading rows without words");
            PQclear(res);
            return err;
        }
        rows = PQntuples(res);
        if (rows > 0)
            err = fill_page(m, type, words, res);
        PQclear(res);
        filled += (size_t)rows;
    }
    if (err == ERR_OK && filled > 0)
        LOG_INFO("filled words column", "table=%s column=%s rows=%zu", type->table, words,
                 filled);
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
        cols[n++] = (column_t){.name = "_totp_enabled", .sql_type = "BOOLEAN"};
        cols[n++] = (column_t){.name = "_totp_last_step", .sql_type = "BIGINT"};
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

    err_t err = check_ident(m, "table", type->table);
    for (size_t i = 0; err == ERR_OK && i < ncols; i++)
        err = check_ident(m, "column", cols[i].name);
    bool exists = false;
    if (err == ERR_OK)
        err = table_exists(m, type->table, &exists);
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
 * EXISTS leaves an older table as it was, so each is added here when it is missing. The check
 * comes first because ALTER TABLE locks the table exclusively even when IF NOT EXISTS finds the
 * column, which would stall every node's session reads behind a long export. */
static const struct {
    const char *table;
    const char *column;
    const char *sql_type;
} LATER_COLUMNS[] = {
    {"_froth_sessions", "client_address", "TEXT"},
    {"_froth_sessions", "user_agent", "TEXT"},
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
        store__sql_puts(&q, " ADD COLUMN IF NOT EXISTS ");
        store__sql_ident(&q, LATER_COLUMNS[i].column);
        store__sql_puts(&q, " ");
        store__sql_puts(&q, LATER_COLUMNS[i].sql_type);
        LOG_INFO("adding column", "table=%s column=%s", LATER_COLUMNS[i].table,
                 LATER_COLUMNS[i].column);
        err = run(m, &q, "adding a column", NULL, 0, NULL);
    }
    return err;
}

static err_t exec_step(migration_t *m, const char *sql, const char *what)
{
    err_t err = store__pg_exec(m->c, sql, what);
    if (err != ERR_OK)
        report(m, what);
    return err;
}

/* Runs the whole migration in one transaction under an advisory lock, so that nodes starting at
 * once migrate one at a time (the second finds the work done) and a failed migration leaves the
 * schema as it was. The lock is released when the transaction ends. */
static err_t in_transaction(migration_t *m, const app_t *app)
{
    err_t err = exec_step(m, "BEGIN", "beginning the migration");
    if (err != ERR_OK)
        return err;
    err = exec_step(m, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")",
                    "locking the database for migration");
    if (err == ERR_OK)
        err = exec_step(m, INTERNAL_DDL, "creating the store's own tables");
    if (err == ERR_OK)
        err = add_later_columns(m);
    for (size_t i = 0; app != NULL && err == ERR_OK && i < app->ntypes; i++)
        err = migrate_type(m, &app->types[i]);
    if (err == ERR_OK)
        err = exec_step(m, "COMMIT", "committing the migration");
    if (err != ERR_OK) {
        if (m->errlen > 0 && m->errbuf[0] == '\0')
            snprintf(m->errbuf, m->errlen, "migration failed: %s", err_name(err));
        if (!m->c->broken && PQtransactionStatus(m->c->pg) != PQTRANS_IDLE) {
            err_t rolled = store__pg_exec(m->c, "ROLLBACK", "roll back migration");
            (void)rolled;
        }
    }
    return err;
}

static err_t migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen)
{
    migration_t m = {.c = store__pg_conn(conn), .errbuf = errbuf, .errlen = errlen};
    sbuf_init(&m.warnings, MAX_WARNINGS);
    err_t err = in_transaction(&m, app);
    if (err == ERR_OK)
        snprintf(errbuf, errlen, "%s", sbuf_cstr(&m.warnings));
    sbuf_deinit(&m.warnings);
    return err;
}

err_t store__pg_migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen)
{
    return migrate(conn, app, errbuf, errlen);
}

err_t store__pg_migrate_internal(store_conn_t *conn, char *errbuf, size_t errlen)
{
    return migrate(conn, NULL, errbuf, errlen);
}

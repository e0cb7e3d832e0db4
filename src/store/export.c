/* Export: the whole of an app's data as one dump, for moving it to another database (froth
 * export). Reading the dump back is import.c; each backend reads its pages in *_export.c.
 *
 * The dump is UTF-8 text, one JSON object per line, each line ending in "\n":
 *
 *   {"froth_export":1,"app":"todo","exported_at":"2024-05-01T12:00:00.000Z"}
 *   {"type":"Task","values":{"_id":"1714...x1","Created Date":1714564800000,...}}
 *   {"type":"User","values":{...},"email":"a@example.com","password_hash":"$argon2id$..."}
 *   {"session":{"id":"...","user_id":"...","created_ms":1,"last_used_ms":2,"expires_ms":3,
 *               "idle_ms":4,"two_factor":false,"revoked":false,"token_hash":"<64 hex digits>",
 *               "client_address":"203.0.113.7","user_agent":"curl/8.5.0"}}
 *   {"admin_token":{"label":"ci","token_hash":"<64 hex digits>","created_ms":1,
 *                   "last_used_ms":0}}
 *   {"two_factor":{"user_id":"...","secret":"v1:...","enabled":true,"last_step":5,
 *                  "recovery_codes":"<64 hex digits> <64 hex digits> ..."}}
 *   {"job":{"id":"...","workflow":"remind","run_at_ms":1,"params":{"task":"..."},
 *           "caller_kind":1,"caller_id":"..."}}
 *   {"audit":{"time_ms":1,"event":"login.failed","user_id":"...","client_address":"...",
 *             "detail":"reason=wrong_password"}}
 *   {"froth_export_end":{"things":2,"sessions":1,"admin_tokens":1,"two_factor":1,"jobs":1,
 *                        "audit":1}}
 *
 * "values" maps field display names, built-ins included, to stored values. Text is a string, a
 * number a JSON number that reads back as the same double, yes/no true or false, and a date
 * epoch milliseconds. Lists, geographic addresses and date ranges are the stored JSON text
 * itself. Empty fields are left out, as are the empty text members of an audit row. Types
 * come in app order, the things of one type in (Created Date, _id) order, audit rows oldest
 * first. The closing line lets import tell a whole dump from one cut short. Dumps written
 * before sessions kept their client and before the audit log lack those members and lines.
 * Hashes are exported as stored; the dump never contains a password or a token.
 *
 * "two_factor" lines carry the TOTP state of each user who has a secret, with the secret as
 * stored: encrypted under the server's secret key, so the database that imports it must be served
 * with the same key (or, from before encryption, plain base32). "recovery_codes" is left out when
 * none are left. "job" lines are the scheduled workflow runs that have not finished: pending ones
 * and those a node was running during the export, which run again after an import. Their
 * "caller_kind" is 0 for anonymous, 1 for a user and 2 for an admin token, and "params" is the
 * stored parameter object. Dumps written before these lines existed have neither them nor their
 * counts in the closing line, and still import.
 */
#include "store/export_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

/* Rows read per statement. A page's values stay in memory until it is written, so this bounds
 * memory at about this many things, whatever the table's size. */
#define THING_PAGE 500
#define SESSION_PAGE 1000
#define ADMIN_TOKEN_PAGE 100
#define AUDIT_PAGE STORE_AUDIT_PAGE_MAX
#define TWO_FACTOR_PAGE 500
#define JOB_PAGE 500

/* Bytes collected before one write(2), so a dump of small things does not cost a system call a
 * line. */
#define OUTPUT_BUFFER (256u << 10)

/* Maximum memory for one page of things. */
#define PAGE_ARENA_MAX ((size_t)2 << 30)

/* ---- Helpers shared with import.c and the backends -------------------------------------- */

void store__hex_encode(const unsigned char hash[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[hash[i] >> 4];
        out[2 * i + 1] = digits[hash[i] & 0xf];
    }
    out[64] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool store__hex_decode(const char *p, size_t n, unsigned char hash[32])
{
    if (p == NULL || n != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        const int hi = hex_digit(p[2 * i]);
        const int lo = hex_digit(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        hash[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

void store__sql_export_things(store__sql_t *q, const app_type_t *type, int64_t after_created,
                              const char *after_id, size_t limit)
{
    store__sql_puts(q, "SELECT ");
    for (size_t i = 0; i < type->nfields; i++) {
        if (i > 0)
            store__sql_puts(q, ", ");
        store__sql_ident(q, store__column_name(&type->fields[i]));
    }
    if (type->is_user)
        store__sql_puts(q, ", \"_password_hash\"");
    store__sql_puts(q, " FROM ");
    store__sql_ident(q, type->table);
    if (after_id != NULL) {
        store__sql_puts(q, " WHERE (\"_created\", \"_id\") > (");
        store__sql_param(q, value_date(after_created));
        store__sql_puts(q, ", ");
        store__sql_param(q, value_text(after_id, strlen(after_id)));
        store__sql_puts(q, ")");
    }
    store__sql_puts(q, " ORDER BY \"_created\", \"_id\" LIMIT ");
    store__sql_param(q, store__int_value((int64_t)limit));
}

/* ---- Output ----------------------------------------------------------------------------- */

typedef struct {
    const app_t *app;
    store_conn_t *conn;
    int fd;
    sbuf_t line; /* the line being built, capped at STORE__DUMP_MAX_LINE */
    char *out;   /* OUTPUT_BUFFER bytes of finished lines not yet written */
    size_t nout;
    store_dump_stats_t *stats;
    size_t things; /* of every type */
    char *errbuf;
    size_t errlen;
} exporter_t;

static err_t fail(exporter_t *e, err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static err_t fail(exporter_t *e, err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->errbuf, e->errlen, fmt, ap);
    va_end(ap);
    return err;
}

static err_t write_all(exporter_t *e, const char *p, size_t n)
{
    while (n > 0) {
        const ssize_t w = write(e->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return fail(e, ERR_IO, "cannot write the dump: %s",
                        w < 0 ? strerror(errno) : "nothing was written");
        p += w;
        n -= (size_t)w;
    }
    return ERR_OK;
}

static err_t flush(exporter_t *e)
{
    err_t err = write_all(e, e->out, e->nout);
    e->nout = 0;
    return err;
}

/* Ends the line being built and queues it for writing. record names the line's content in the
 * message for a line that outgrew STORE__DUMP_MAX_LINE. */
static err_t finish_line(exporter_t *e, const char *record)
{
    sbuf_putc(&e->line, '\n');
    if (sbuf_error(&e->line) == ERR_TOO_LARGE)
        return fail(e, ERR_TOO_LARGE, "%s does not fit in a dump line of at most %zu MiB", record,
                    STORE__DUMP_MAX_LINE >> 20);
    if (sbuf_error(&e->line) != ERR_OK)
        return fail(e, sbuf_error(&e->line), "out of memory writing the dump");
    const size_t n = e->line.len;
    err_t err = ERR_OK;
    if (e->nout + n > OUTPUT_BUFFER)
        err = flush(e);
    if (err == ERR_OK && n > OUTPUT_BUFFER)
        err = write_all(e, sbuf_cstr(&e->line), n);
    else if (err == ERR_OK) {
        memcpy(e->out + e->nout, sbuf_cstr(&e->line), n);
        e->nout += n;
    }
    sbuf_clear(&e->line);
    return err;
}

/* Writes a double so that reading it back gives the same value. sbuf_put_number already does
 * that for every finite value except negative zero, which it writes as "-0", an integer that
 * reads back as plain zero. */
static void put_number(sbuf_t *sb, double v)
{
    if (v == 0 && signbit(v))
        sbuf_puts(sb, "-0.0");
    else
        sbuf_put_number(sb, v);
}

/* Copies stored JSON text into the line as it is, so it is stored again byte for byte. A line
 * break can only be whitespace between tokens in valid JSON, and it would split the line, so
 * it becomes a space.
 * NOTE: such whitespace, and any at either end of the text, does not survive a round trip.
 * froth itself stores compound values without any. */
static bool put_raw_json(sbuf_t *sb, const char *p, size_t n)
{
    json_error_t error;
    json_t *doc = json_loadb(p, n, JSON_DECODE_ANY, &error);
    if (doc == NULL)
        return false;
    json_decref(doc);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n' && p[i] != '\r')
            continue;
        sbuf_append(sb, p + start, i - start);
        sbuf_putc(sb, ' ');
        start = i + 1;
    }
    sbuf_append(sb, p + start, n - start);
    return true;
}

static void put_key(sbuf_t *sb, const char *key)
{
    sbuf_put_json_string(sb, key, strlen(key));
    sbuf_putc(sb, ':');
}

/* ---- Things ----------------------------------------------------------------------------- */

/* Appends field's value after its key. Returns false when stored JSON does not parse. */
static bool put_value(sbuf_t *sb, const app_field_t *field, const value_t *v)
{
    put_key(sb, field->name);
    switch (v->kind) {
    case VAL_TEXT:
        sbuf_put_json_string(sb, v->u.s.p, v->u.s.n);
        return true;
    case VAL_NUMBER:
        put_number(sb, v->u.num);
        return true;
    case VAL_BOOL:
        sbuf_puts(sb, v->u.b ? "true" : "false");
        return true;
    case VAL_DATE:
        sbuf_put_int(sb, v->u.ms);
        return true;
    case VAL_JSON:
        return put_raw_json(sb, v->u.s.p, v->u.s.n);
    case VAL_NULL:
        break;
    }
    sbuf_puts(sb, "null");
    return true;
}

/* Returns the thing's id for messages; "" when the row has none, which the schema forbids. */
static const char *row_id(const store_row_t *row)
{
    const value_t *id = &row->values[0];
    return id->kind == VAL_TEXT ? id->u.s.p : "";
}

static err_t write_thing(exporter_t *e, const app_type_t *type, const store_row_t *row,
                         const char *password_hash)
{
    sbuf_t *sb = &e->line;
    sbuf_puts(sb, "{\"type\":");
    sbuf_put_json_string(sb, type->name, strlen(type->name));
    sbuf_puts(sb, ",\"values\":{");
    const value_t *email = NULL;
    bool first = true;
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *field = &type->fields[i];
        const value_t *v = &row->values[i];
        if (field->builtin == BUILTIN_EMAIL) {
            email = v;
            continue;
        }
        if (v->kind == VAL_NULL)
            continue;
        if (!first)
            sbuf_putc(sb, ',');
        first = false;
        if (!put_value(sb, field, v))
            return fail(e, ERR_STORE,
                        "%s \"%s\": the stored value of field \"%s\" is not valid JSON", type->name,
                        row_id(row), field->name);
    }
    sbuf_putc(sb, '}');
    if (type->is_user && email != NULL && email->kind == VAL_TEXT) {
        sbuf_puts(sb, ",\"email\":");
        sbuf_put_json_string(sb, email->u.s.p, email->u.s.n);
    }
    if (type->is_user && password_hash != NULL) {
        sbuf_puts(sb, ",\"password_hash\":");
        sbuf_put_json_string(sb, password_hash, strlen(password_hash));
    }
    sbuf_putc(sb, '}');

    char record[256];
    snprintf(record, sizeof(record), "%s \"%s\"", type->name, row_id(row));
    return finish_line(e, record);
}

/* Reads one page of things after the key in *after_id and writes them. Sets *count to the rows
 * read and moves the key to the last of them. */
static err_t export_page(exporter_t *e, const app_type_t *type, arena_t *arena, store_row_t *rows,
                         char **hashes, int64_t *after_created, char **after_id, size_t *count)
{
    arena_reset(arena);
    err_t err = e->conn->store->backend->export_things(e->conn, type, *after_created, *after_id,
                                                       THING_PAGE, arena, rows, hashes, count);
    if (err != ERR_OK)
        return fail(e, err,
                    "cannot read the things of type \"%s\" (%s); is the schema up to date? "
                    "Run froth migrate with this --app and --db",
                    type->name, err_name(err));
    for (size_t i = 0; i < *count && err == ERR_OK; i++) {
        err = write_thing(e, type, &rows[i], hashes[i]);
        if (err == ERR_OK) {
            e->stats->things[type - e->app->types]++;
            e->things++;
        }
    }
    if (err != ERR_OK || *count == 0)
        return err;

    const store_row_t *last = &rows[*count - 1];
    if (last->values[0].kind != VAL_TEXT || last->values[1].kind != VAL_DATE)
        return fail(e, ERR_STORE, "a thing of type \"%s\" has no _id or Created Date", type->name);
    char *id = strndup(last->values[0].u.s.p, last->values[0].u.s.n);
    if (id == NULL)
        return fail(e, ERR_NOMEM, "out of memory reading type \"%s\"", type->name);
    free(*after_id);
    *after_id = id;
    *after_created = last->values[1].u.ms;
    return ERR_OK;
}

static err_t export_type(exporter_t *e, const app_type_t *type)
{
    /* Values are read by position: _id first, Created Date second (see store.h). */
    if (type->nfields < 2 || type->fields[0].builtin != BUILTIN_ID ||
        type->fields[1].builtin != BUILTIN_CREATED_DATE)
        return fail(e, ERR_INTERNAL, "type \"%s\" does not start with _id and Created Date",
                    type->name);
    arena_t *arena = arena_new(64 << 10, PAGE_ARENA_MAX);
    store_row_t *rows = calloc(THING_PAGE, sizeof(*rows));
    char **hashes = calloc(THING_PAGE, sizeof(*hashes));
    err_t err = ERR_OK;
    if (arena == NULL || rows == NULL || hashes == NULL)
        err = fail(e, ERR_NOMEM, "out of memory reading type \"%s\"", type->name);

    int64_t after_created = 0;
    char *after_id = NULL;
    size_t count = THING_PAGE;
    while (err == ERR_OK && count == THING_PAGE)
        err = export_page(e, type, arena, rows, hashes, &after_created, &after_id, &count);

    free(after_id);
    free(hashes);
    free(rows);
    arena_free(arena);
    return err;
}

/* ---- Sessions and admin tokens ---------------------------------------------------------- */

static err_t write_session(exporter_t *e, const unsigned char hash[32], const store_session_t *s)
{
    char hex[65];
    store__hex_encode(hash, hex);
    sbuf_t *sb = &e->line;
    sbuf_puts(sb, "{\"session\":{\"id\":");
    sbuf_put_json_string(sb, s->id, strlen(s->id));
    sbuf_puts(sb, ",\"user_id\":");
    sbuf_put_json_string(sb, s->user_id, strlen(s->user_id));
    sbuf_printf(sb,
                ",\"created_ms\":%lld,\"last_used_ms\":%lld,\"expires_ms\":%lld,"
                "\"idle_ms\":%lld,\"two_factor\":%s,\"revoked\":%s,\"token_hash\":\"%s\"",
                (long long)s->created_ms, (long long)s->last_used_ms, (long long)s->expires_ms,
                (long long)s->idle_ms, s->two_factor ? "true" : "false",
                s->revoked ? "true" : "false", hex);
    sbuf_puts(sb, ",\"client_address\":");
    sbuf_put_json_string(sb, s->client_address, strlen(s->client_address));
    sbuf_puts(sb, ",\"user_agent\":");
    sbuf_put_json_string(sb, s->user_agent, strlen(s->user_agent));
    sbuf_puts(sb, "}}");
    return finish_line(e, "a session");
}

static err_t export_sessions(exporter_t *e)
{
    unsigned char(*hashes)[32] = calloc(SESSION_PAGE, sizeof(*hashes));
    store_session_t *sessions = calloc(SESSION_PAGE, sizeof(*sessions));
    err_t err = hashes == NULL || sessions == NULL
                    ? fail(e, ERR_NOMEM, "out of memory reading sessions")
                    : ERR_OK;
    unsigned char after[32];
    size_t count = SESSION_PAGE;
    for (bool first = true; err == ERR_OK && count == SESSION_PAGE; first = false) {
        err = e->conn->store->backend->export_sessions(e->conn, first ? NULL : after, SESSION_PAGE,
                                                       hashes, sessions, &count);
        if (err != ERR_OK) {
            err = fail(e, err, "cannot read sessions (%s)", err_name(err));
            break;
        }
        for (size_t i = 0; i < count && err == ERR_OK; i++) {
            err = write_session(e, hashes[i], &sessions[i]);
            e->stats->sessions++;
        }
        if (count > 0)
            memcpy(after, hashes[count - 1], sizeof(after));
    }
    free(sessions);
    free(hashes);
    return err;
}

static err_t write_admin_token(exporter_t *e, const unsigned char hash[32],
                               const store_admin_token_t *t)
{
    char hex[65];
    store__hex_encode(hash, hex);
    sbuf_t *sb = &e->line;
    sbuf_puts(sb, "{\"admin_token\":{\"label\":");
    sbuf_put_json_string(sb, t->label, strlen(t->label));
    sbuf_printf(sb, ",\"token_hash\":\"%s\",\"created_ms\":%lld,\"last_used_ms\":%lld}}", hex,
                (long long)t->created_ms, (long long)t->last_used_ms);
    return finish_line(e, "an admin token");
}

static err_t export_admin_tokens(exporter_t *e)
{
    unsigned char hashes[ADMIN_TOKEN_PAGE][32];
    store_admin_token_t *tokens = calloc(ADMIN_TOKEN_PAGE, sizeof(*tokens));
    char *after = NULL;
    err_t err = tokens == NULL ? fail(e, ERR_NOMEM, "out of memory reading admin tokens") : ERR_OK;
    size_t count = ADMIN_TOKEN_PAGE;
    while (err == ERR_OK && count == ADMIN_TOKEN_PAGE) {
        err = e->conn->store->backend->export_admin_tokens(e->conn, after, ADMIN_TOKEN_PAGE, hashes,
                                                           tokens, &count);
        if (err != ERR_OK) {
            err = fail(e, err, "cannot read admin tokens (%s)", err_name(err));
            break;
        }
        for (size_t i = 0; i < count && err == ERR_OK; i++) {
            err = write_admin_token(e, hashes[i], &tokens[i]);
            e->stats->admin_tokens++;
        }
        if (err == ERR_OK && count > 0) {
            free(after);
            after = strdup(tokens[count - 1].label);
            if (after == NULL)
                err = fail(e, ERR_NOMEM, "out of memory reading admin tokens");
        }
    }
    free(after);
    free(tokens);
    return err;
}

/* ---- The audit log ---------------------------------------------------------------------- */

static void put_member(sbuf_t *sb, const char *key, const char *value)
{
    if (value[0] == '\0')
        return;
    sbuf_printf(sb, ",\"%s\":", key);
    sbuf_put_json_string(sb, value, strlen(value));
}

static err_t write_audit(exporter_t *e, const store_audit_t *row)
{
    sbuf_t *sb = &e->line;
    sbuf_printf(sb, "{\"audit\":{\"time_ms\":%lld,\"event\":", (long long)row->time_ms);
    sbuf_put_json_string(sb, row->event, strlen(row->event));
    put_member(sb, "user_id", row->user_id);
    put_member(sb, "admin_label", row->admin_label);
    put_member(sb, "client_address", row->client_address);
    put_member(sb, "user_agent", row->user_agent);
    put_member(sb, "session_id", row->session_id);
    put_member(sb, "detail", row->detail);
    sbuf_puts(sb, "}}");
    return finish_line(e, "an audit row");
}

static err_t export_audit(exporter_t *e)
{
    store_audit_t *rows = calloc(AUDIT_PAGE, sizeof(*rows));
    err_t err = rows == NULL ? fail(e, ERR_NOMEM, "out of memory reading the audit log") : ERR_OK;
    store_audit_query_t query = {.oldest_first = true, .limit = AUDIT_PAGE};
    size_t count = AUDIT_PAGE;
    while (err == ERR_OK && count == AUDIT_PAGE) {
        err = store_audit_list(e->conn, &query, rows, &count);
        if (err != ERR_OK) {
            err = fail(e, err, "cannot read the audit log (%s)", err_name(err));
            break;
        }
        for (size_t i = 0; i < count && err == ERR_OK; i++) {
            err = write_audit(e, &rows[i]);
            e->stats->audit++;
        }
        if (count > 0)
            query.after_id = rows[count - 1].id;
    }
    free(rows);
    return err;
}

/* ---- Two-factor state and scheduled runs ------------------------------------------------ */

static err_t write_two_factor(exporter_t *e, const char *user_id, const store_two_factor_t *tf)
{
    sbuf_t *sb = &e->line;
    sbuf_puts(sb, "{\"two_factor\":{\"user_id\":");
    sbuf_put_json_string(sb, user_id, strlen(user_id));
    sbuf_puts(sb, ",\"secret\":");
    sbuf_put_json_string(sb, tf->secret, strlen(tf->secret));
    sbuf_printf(sb, ",\"enabled\":%s,\"last_step\":%lld", tf->enabled ? "true" : "false",
                (long long)tf->last_step);
    if (tf->recovery_codes != NULL) {
        sbuf_puts(sb, ",\"recovery_codes\":");
        sbuf_put_json_string(sb, tf->recovery_codes, strlen(tf->recovery_codes));
    }
    sbuf_puts(sb, "}}");
    return finish_line(e, "a user's two-factor state");
}

/* Reads one page of two-factor state after *after (NULL = the first) and writes it. Sets *count
 * to the rows read and moves *after (malloc'd) to the last of them. */
static err_t export_two_factor_page(exporter_t *e, const app_type_t *users, arena_t *arena,
                                    char **ids, store_two_factor_t *states, char **after,
                                    size_t *count)
{
    arena_reset(arena);
    err_t err = e->conn->store->backend->export_two_factor(e->conn, users, *after,
                                                           TWO_FACTOR_PAGE, arena, ids, states,
                                                           count);
    if (err != ERR_OK)
        return fail(e, err, "cannot read two-factor state (%s)", err_name(err));
    for (size_t i = 0; i < *count && err == ERR_OK; i++) {
        err = write_two_factor(e, ids[i], &states[i]);
        e->stats->two_factor++;
    }
    if (err != ERR_OK || *count == 0)
        return err;
    free(*after);
    *after = strdup(ids[*count - 1]);
    return *after == NULL ? fail(e, ERR_NOMEM, "out of memory reading two-factor state") : ERR_OK;
}

static err_t export_two_factor(exporter_t *e)
{
    const app_type_t *users = &e->app->types[e->app->user_type];
    arena_t *arena = arena_new(64 << 10, PAGE_ARENA_MAX);
    char **ids = calloc(TWO_FACTOR_PAGE, sizeof(*ids));
    store_two_factor_t *states = calloc(TWO_FACTOR_PAGE, sizeof(*states));
    err_t err = arena == NULL || ids == NULL || states == NULL
                    ? fail(e, ERR_NOMEM, "out of memory reading two-factor state")
                    : ERR_OK;
    char *after = NULL;
    size_t count = TWO_FACTOR_PAGE;
    while (err == ERR_OK && count == TWO_FACTOR_PAGE)
        err = export_two_factor_page(e, users, arena, ids, states, &after, &count);
    free(after);
    free(states);
    free(ids);
    arena_free(arena);
    return err;
}

static err_t write_job(exporter_t *e, const store_job_t *job)
{
    sbuf_t *sb = &e->line;
    sbuf_puts(sb, "{\"job\":{\"id\":");
    sbuf_put_json_string(sb, job->id, strlen(job->id));
    sbuf_puts(sb, ",\"workflow\":");
    sbuf_put_json_string(sb, job->workflow, strlen(job->workflow));
    sbuf_printf(sb, ",\"run_at_ms\":%lld,\"params\":", (long long)job->run_at_ms);
    if (!put_raw_json(sb, job->params, strlen(job->params)))
        return fail(e, ERR_STORE, "scheduled run \"%s\": its stored parameters are not valid JSON",
                    job->id);
    sbuf_printf(sb, ",\"caller_kind\":%d,\"caller_id\":", job->caller_kind);
    sbuf_put_json_string(sb, job->caller_id, strlen(job->caller_id));
    sbuf_puts(sb, "}}");
    return finish_line(e, "a scheduled run");
}

static err_t export_jobs(exporter_t *e)
{
    arena_t *arena = arena_new(64 << 10, PAGE_ARENA_MAX);
    store_job_t *jobs = calloc(JOB_PAGE, sizeof(*jobs));
    err_t err = arena == NULL || jobs == NULL
                    ? fail(e, ERR_NOMEM, "out of memory reading scheduled runs")
                    : ERR_OK;
    char after[sizeof(jobs->id)] = "";
    size_t count = JOB_PAGE;
    while (err == ERR_OK && count == JOB_PAGE) {
        arena_reset(arena);
        err = e->conn->store->backend->export_jobs(e->conn, after[0] != '\0' ? after : NULL,
                                                   JOB_PAGE, arena, jobs, &count);
        if (err != ERR_OK) {
            err = fail(e, err, "cannot read scheduled runs (%s)", err_name(err));
            break;
        }
        for (size_t i = 0; i < count && err == ERR_OK; i++) {
            err = write_job(e, &jobs[i]);
            e->stats->jobs++;
        }
        if (count > 0)
            memcpy(after, jobs[count - 1].id, sizeof(after));
    }
    free(jobs);
    arena_free(arena);
    return err;
}

/* ---- The dump --------------------------------------------------------------------------- */

static err_t write_header(exporter_t *e)
{
    char now[32];
    clock_format_iso(clock_now_ms(), now);
    sbuf_puts(&e->line, "{\"froth_export\":1,\"app\":");
    sbuf_put_json_string(&e->line, e->app->name, strlen(e->app->name));
    sbuf_printf(&e->line, ",\"exported_at\":\"%s\"}", now);
    return finish_line(e, "the header");
}

static err_t write_end(exporter_t *e)
{
    sbuf_printf(&e->line,
                "{\"froth_export_end\":{\"things\":%zu,\"sessions\":%zu,"
                "\"admin_tokens\":%zu,\"two_factor\":%zu,\"jobs\":%zu,\"audit\":%zu}}",
                e->things, e->stats->sessions, e->stats->admin_tokens, e->stats->two_factor,
                e->stats->jobs, e->stats->audit);
    err_t err = finish_line(e, "the closing line");
    return err == ERR_OK ? flush(e) : err;
}

static err_t export_all(exporter_t *e)
{
    err_t err = write_header(e);
    for (size_t i = 0; i < e->app->ntypes && err == ERR_OK; i++)
        err = export_type(e, &e->app->types[i]);
    if (err == ERR_OK)
        err = export_sessions(e);
    if (err == ERR_OK)
        err = export_admin_tokens(e);
    if (err == ERR_OK)
        err = export_two_factor(e);
    if (err == ERR_OK)
        err = export_jobs(e);
    if (err == ERR_OK)
        err = export_audit(e);
    if (err == ERR_OK)
        err = write_end(e);
    return err;
}

err_t store_export(store_t *store, const app_t *app, int fd, store_dump_stats_t *stats,
                   char *errbuf, size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (store == NULL || app == NULL || stats == NULL || stats->things == NULL || fd < 0)
        return ERR_INVALID;
    const store__backend_t *backend = store->backend;
    if (backend->export_things == NULL || backend->export_sessions == NULL ||
        backend->export_admin_tokens == NULL || backend->export_two_factor == NULL ||
        backend->export_jobs == NULL) {
        snprintf(errbuf, errlen, "this store cannot export");
        return ERR_INTERNAL;
    }

    exporter_t e = {.app = app, .fd = fd, .stats = stats, .errbuf = errbuf, .errlen = errlen};
    sbuf_init(&e.line, STORE__DUMP_MAX_LINE);
    e.out = malloc(OUTPUT_BUFFER);
    err_t err = e.out == NULL ? ERR_NOMEM : store_acquire(store, &e.conn);
    if (err != ERR_OK) {
        snprintf(errbuf, errlen, "cannot start the export: %s", err_name(err));
        free(e.out);
        return err;
    }
    /* A read transaction sees one snapshot on both backends (WAL on SQLite, REPEATABLE READ on
     * PostgreSQL), so writes that land during the export are either wholly in it or not. */
    err = store_begin(e.conn, false);
    if (err != ERR_OK)
        snprintf(errbuf, errlen, "cannot start a read transaction: %s", err_name(err));
    else
        err = export_all(&e);
    store_rollback(e.conn);
    store_release(e.conn);
    sbuf_deinit(&e.line);
    free(e.out);
    return err;
}

/* The audit log: dispatch to the backend and the statements both backends run.
 *
 * Rows live in "_froth_audit", which the internal migration creates. This file checks rows and
 * queries; it does not decide what is recorded, which is the callers' business (auth/audit.c).
 */
#include <string.h>

#include "store/store_internal.h"

#define COLUMNS                                                                                    \
    "\"id\", \"time\", \"event\", \"user_id\", \"admin_label\", \"client_address\", "              \
    "\"user_agent\", \"session_id\", \"detail\""

static value_t text_or_null(const char *s)
{
    return s == NULL || s[0] == '\0' ? value_null() : value_text(s, strlen(s));
}

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

void store__sql_audit_insert(store__sql_t *q, const store_audit_t *row)
{
    store__sql_puts(q, "INSERT INTO \"_froth_audit\" (\"time\", \"event\", \"user_id\", "
                       "\"admin_label\", \"client_address\", \"user_agent\", \"session_id\", "
                       "\"detail\") VALUES (");
    store__sql_param(q, store__int_value(row->time_ms));
    const char *const texts[] = {row->event,          row->user_id,    row->admin_label,
                                 row->client_address, row->user_agent, row->session_id,
                                 row->detail};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        store__sql_puts(q, ", ");
        store__sql_param(q, text_or_null(texts[i]));
    }
    store__sql_puts(q, ")");
}

void store__sql_audit_list(store__sql_t *q, const store_audit_query_t *query)
{
    store__sql_puts(q, "SELECT " COLUMNS " FROM \"_froth_audit\" WHERE ");
    store__sql_puts(q, q->dialect->true_sql);
    if (query->user_id != NULL) {
        store__sql_puts(q, " AND \"user_id\" = ");
        store__sql_param(q, value_text(query->user_id, strlen(query->user_id)));
    }
    if (query->event != NULL) {
        store__sql_puts(q, " AND \"event\" = ");
        store__sql_param(q, value_text(query->event, strlen(query->event)));
    }
    if (query->since_ms != 0) {
        store__sql_puts(q, " AND \"time\" >= ");
        store__sql_param(q, store__int_value(query->since_ms));
    }
    if (query->oldest_first) {
        store__sql_puts(q, " AND \"id\" > ");
        store__sql_param(q, store__int_value(query->after_id));
        store__sql_puts(q, " ORDER BY \"id\" LIMIT ");
    } else {
        if (query->before_id > 0) {
            store__sql_puts(q, " AND \"id\" < ");
            store__sql_param(q, store__int_value(query->before_id));
        }
        store__sql_puts(q, " ORDER BY \"id\" DESC LIMIT ");
    }
    store__sql_param(q, store__int_value((int64_t)query->limit));
}

void store__sql_audit_prune(store__sql_t *q, int64_t before_ms)
{
    store__sql_puts(q, "DELETE FROM \"_froth_audit\" WHERE \"time\" < ");
    store__sql_param(q, store__int_value(before_ms));
}

err_t store_audit_insert(store_conn_t *conn, store_audit_t *row)
{
    if (conn == NULL || row == NULL || row->event[0] == '\0' ||
        !terminated(row->event, sizeof(row->event)) ||
        !terminated(row->user_id, sizeof(row->user_id)) ||
        !terminated(row->admin_label, sizeof(row->admin_label)) ||
        !terminated(row->client_address, sizeof(row->client_address)) ||
        !terminated(row->user_agent, sizeof(row->user_agent)) ||
        !terminated(row->session_id, sizeof(row->session_id)) ||
        !terminated(row->detail, sizeof(row->detail)))
        return ERR_INVALID;
    return conn->store->backend->audit_insert(conn, row);
}

err_t store_audit_list(store_conn_t *conn, const store_audit_query_t *query, store_audit_t *rows,
                       size_t *count)
{
    if (count != NULL)
        *count = 0;
    if (conn == NULL || query == NULL || rows == NULL || count == NULL || query->limit == 0 ||
        query->limit > STORE_AUDIT_PAGE_MAX)
        return ERR_INVALID;
    return conn->store->backend->audit_list(conn, query, rows, count);
}

err_t store_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count)
{
    if (count != NULL)
        *count = 0;
    if (conn == NULL || count == NULL)
        return ERR_INVALID;
    return conn->store->backend->audit_prune(conn, before_ms, count);
}

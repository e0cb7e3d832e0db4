/* PostgreSQL: the audit log's rows, with the statements that audit.c builds. */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

static void init_sql(store__sql_t *q)
{
    store__sql_init(q, &store__pg_dialect);
}

err_t store__pg_audit_insert(store_conn_t *conn, store_audit_t *row)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_insert(&q, row);
    store__sql_puts(&q, " RETURNING \"id\"");
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "insert audit row", &res);
    if (err == ERR_OK && PQntuples(res) != 1)
        err = ERR_STORE;
    if (err == ERR_OK)
        row->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

static err_t read_row(const PGresult *res, int r, store_audit_t *row)
{
    memset(row, 0, sizeof(*row));
    row->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
    row->time_ms = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    struct {
        char *out;
        size_t size;
    } const texts[] = {
        {row->event, sizeof(row->event)},
        {row->user_id, sizeof(row->user_id)},
        {row->admin_label, sizeof(row->admin_label)},
        {row->client_address, sizeof(row->client_address)},
        {row->user_agent, sizeof(row->user_agent)},
        {row->session_id, sizeof(row->session_id)},
        {row->detail, sizeof(row->detail)},
    };
    err_t err = ERR_OK;
    for (size_t i = 0; err == ERR_OK && i < sizeof(texts) / sizeof(texts[0]); i++)
        err = store__pg_copy_text(res, r, (int)i + 2, texts[i].out, texts[i].size);
    return err;
}

err_t store__pg_audit_list(store_conn_t *conn, const store_audit_query_t *query,
                           store_audit_t *rows, size_t *count)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_list(&q, query);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "list audit rows", &res);
    if (err == ERR_OK && (PQnfields(res) != 9 || (size_t)PQntuples(res) > query->limit))
        err = ERR_INTERNAL;
    const int n = err == ERR_OK ? PQntuples(res) : 0;
    for (int r = 0; err == ERR_OK && r < n; r++) {
        err = read_row(res, r, &rows[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

err_t store__pg_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count)
{
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_prune(&q, before_ms);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "prune audit rows", &res);
    if (err == ERR_OK)
        *count = store__pg_changes(res);
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

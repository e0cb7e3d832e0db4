/* SQLite: the audit log's rows, with the statements that audit.c builds. */
#include "store/sqlite_internal.h"

#include <string.h>

static void init_sql(store__sql_t *q)
{
    store__sql_init(q, &store__sqlite_dialect);
}

err_t store__sqlite_audit_insert(store_conn_t *conn, store_audit_t *row)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_insert(&q, row);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "insert audit row");
    if (err == ERR_OK)
        err = store__sqlite_run(c, stmt, "insert audit row");
    if (err == ERR_OK)
        row->id = (int64_t)sqlite3_last_insert_rowid(c->db);
    store__sql_deinit(&q);
    return err;
}

static err_t read_row(sqlite3_stmt *stmt, store_audit_t *row)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(stmt, 0);
    row->time_ms = sqlite3_column_int64(stmt, 1);
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
        err = store__sqlite_copy_text(stmt, (int)i + 2, texts[i].out, texts[i].size);
    return err;
}

err_t store__sqlite_audit_list(store_conn_t *conn, const store_audit_query_t *query,
                               store_audit_t *rows, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_list(&q, query);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "list audit rows");
    while (err == ERR_OK && *count < query->limit) {
        const int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            err = store__sqlite_fail(c, rc, "list audit rows");
            break;
        }
        err = read_row(stmt, &rows[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    if (stmt != NULL)
        store__sqlite_finish(c, stmt);
    store__sql_deinit(&q);
    return err;
}

err_t store__sqlite_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    store__sql_t q;
    init_sql(&q);
    store__sql_audit_prune(&q, before_ms);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "prune audit rows");
    if (err == ERR_OK)
        err = store__sqlite_run(c, stmt, "prune audit rows");
    if (err == ERR_OK)
        *count = (size_t)sqlite3_changes(c->db);
    store__sql_deinit(&q);
    return err;
}

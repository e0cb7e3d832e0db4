/* The two-factor store operations: dispatch to the backend and the statements both backends run.
 *
 * The state lives in hidden columns of the User type's table, which the migration adds and which
 * no select of fields reads, so the Data API never returns them. */
#include <string.h>

#include "store/store_internal.h"

static value_t text_or_null(const char *s)
{
    return s == NULL ? value_null() : value_text(s, strlen(s));
}

static void where_id(store__sql_t *q, const char *user_id)
{
    store__sql_puts(q, " WHERE \"_id\" = ");
    store__sql_param(q, text_or_null(user_id));
}

void store__sql_two_factor_get(store__sql_t *q, const app_type_t *user_type, const char *user_id)
{
    store__sql_puts(q, "SELECT \"_totp_secret\", \"_totp_enabled\", \"_totp_last_step\", "
                       "\"_recovery_codes\" FROM ");
    store__sql_ident(q, user_type->table);
    where_id(q, user_id);
}

void store__sql_two_factor_set(store__sql_t *q, const app_type_t *user_type, const char *user_id,
                               const store_two_factor_t *tf)
{
    store__sql_puts(q, "UPDATE ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " SET \"_totp_secret\" = ");
    store__sql_param(q, text_or_null(tf->secret));
    store__sql_puts(q, ", \"_totp_enabled\" = ");
    store__sql_param(q, value_bool(tf->enabled));
    store__sql_puts(q, ", \"_totp_last_step\" = ");
    store__sql_param(q, store__int_value(tf->last_step));
    store__sql_puts(q, ", \"_recovery_codes\" = ");
    store__sql_param(q, text_or_null(tf->recovery_codes));
    where_id(q, user_id);
}

/* The comparison in the WHERE clause is what makes a code single-use: of two transactions with
 * the same step, the second finds the row already at that step and changes nothing. */
void store__sql_two_factor_accept_step(store__sql_t *q, const app_type_t *user_type,
                                       const char *user_id, int64_t step)
{
    store__sql_puts(q, "UPDATE ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " SET \"_totp_last_step\" = ");
    store__sql_param(q, store__int_value(step));
    where_id(q, user_id);
    store__sql_puts(q, " AND COALESCE(\"_totp_last_step\", 0) < ");
    store__sql_param(q, store__int_value(step));
}

/* Sets column to value where it still is expected (IS, so NULL compares too). */
static void replace_column(store__sql_t *q, const app_type_t *user_type, const char *user_id,
                           const char *column, const char *expected, const char *value)
{
    store__sql_puts(q, "UPDATE ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " SET ");
    store__sql_ident(q, column);
    store__sql_puts(q, " = ");
    store__sql_param(q, text_or_null(value));
    where_id(q, user_id);
    store__sql_puts(q, " AND ");
    store__sql_ident(q, column);
    store__sql_puts(q, q->dialect->is_op);
    store__sql_param(q, text_or_null(expected));
}

void store__sql_two_factor_replace_codes(store__sql_t *q, const app_type_t *user_type,
                                         const char *user_id, const char *expected,
                                         const char *codes)
{
    replace_column(q, user_type, user_id, "_recovery_codes", expected, codes);
}

void store__sql_two_factor_replace_secret(store__sql_t *q, const app_type_t *user_type,
                                          const char *user_id, const char *expected,
                                          const char *secret)
{
    replace_column(q, user_type, user_id, "_totp_secret", expected, secret);
}

void store__sql_two_factor_export(store__sql_t *q, const app_type_t *user_type,
                                  const char *after_id, size_t limit)
{
    store__sql_puts(q, "SELECT \"_id\", \"_totp_secret\", \"_totp_enabled\", "
                       "\"_totp_last_step\", \"_recovery_codes\" FROM ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " WHERE \"_totp_secret\" IS NOT NULL");
    if (after_id != NULL) {
        store__sql_puts(q, " AND \"_id\" > ");
        store__sql_param(q, text_or_null(after_id));
    }
    store__sql_puts(q, " ORDER BY \"_id\" LIMIT ");
    store__sql_param(q, store__int_value((int64_t)limit));
}

err_t store_two_factor_get(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                           arena_t *arena, store_two_factor_t *out)
{
    if (conn == NULL || user_type == NULL || !user_type->is_user || user_id == NULL ||
        arena == NULL || out == NULL)
        return ERR_INVALID;
    memset(out, 0, sizeof(*out));
    return conn->store->backend->two_factor_get(conn, user_type, user_id, arena, out);
}

err_t store_two_factor_set(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                           const store_two_factor_t *tf)
{
    if (conn == NULL || user_type == NULL || !user_type->is_user || user_id == NULL || tf == NULL)
        return ERR_INVALID;
    return conn->store->backend->two_factor_set(conn, user_type, user_id, tf);
}

err_t store_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, int64_t step, bool *accepted)
{
    if (conn == NULL || user_type == NULL || !user_type->is_user || user_id == NULL ||
        accepted == NULL)
        return ERR_INVALID;
    *accepted = false;
    return conn->store->backend->two_factor_accept_step(conn, user_type, user_id, step, accepted);
}

err_t store_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                     const char *user_id, const char *expected, const char *codes,
                                     bool *replaced)
{
    if (conn == NULL || user_type == NULL || !user_type->is_user || user_id == NULL ||
        replaced == NULL)
        return ERR_INVALID;
    *replaced = false;
    return conn->store->backend->two_factor_replace_codes(conn, user_type, user_id, expected,
                                                          codes, replaced);
}

err_t store_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                      const char *user_id, const char *expected, const char *secret,
                                      bool *replaced)
{
    if (conn == NULL || user_type == NULL || !user_type->is_user || user_id == NULL ||
        replaced == NULL)
        return ERR_INVALID;
    *replaced = false;
    return conn->store->backend->two_factor_replace_secret(conn, user_type, user_id, expected,
                                                           secret, replaced);
}

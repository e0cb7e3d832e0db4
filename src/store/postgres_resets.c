/* PostgreSQL: password reset tokens (stored as SHA-256 only) and the outbox of emails to send. */
#include "store/postgres_internal.h"

#include <string.h>

static value_t hash_text(const unsigned char hash[32], char text[67])
{
    static const char digits[] = "0123456789abcdef";
    text[0] = '\\';
    text[1] = 'x';
    for (size_t i = 0; i < 32; i++) {
        text[2 + 2 * i] = digits[hash[i] >> 4];
        text[3 + 2 * i] = digits[hash[i] & 0xf];
    }
    text[66] = '\0';
    return value_text(text, 66);
}

static err_t run(store_conn_t *conn, const char *sql, const value_t *params, size_t n,
                 const char *op, PGresult **res)
{
    return store__pg_query(store__pg_conn(conn), sql, strlen(sql), params, n, op, res);
}

err_t store__pg_reset_insert(store_conn_t *conn, const unsigned char hash[32],
                             const char *user_id, int64_t expires_ms)
{
    static const char sql[] = "INSERT INTO \"_froth_password_resets\" (\"token_hash\", "
                              "\"user_id\", \"expires\") VALUES ($1::bytea, $2, $3::bigint)";
    char text[67];
    const value_t params[] = {hash_text(hash, text), value_text(user_id, strlen(user_id)),
                              value_date(expires_ms)};
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, 3, "insert password reset", &res);
    PQclear(res);
    return err;
}

err_t store__pg_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                           char user_id[40])
{
    static const char sql[] = "UPDATE \"_froth_password_resets\" SET \"used\" = TRUE "
                              "WHERE \"token_hash\" = $1::bytea AND NOT \"used\" "
                              "AND \"expires\" > $2::bigint RETURNING \"user_id\"";
    char text[67];
    const value_t params[] = {hash_text(hash, text), value_date(now_ms)};
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, 2, "use password reset", &res);
    if (err == ERR_OK && PQntuples(res) != 1)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK) {
        size_t n = (size_t)PQgetlength(res, 0, 0);
        if (n >= 40) {
            err = ERR_STORE;
        } else {
            memcpy(user_id, PQgetvalue(res, 0, 0), n);
            user_id[n] = '\0';
        }
    }
    PQclear(res);
    return err;
}

err_t store__pg_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                              const char *body, int64_t now_ms)
{
    static const char sql[] = "INSERT INTO \"_froth_outbox\" (\"recipient\", \"subject\", "
                              "\"body\", \"created\") VALUES ($1, $2, $3, $4::bigint)";
    const value_t params[] = {value_text(recipient, strlen(recipient)),
                              value_text(subject, strlen(subject)),
                              value_text(body, strlen(body)), value_date(now_ms)};
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, 4, "queue email", &res);
    PQclear(res);
    return err;
}

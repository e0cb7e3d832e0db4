/* The audit log: what froth records about sign-ins, sessions, passwords, two-factor changes and
 * admin tokens, in the store's "_froth_audit" table.
 *
 * This file only shapes and writes rows. Which events exist, and when each is written, is decided
 * where the change happens (the workflow runner, the sessions API, the admin-token command).
 */
#include "auth/auth.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

void auth_origin_copy(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (; text != NULL && text[n] != '\0' && n + 1 < size; n++) {
        const unsigned char c = (unsigned char)text[n];
        out[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

static void copy(const char *text, char *out, size_t size)
{
    snprintf(out, size, "%s", text == NULL ? "" : text);
}

err_t auth_audit(store_conn_t *conn, const auth_audit_t *entry, int64_t now_ms)
{
    store_audit_t row;
    memset(&row, 0, sizeof(row));
    row.time_ms = now_ms;
    copy(entry->event, row.event, sizeof(row.event));
    copy(entry->user_id, row.user_id, sizeof(row.user_id));
    copy(entry->admin_label, row.admin_label, sizeof(row.admin_label));
    copy(entry->session_id, row.session_id, sizeof(row.session_id));
    copy(entry->detail, row.detail, sizeof(row.detail));
    if (entry->origin != NULL) {
        auth_origin_copy(entry->origin->client_address, row.client_address,
                         sizeof(row.client_address));
        auth_origin_copy(entry->origin->user_agent, row.user_agent, sizeof(row.user_agent));
    }
    err_t err = store_audit_insert(conn, &row);
    if (err != ERR_OK)
        LOG_ERROR("audit row not written", "event=%s err=%s", row.event, err_name(err));
    return err;
}

void auth_audit_or_log(store_conn_t *conn, const auth_audit_t *entry, int64_t now_ms)
{
    err_t err = auth_audit(conn, entry, now_ms);
    (void)err; /* auth_audit has logged the failure */
}

/* froth admin-token: create, list, revoke and regenerate admin API tokens. */
#include <getopt.h>
#include <sodium.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/clock.h"

static void usage_admin_token(FILE *f)
{
    fputs("usage: froth admin-token create --label NAME [--db URL]\n"
          "       froth admin-token list [--db URL]\n"
          "       froth admin-token revoke NAME [--db URL]\n"
          "       froth admin-token regenerate NAME [--db URL]\n"
          "\n"
          "create prints a new admin API token once; only its hash is stored. regenerate\n"
          "replaces a token under the same label and prints the new one once. Admin tokens\n"
          "bypass privacy rules but reach only exposed types and workflows. Each change is\n"
          "written to the audit log (froth audit). --db defaults to env FROTH_DB, then\n"
          "sqlite:froth.db.\n",
          f);
}

/* Records a change to an admin token made by this command in the audit log. */
static err_t audit(store_conn_t *conn, const char *event, const char *label)
{
    const auth_audit_t entry = {.event = event, .admin_label = label, .detail = "source=cli"};
    return auth_audit(conn, &entry, clock_now_ms());
}

/* Creates the token and its audit row in one transaction. */
static err_t create_audited(store_conn_t *conn, const char *label, char token[AUTH_TOKEN_SIZE])
{
    err_t err = store_begin(conn, true);
    if (err != ERR_OK)
        return err;
    err = auth_admin_token_create(conn, label, clock_now_ms(), token);
    if (err == ERR_OK)
        err = audit(conn, "admin_token.created", label);
    if (err == ERR_OK)
        err = store_commit(conn);
    else
        store_rollback(conn);
    if (err != ERR_OK)
        sodium_memzero(token, AUTH_TOKEN_SIZE);
    return err;
}

static int admin_create(store_conn_t *conn, const char *label)
{
    if (label == NULL || label[0] == '\0' || strlen(label) > 100) {
        fprintf(stderr, "froth: admin-token create needs --label NAME (1 to 100 characters)\n");
        return 2;
    }
    for (const char *p = label; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "froth: invalid label: control characters such as line breaks are "
                            "not allowed\n");
            return 2;
        }
    }
    char token[AUTH_TOKEN_SIZE];
    err_t err = create_audited(conn, label, token);
    if (err == ERR_CONFLICT) {
        fprintf(stderr, "froth: an admin token labelled \"%s\" already exists; revoke it first\n",
                label);
        return 1;
    }
    if (err != ERR_OK) {
        fprintf(stderr, "froth: cannot create the admin token: %s\n", err_name(err));
        return 1;
    }
    fprintf(stderr, "admin token \"%s\" created; it is shown only once:\n", label);
    printf("%s\n", token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

static int admin_list(store_conn_t *conn)
{
    arena_t *arena = arena_new(4096, 64 << 20);
    store_admin_token_t *tokens;
    size_t n;
    err_t err = arena == NULL ? ERR_NOMEM : store_admin_token_list(conn, arena, &tokens, &n);
    if (err != ERR_OK) {
        fprintf(stderr, "froth: cannot list admin tokens: %s\n", err_name(err));
        arena_free(arena);
        return 1;
    }
    printf("%-32s  %-24s  %s\n", "LABEL", "CREATED", "LAST USED");
    for (size_t i = 0; i < n; i++) {
        char created[32], used[32] = "never";
        clock_format_iso(tokens[i].created_ms, created);
        if (tokens[i].last_used_ms > 0)
            clock_format_iso(tokens[i].last_used_ms, used);
        printf("%-32s  %-24s  %s\n", tokens[i].label, created, used);
    }
    arena_free(arena);
    return 0;
}

static int admin_revoke(store_conn_t *conn, const char *label)
{
    err_t err = store_begin(conn, true);
    if (err == ERR_OK)
        err = store_admin_token_revoke(conn, label);
    if (err == ERR_OK)
        err = audit(conn, "admin_token.revoked", label);
    if (err == ERR_OK)
        err = store_commit(conn);
    else
        store_rollback(conn);
    if (err == ERR_NOT_FOUND) {
        fprintf(stderr, "froth: no admin token is labelled \"%s\"; see froth admin-token list\n",
                label);
        return 1;
    }
    if (err != ERR_OK) {
        fprintf(stderr, "froth: cannot revoke the admin token: %s\n", err_name(err));
        return 1;
    }
    printf("admin token \"%s\" revoked\n", label);
    return 0;
}

/* Replaces a token under the same label, in one transaction: the old token stops working when the
 * new one is stored, and every node drops the old one from its cache. */
static int admin_regenerate(store_conn_t *conn, const char *label)
{
    err_t err = store_begin(conn, true);
    if (err == ERR_OK)
        err = store_admin_token_revoke(conn, label);
    char token[AUTH_TOKEN_SIZE];
    if (err == ERR_OK)
        err = auth_admin_token_create(conn, label, clock_now_ms(), token);
    if (err == ERR_OK)
        err = audit(conn, "admin_token.regenerated", label);
    if (err == ERR_OK)
        err = store_commit(conn);
    else
        store_rollback(conn);
    if (err == ERR_NOT_FOUND) {
        fprintf(stderr, "froth: no admin token is labelled \"%s\"; see froth admin-token list\n",
                label);
        return 1;
    }
    if (err != ERR_OK) {
        sodium_memzero(token, sizeof(token));
        fprintf(stderr, "froth: cannot regenerate the admin token: %s\n", err_name(err));
        return 1;
    }
    fprintf(stderr,
            "admin token \"%s\" regenerated; the old one no longer works and the new one "
            "is shown only once:\n",
            label);
    printf("%s\n", token);
    sodium_memzero(token, sizeof(token));
    return 0;
}

int cmd_admin_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_admin_token(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    options_t o;
    int rc = cli_parse_options(argc - 1, argv + 1, &o, usage_admin_token);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    const char *name = optind < argc - 1 ? argv[1 + optind] : NULL;
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0 &&
        strcmp(sub, "regenerate") != 0) {
        fprintf(stderr, "froth: unknown admin-token command \"%s\"\n", sub);
        usage_admin_token(stderr);
        return 2;
    }
    if ((strcmp(sub, "revoke") == 0 || strcmp(sub, "regenerate") == 0) && name == NULL) {
        fprintf(stderr, "froth: admin-token %s needs the label of the token\n", sub);
        return 2;
    }
    if (auth_init(1) != ERR_OK) {
        fprintf(stderr, "froth: cannot initialise the crypto library\n");
        return 1;
    }
    /* A mistyped path must not quietly create an empty database that lists no tokens. */
    if (strncmp(o.db_url, "sqlite:", 7) == 0 && strcmp(o.db_url, "sqlite::memory:") != 0 &&
        access(o.db_url + 7, F_OK) != 0) {
        fprintf(stderr,
                "froth: database %s does not exist; start froth serve or run froth "
                "migrate with this --db first\n",
                o.db_url + 0);
        return 1;
    }
    store_t *store;
    if (cli_open_store(o.db_url, &store) != 0)
        return 1;
    char msg[512] = "";
    store_conn_t *conn = NULL;
    err_t err = store_migrate_internal(store, msg, sizeof(msg));
    if (err == ERR_OK)
        err = store_acquire(store, &conn);
    if (err != ERR_OK) {
        fprintf(stderr, "froth: cannot prepare the database: %s\n", msg[0] ? msg : err_name(err));
        store_close(store);
        return 1;
    }
    if (strcmp(sub, "create") == 0)
        rc = admin_create(conn, o.label);
    else if (strcmp(sub, "list") == 0)
        rc = admin_list(conn);
    else if (strcmp(sub, "regenerate") == 0)
        rc = admin_regenerate(conn, name);
    else
        rc = admin_revoke(conn, name);
    store_release(conn);
    store_close(store);
    return rc;
}

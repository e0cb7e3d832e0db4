/* froth audit: prints the audit log of a database, newest rows first. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/clock.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 100000

static void usage_audit(FILE *f)
{
    fputs("usage: froth audit [--db URL] [--user ID] [--event NAME] [--since DATE] [--limit N]\n"
          "\n"
          "Prints the audit log, newest first, one row a line: time, event, user id, admin token\n"
          "label, client address, session id, detail and User-Agent, with \"-\" for an empty\n"
          "column. Rows hold no tokens, passwords, codes or secrets.\n"
          "  --db URL       database, sqlite:PATH or postgres://USER@HOST:PORT/DBNAME\n"
          "                 (env FROTH_DB; default sqlite:froth.db)\n"
          "  --user ID      only rows of this user id\n"
          "  --event NAME   only rows of this event, such as login.failed\n"
          "  --since DATE   only rows at or after this ISO 8601 date or epoch milliseconds\n"
          "  --limit N      print at most N rows, 1 to 100000 (default 100)\n",
          f);
}

typedef struct {
    const char *db_url;
    store_audit_query_t query;
    size_t limit;
} audit_options_t;

/* Parses the command's flags. Returns 0 to go on, 1 after --help, 2 on an error it printed. */
static int parse_audit_options(int argc, char **argv, audit_options_t *o)
{
    static const struct option options[] = {
        {"db", required_argument, NULL, 'd'},
        {"user", required_argument, NULL, 'u'},
        {"event", required_argument, NULL, 'e'},
        {"since", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->db_url = cli_env_or("FROTH_DB", DEFAULT_DB);
    o->limit = LIMIT_DEFAULT;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'd':
            o->db_url = optarg;
            break;
        case 'u':
            o->query.user_id = optarg;
            break;
        case 'e':
            o->query.event = optarg;
            break;
        case 's':
            if (clock_parse_date(optarg, strlen(optarg), NULL, &o->query.since_ms) != ERR_OK) {
                fprintf(stderr,
                        "froth: invalid --since \"%s\": expected an ISO 8601 date or "
                        "epoch milliseconds\n",
                        optarg);
                return 2;
            }
            break;
        case 'l': {
            const long long v = strtoll(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' || v < 1 || v > LIMIT_MAX) {
                fprintf(stderr, "froth: invalid --limit \"%s\": expected 1 to %d\n", optarg,
                        LIMIT_MAX);
                return 2;
            }
            o->limit = (size_t)v;
            break;
        }
        case 'h':
            usage_audit(stdout);
            return 1;
        default:
            fprintf(stderr, "froth: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
            usage_audit(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "froth: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    return 0;
}

static const char *or_dash(const char *s)
{
    return s[0] == '\0' ? "-" : s;
}

static void print_row(const store_audit_t *row)
{
    char time[32];
    clock_format_iso(row->time_ms, time);
    printf("%s  %-30s  %-32s  %-16s  %-15s  %-32s  %s  %s\n", time, row->event,
           or_dash(row->user_id), or_dash(row->admin_label), or_dash(row->client_address),
           or_dash(row->session_id), or_dash(row->detail), or_dash(row->user_agent));
}

/* Prints up to o->limit rows in pages, each page starting below the last id printed. */
static err_t print_rows(store_conn_t *conn, audit_options_t *o)
{
    store_audit_t *rows = calloc(STORE_AUDIT_PAGE_MAX, sizeof(*rows));
    if (rows == NULL)
        return ERR_NOMEM;
    err_t err = ERR_OK;
    size_t printed = 0;
    for (;;) {
        const size_t want = o->limit - printed;
        o->query.limit = want < STORE_AUDIT_PAGE_MAX ? want : STORE_AUDIT_PAGE_MAX;
        size_t n = 0;
        err = store_audit_list(conn, &o->query, rows, &n);
        if (err != ERR_OK)
            break;
        for (size_t i = 0; i < n; i++)
            print_row(&rows[i]);
        printed += n;
        if (n < o->query.limit || printed >= o->limit)
            break;
        o->query.before_id = rows[n - 1].id;
    }
    free(rows);
    return err;
}

int cmd_audit(int argc, char **argv)
{
    audit_options_t o;
    int rc = parse_audit_options(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    /* A mistyped path must not quietly create an empty database with an empty log. */
    if (strncmp(o.db_url, "sqlite:", 7) == 0 && access(o.db_url + 7, F_OK) != 0) {
        fprintf(stderr, "froth: database %s does not exist\n", o.db_url);
        return 1;
    }
    store_t *store;
    if (cli_open_store(o.db_url, &store) != 0)
        return 1;
    char msg[512] = "";
    store_conn_t *conn = NULL;
    /* Creates the audit table in a database written by an older froth, which has no rows. */
    err_t err = store_migrate_internal(store, msg, sizeof(msg));
    if (err == ERR_OK)
        err = store_acquire(store, &conn);
    if (err == ERR_OK) {
        printf("%-24s  %-30s  %-32s  %-16s  %-15s  %-32s  %s  %s\n", "TIME", "EVENT", "USER",
               "ADMIN TOKEN", "ADDRESS", "SESSION", "DETAIL", "USER AGENT");
        err = print_rows(conn, &o);
        store_release(conn);
    }
    store_close(store);
    if (err != ERR_OK) {
        fprintf(stderr, "froth: cannot read the audit log: %s\n", msg[0] ? msg : err_name(err));
        return 1;
    }
    return 0;
}

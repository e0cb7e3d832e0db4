/* froth explain: the privacy rule report of GET /_froth/explain, printed without a server. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cli.h"
#include "core/clock.h"

static void usage_explain(FILE *f)
{
    fputs("usage: froth explain --type TYPE [--user ID] [--id ID] [--app FILE] [--db URL]\n"
          "\n"
          "Prints, as JSON, which privacy rules of TYPE apply to a caller and what they grant:\n"
          "each rule's condition as the SQL a search runs (values shown as placeholders) and,\n"
          "with --id, which rules match that thing and the caller's permissions on it. The same\n"
          "report as GET /_froth/explain; docs/api.md describes its fields.\n"
          "  --type TYPE  the type, by name as in app.json or as in /obj/<type>\n"
          "  --user ID    the caller, a user's _id (default: an anonymous caller)\n"
          "  --id ID      a thing of TYPE to explain the rules on\n"
          "  --app FILE   app definition (env FROTH_APP; default app.json)\n"
          "  --db URL     database, sqlite:PATH or postgres://USER@HOST:PORT/DBNAME\n"
          "               (env FROTH_DB; default sqlite:froth.db)\n",
          f);
}

typedef struct {
    const char *app_path;
    const char *db_url;
    api_explain_request_t req;
} explain_options_t;

enum { EXPLAIN_APP = 3000, EXPLAIN_DB, EXPLAIN_TYPE, EXPLAIN_USER, EXPLAIN_ID, EXPLAIN_HELP };

/* Returns 0 to go on, 1 when help was printed, 2 on error. */
static int parse_explain_options(int argc, char **argv, explain_options_t *o)
{
    static const struct option options[] = {
        {"app", required_argument, NULL, EXPLAIN_APP},
        {"db", required_argument, NULL, EXPLAIN_DB},
        {"type", required_argument, NULL, EXPLAIN_TYPE},
        {"user", required_argument, NULL, EXPLAIN_USER},
        {"id", required_argument, NULL, EXPLAIN_ID},
        {"help", no_argument, NULL, EXPLAIN_HELP},
        {NULL, 0, NULL, 0},
    };
    *o = (explain_options_t){.app_path = cli_env_or("FROTH_APP", DEFAULT_APP),
                             .db_url = cli_env_or("FROTH_DB", DEFAULT_DB)};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'h' || opt == EXPLAIN_HELP) {
            usage_explain(stdout);
            return 1;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "froth: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
            usage_explain(stderr);
            return 2;
        }
        if (opt == EXPLAIN_APP)
            o->app_path = optarg;
        else if (opt == EXPLAIN_DB)
            o->db_url = optarg;
        else if (opt == EXPLAIN_TYPE)
            o->req.type = optarg;
        else if (opt == EXPLAIN_USER)
            o->req.user_id = optarg;
        else
            o->req.thing_id = optarg;
    }
    if (optind < argc) {
        fprintf(stderr, "froth: unexpected argument \"%s\"\n", argv[optind]);
        usage_explain(stderr);
        return 2;
    }
    if (o->req.type == NULL) {
        fprintf(stderr, "froth: explain needs --type TYPE\n");
        usage_explain(stderr);
        return 2;
    }
    return 0;
}

static int run_explain(const explain_options_t *o, const app_t *app, store_t *store)
{
    store_conn_t *conn = NULL;
    arena_t *arena = arena_new(64 << 10, 256 << 20);
    sbuf_t out;
    sbuf_init(&out, 64 << 20);
    char why[512] = "";
    err_t err = arena == NULL ? ERR_NOMEM : store_acquire(store, &conn);
    if (err == ERR_OK)
        err = api_explain(app, conn, arena, clock_now_ms(), &o->req, &out, why, sizeof(why));
    if (err == ERR_OK)
        printf("%s\n", sbuf_cstr(&out));
    else
        fprintf(stderr, "froth: explain failed: %s\n", why[0] ? why : err_name(err));
    if (conn != NULL)
        store_release(conn);
    sbuf_deinit(&out);
    arena_free(arena);
    return err == ERR_OK ? 0 : 1;
}

int cmd_explain(int argc, char **argv)
{
    explain_options_t o;
    int rc = parse_explain_options(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    app_t *app;
    if (cli_load_app(o.app_path, &app) != 0)
        return 1;
    if (strncmp(o.db_url, "sqlite:", 7) == 0 && access(o.db_url + 7, F_OK) != 0) {
        fprintf(stderr, "froth: database %s does not exist\n", o.db_url);
        app_free(app);
        return 1;
    }
    store_t *store;
    if (cli_open_store(o.db_url, &store) != 0) {
        app_free(app);
        return 1;
    }
    rc = run_explain(&o, app, store);
    store_close(store);
    app_free(app);
    return rc;
}

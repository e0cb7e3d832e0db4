/* froth export and froth import: the whole app's data as one dump, in and out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage_export(FILE *f)
{
    fputs("usage: froth export [--app FILE] [--db URL] [--out FILE]\n"
          "\n"
          "Writes all of the app's data to one dump: every thing of every type with its built-in\n"
          "fields, users' emails and password hashes, sessions and admin token hashes, users'\n"
          "two-factor state, the scheduled workflow runs that have not finished, and the audit\n"
          "log, one JSON object per line. froth import loads it into another database, SQLite or\n"
          "PostgreSQL. The dump is read from one snapshot, so servers may keep running. It holds\n"
          "password and token hashes and encrypted TOTP secrets: keep it private. The database it\n"
          "goes to must be served with the same --secret-key-file. Prints a count per type to\n"
          "stderr.\n"
          "  --app FILE   app definition (env FROTH_APP; default app.json)\n"
          "  --db URL     database to read, sqlite:PATH or postgres://USER@HOST:PORT/DBNAME\n"
          "               (env FROTH_DB; default sqlite:froth.db)\n"
          "  --out FILE   write the dump to FILE, created readable by its owner only, and\n"
          "               deleted again if the export fails (default: standard output)\n",
          f);
}

static void usage_import(FILE *f)
{
    fputs("usage: froth import [--app FILE] [--db URL] [--in FILE] [--force]\n"
          "\n"
          "Creates the app's schema as migrate does, then inserts everything in a dump written\n"
          "by froth export, in one transaction: on any error nothing is imported, and the\n"
          "message names the line. Users keep their passwords, and issued user and admin\n"
          "tokens keep working. Prints a count per type to stderr.\n"
          "  --app FILE   app definition (env FROTH_APP; default app.json)\n"
          "  --db URL     database to fill, sqlite:PATH or postgres://USER@HOST:PORT/DBNAME\n"
          "               (env FROTH_DB; default sqlite:froth.db)\n"
          "  --in FILE    read the dump from FILE (default: standard input)\n"
          "  --force      import even though the database already holds things of the app;\n"
          "               a thing, email, session or admin token label that is already there\n"
          "               still fails the import, because nothing is ever overwritten\n",
          f);
}

typedef struct {
    const char *app_path;
    const char *db_url;
    const char *file; /* --out or --in; NULL = standard output or input */
    bool force;
} dump_options_t;

enum { DUMP_APP = 2000, DUMP_DB, DUMP_OUT, DUMP_IN, DUMP_FORCE, DUMP_HELP };

/* Parses the flags of export (importing = false) or import. Returns 0 to go on, 1 when help
 * was printed, 2 on error. */
static int parse_dump_options(int argc, char **argv, bool importing, dump_options_t *o)
{
    static const struct option options[] = {
        {"app", required_argument, NULL, DUMP_APP},
        {"db", required_argument, NULL, DUMP_DB},
        {"out", required_argument, NULL, DUMP_OUT},
        {"in", required_argument, NULL, DUMP_IN},
        {"force", no_argument, NULL, DUMP_FORCE},
        {"help", no_argument, NULL, DUMP_HELP},
        {NULL, 0, NULL, 0},
    };
    void (*help)(FILE *) = importing ? usage_import : usage_export;
    *o = (dump_options_t){cli_env_or("FROTH_APP", DEFAULT_APP), cli_env_or("FROTH_DB", DEFAULT_DB),
                          NULL, false};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        const bool wrong_command =
            (opt == DUMP_OUT && importing) || ((opt == DUMP_IN || opt == DUMP_FORCE) && !importing);
        if (opt == 'h' || opt == DUMP_HELP) {
            help(stdout);
            return 1;
        }
        if (opt == '?' || opt == ':' || wrong_command) {
            fprintf(stderr, "froth: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
            help(stderr);
            return 2;
        }
        if (opt == DUMP_APP)
            o->app_path = optarg;
        else if (opt == DUMP_DB)
            o->db_url = optarg;
        else if (opt == DUMP_OUT || opt == DUMP_IN)
            o->file = optarg;
        else
            o->force = true;
    }
    if (optind < argc) {
        fprintf(stderr, "froth: unexpected argument \"%s\"\n", argv[optind]);
        help(stderr);
        return 2;
    }
    return 0;
}

static void print_dump_summary(const char *what, const char *url, const app_t *app,
                               const store_dump_stats_t *stats)
{
    char shown[512];
    store_redact_url(url, shown, sizeof(shown));
    fprintf(stderr, "%s %s (app \"%s\"):\n", what, shown, app->name);
    for (size_t i = 0; i < app->ntypes; i++)
        fprintf(stderr, "  %s: %zu\n", app->types[i].name, stats->things[i]);
    fprintf(stderr, "  sessions: %zu\n  admin tokens: %zu\n  audit rows: %zu\n", stats->sessions,
            stats->admin_tokens, stats->audit);
    fprintf(stderr, "  users with two-factor state: %zu\n  scheduled runs: %zu\n",
            stats->two_factor, stats->jobs);
}

/* Opens the store for export. A mistyped SQLite path must not quietly create an empty database
 * and export nothing from it. */
static int open_store_to_read(const char *url, store_t **store)
{
    if (strncmp(url, "sqlite:", 7) == 0 && access(url + 7, F_OK) != 0) {
        fprintf(stderr, "froth: database %s does not exist\n", url);
        return 1;
    }
    return cli_open_store(url, store);
}

static int run_export(const dump_options_t *o, const app_t *app, store_t *store, int fd)
{
    store_dump_stats_t stats = {.things = calloc(app->ntypes + 1, sizeof(size_t))};
    if (stats.things == NULL) {
        fprintf(stderr, "froth: out of memory\n");
        return 1;
    }
    char msg[512] = "";
    err_t err = store_export(store, app, fd, &stats, msg, sizeof(msg));
    if (err != ERR_OK)
        fprintf(stderr, "froth: export failed: %s\n", msg[0] ? msg : err_name(err));
    else
        print_dump_summary("exported from", o->db_url, app, &stats);
    free(stats.things);
    return err == ERR_OK ? 0 : 1;
}

int cmd_export(int argc, char **argv)
{
    dump_options_t o;
    int rc = parse_dump_options(argc, argv, false, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    app_t *app;
    if (cli_load_app(o.app_path, &app) != 0)
        return 1;
    store_t *store;
    if (open_store_to_read(o.db_url, &store) != 0) {
        app_free(app);
        return 1;
    }
    int fd = STDOUT_FILENO;
    if (o.file != NULL)
        fd = open(o.file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "froth: cannot create %s: %s\n", o.file, strerror(errno));
        rc = 1;
    } else {
        rc = run_export(&o, app, store, fd);
    }
    if (o.file != NULL && fd >= 0 && close(fd) != 0 && rc == 0) {
        fprintf(stderr, "froth: cannot write %s: %s\n", o.file, strerror(errno));
        rc = 1;
    }
    /* A partial dump has no closing line, so import would reject it anyway. */
    if (o.file != NULL && fd >= 0 && rc != 0)
        unlink(o.file);
    store_close(store);
    app_free(app);
    return rc;
}

static int run_import(const dump_options_t *o, const app_t *app, store_t *store, int fd)
{
    store_dump_stats_t stats = {.things = calloc(app->ntypes + 1, sizeof(size_t))};
    if (stats.things == NULL) {
        fprintf(stderr, "froth: out of memory\n");
        return 1;
    }
    char msg[512] = "";
    err_t err = store_import(store, app, fd, o->force, &stats, msg, sizeof(msg));
    if (stats.other_app)
        fprintf(stderr, "froth: warning: the dump was exported from app \"%s\", not \"%s\"\n",
                stats.dump_app, app->name);
    if (err != ERR_OK)
        fprintf(stderr, "froth: import failed, nothing was imported: %s\n",
                msg[0] ? msg : err_name(err));
    else
        print_dump_summary("imported into", o->db_url, app, &stats);
    free(stats.things);
    return err == ERR_OK ? 0 : 1;
}

int cmd_import(int argc, char **argv)
{
    dump_options_t o;
    int rc = parse_dump_options(argc, argv, true, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    int fd = o.file == NULL ? STDIN_FILENO : open(o.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "froth: cannot open %s: %s\n", o.file, strerror(errno));
        return 1;
    }
    app_t *app = NULL;
    store_t *store = NULL;
    rc = 1;
    if (cli_load_app(o.app_path, &app) == 0 && cli_open_store(o.db_url, &store) == 0 &&
        cli_migrate_store(store, app, o.db_url))
        rc = run_import(&o, app, store, fd);
    if (store != NULL)
        store_close(store);
    app_free(app);
    if (o.file != NULL)
        close(fd);
    return rc;
}

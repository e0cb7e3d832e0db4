/* What the command-line files share: the serve options, their parser, and loading the app and
 * the store. */
#ifndef FROTH_CLI_H
#define FROTH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "app/app.h"
#include "auth/auth.h"
#include "core/log.h"
#include "http/http.h"
#include "store/store.h"

#define DEFAULT_DB "sqlite:froth.db"
#define DEFAULT_APP "app.json"

typedef struct {
    const char *app_path;
    const char *db_url;
    const char *test_db_url; /* NULL = no version-test database */
    const char *cors;        /* comma-separated allowed origins, or NULL */
    const char *files_dir;   /* uploaded files */
    size_t max_file_bytes;
    const char *public_url; /* base of file URLs, or NULL for the request's Host */
    const char *label;
    http_config_t http;
    log_level_t log_level;
    bool log_json;
    unsigned drain_ms;
    auth_throttle_config_t throttle;
    unsigned scheduler_poll_ms;
    unsigned idle_days;
    const char *trusted_proxies;
    const char *secret_key_file; /* NULL = beside a SQLite database, none on PostgreSQL */
} options_t;

/* The value of the environment variable name, or fallback when it is unset or empty. */
const char *cli_env_or(const char *name, const char *fallback);
/* Parses flags and FROTH_* variables into o. Returns 0 to go on, 1 after --help, 2 on an error,
 * which it has printed. */
int cli_parse_options(int argc, char **argv, options_t *o, void (*help)(FILE *));
/* Each returns 0 on success and 1 after printing why it failed. */
int cli_load_app(const char *path, app_t **app);
int cli_open_store(const char *url, store_t **store);
bool cli_migrate_store(store_t *store, const app_t *app, const char *url);

int cmd_admin_token(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

#endif

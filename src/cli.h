/* Declarations shared by the command-line files: the serve options, their parser, and loading of
 * the app and the store. */
#ifndef FROTH_CLI_H
#define FROTH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "app/app.h"
#include "auth/auth.h"
#include "core/log.h"
#include "http/http.h"
#include "mail/mail.h"
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
    unsigned audit_days;
    const char *trusted_proxies;
    /* The SMTP relay; without smtp_url, emails stay in the outbox. */
    const char *smtp_url;
    const char *smtp_user;
    const char *smtp_password_file;
    const char *smtp_from; /* "address" or "Name <address>"; NULL = the app's email.from */
    mail_starttls_t smtp_starttls;
    unsigned smtp_retry_ms;
    unsigned smtp_max_attempts;
    const char *secret_key_file; /* NULL = beside a SQLite database, none on PostgreSQL */
} options_t;

/* Returns the value of the environment variable name, or fallback when it is unset or empty. */
const char *cli_env_or(const char *name, const char *fallback);
/* Parses flags and FROTH_* variables into o. Returns 0 to go on, 1 after --help, 2 on an error,
 * which it has printed. */
int cli_parse_options(int argc, char **argv, options_t *o, void (*help)(FILE *));
/* Each returns 0 on success and 1 after printing why it failed. */
int cli_load_app(const char *path, app_t **app);
/* Fills config for the SMTP relay from the options and the app's email.from, reading the password
 * file into *password (freed with cli_mail_free). Leaves config->url NULL when no relay is set.
 * Returns 0, or 1 after printing why the settings cannot work. */
int cli_mail_configure(const options_t *o, const app_t *app, mail_config_t *config,
                       char **password);
/* Wipes and frees the password that cli_mail_configure read. Accepts NULL. */
void cli_mail_free(char *password);
int cli_open_store(const char *url, store_t **store);
bool cli_migrate_store(store_t *store, const app_t *app, const char *url);

int cmd_admin_token(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif

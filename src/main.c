/* froth: the command line. serve, check, migrate, admin-token, export, import and explain.
 *
 * Every serve setting is a flag with an environment variable equivalent (FROTH_PORT and so on);
 * flags win over the environment, which wins over the defaults.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "app/app.h"
#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "mail/mail.h"
#include "store/store.h"
#include "workflow/workflow.h"

#include "cli.h"

#define FROTH_VERSION "0.1.0"

/* Connections each store keeps open at most; set by --db-pool before the first open. */
static unsigned db_pool_size;

const char *cli_env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : fallback;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
        return false;
    *out = v;
    return true;
}

static void usage(FILE *f)
{
    fputs("usage: froth <command> [options]\n"
          "\n"
          "froth serves a Bubble-compatible Data API and Workflow API for the app described in\n"
          "one JSON file.\n"
          "\n"
          "commands:\n"
          "  serve         serve the app over HTTP\n"
          "  check         validate an app definition and print every error with its JSON path\n"
          "  migrate       create or extend the database schema for an app, then exit\n"
          "  admin-token   create, list or revoke admin API tokens\n"
          "  export        write all of an app's data (things, users, sessions, admin tokens)\n"
          "                to a dump\n"
          "  import        load a dump written by export into an empty database\n"
          "  explain       print which privacy rules of a type apply to a caller\n"
          "  audit         print the audit log: logins, sessions, passwords, 2FA, admin tokens\n"
          "  version       print the version\n"
          "\n"
          "Run 'froth <command> --help' for the options of a command.\n",
          f);
}

static void usage_serve(FILE *f)
{
    fputs(
        "usage: froth serve [options]\n"
        "\n"
        "  --app FILE          app definition (env FROTH_APP; default app.json)\n"
        "  --db URL            database, sqlite:PATH (env FROTH_DB; default sqlite:froth.db)\n"
        "  --test-db URL       database served under /version-test (env FROTH_TEST_DB;\n"
        "                      default none: /version-test answers 404)\n"
        "  --cors-origins LIST comma-separated origins browsers may call from, or * for any\n"
        "                      (env FROTH_CORS_ORIGINS; default none)\n"
        "  --files-dir DIR     directory for uploaded files, created with mode 0700 when\n"
        "                      missing (env FROTH_FILES_DIR; default ./files)\n"
        "  --max-file-bytes BYTES  largest uploaded file after base64 decoding, larger gets\n"
        "                      413; --max-body applies first (env FROTH_MAX_FILE_BYTES;\n"
        "                      default 10485760)\n"
        "  --public-url BASE   http(s) URL that file URLs start with, such as\n"
        "                      https://api.example.com (env FROTH_PUBLIC_URL; default\n"
        "                      //<the request's Host header>)\n"
        "  --db-pool N         database connections per store at most (env FROTH_DB_POOL;\n"
        "                      default 8)\n"
        "  --host ADDR         address to listen on (env FROTH_HOST; default 127.0.0.1)\n"
        "  --port N            TCP port, 0 for any free port (env FROTH_PORT; default 8080)\n"
        "  --threads N         HTTP worker threads (env FROTH_THREADS; default 2 per core)\n"
        "  --max-body BYTES    largest request body accepted, larger gets 413\n"
        "                      (env FROTH_MAX_BODY; default 1048576)\n"
        "  --max-connections N open connections at once (env FROTH_MAX_CONNECTIONS; default 1024)\n"
        "  --timeout SECONDS   idle connection timeout (env FROTH_TIMEOUT; default 30)\n"
        "  --login-limit N     login attempts per client address per minute, 0 for no limit\n"
        "                      (env FROTH_LOGIN_LIMIT; default 20)\n"
        "  --signup-limit N    sign-up attempts per client address per hour, 0 for no limit\n"
        "                      (env FROTH_SIGNUP_LIMIT; default 30)\n"
        "  --trusted-proxies LIST  comma-separated addresses or CIDR ranges of reverse proxies\n"
        "                      whose X-Forwarded-For names the client (env\n"
        "                      FROTH_TRUSTED_PROXIES; default none: the header is ignored)\n"
        "  --idle-days N       days a user token may go unused before it expires; each use\n"
        "                      extends it (env FROTH_IDLE_DAYS; default 30)\n"
        "  --audit-days N      days audit log rows are kept, 0 for ever; older rows are\n"
        "                      deleted at start and hourly (env FROTH_AUDIT_DAYS; default 90)\n"
        "  --lockout-after N   failed logins in 15 minutes that lock an account until the 15\n"
        "                      minutes end, 0 for never (env FROTH_LOCKOUT_AFTER; default 10)\n"
        "  --scheduler-poll-ms N  how often due scheduled workflows and queued emails are\n"
        "                      looked for, in ms (env FROTH_SCHEDULER_POLL_MS; default 1000)\n"
        "  --secret-key-file FILE  32 random bytes, as 64 hex digits or base64, that encrypt\n"
        "                      TOTP secrets (env FROTH_SECRET_KEY_FILE; default on SQLite:\n"
        "                      PATH.secret-key beside the database, created when missing;\n"
        "                      required on PostgreSQL when the app uses two-factor actions)\n",
        f);
    /* A second string, because C17 compilers need not accept string literals over 4095 bytes. */
    fputs("  --smtp-url URL      SMTP relay that sends queued emails: smtp://HOST[:PORT] (with\n"
          "                      STARTTLS) or smtps://HOST[:PORT] (TLS from the start); a path\n"
          "                      sets the EHLO name (env FROTH_SMTP_URL; default none: emails\n"
          "                      stay in the _froth_outbox table)\n"
          "  --smtp-user NAME    user name for SMTP authentication (env FROTH_SMTP_USER;\n"
          "                      default none: no authentication)\n"
          "  --smtp-password-file FILE  file whose first line is the SMTP password (env\n"
          "                      FROTH_SMTP_PASSWORD_FILE); required with --smtp-user\n"
          "  --smtp-from SENDER  From address, as ADDRESS or \"Name <ADDRESS>\" (env\n"
          "                      FROTH_SMTP_FROM; default settings.email.from in the app)\n"
          "  --smtp-starttls MODE  for smtp:// URLs: required refuses to send without STARTTLS,\n"
          "                      optional uses it when offered (env FROTH_SMTP_STARTTLS;\n"
          "                      default required)\n"
          "  --smtp-retry-ms N   delay before the first retry of a temporary failure, in ms;\n"
          "                      each later retry waits twice as long, at most an hour (env\n"
          "                      FROTH_SMTP_RETRY_MS; default 30000)\n"
          "  --smtp-max-attempts N  attempts before an email that keeps failing is marked\n"
          "                      failed (env FROTH_SMTP_MAX_ATTEMPTS; default 8)\n"
          "  --log-level LEVEL   error, warn, info or debug (env FROTH_LOG_LEVEL; default info)\n"
          "  --log-format FMT    logfmt or json (env FROTH_LOG_FORMAT; default logfmt)\n"
          "\n"
          "SIGINT or SIGTERM stops accepting connections and waits up to 10 s for requests in\n"
          "flight.\n",
          f);
}

static void usage_check(FILE *f)
{
    fputs("usage: froth check [--app FILE]\n"
          "\n"
          "Loads and validates an app definition without serving it. Prints every error with\n"
          "its JSON path and exits with 1, or prints a summary and exits with 0.\n"
          "  --app FILE   app definition (env FROTH_APP; default app.json)\n",
          f);
}

static void usage_migrate(FILE *f)
{
    fputs("usage: froth migrate [--app FILE] [--db URL]\n"
          "\n"
          "Creates missing tables, columns and indexes for the app, then exits. Never drops or\n"
          "rewrites data; serve does the same at start-up.\n"
          "  --app FILE   app definition (env FROTH_APP; default app.json)\n"
          "  --db URL     database, sqlite:PATH (env FROTH_DB; default sqlite:froth.db)\n",
          f);
}

enum {
    OPT_APP = 1000,
    OPT_DB,
    OPT_HOST,
    OPT_PORT,
    OPT_THREADS,
    OPT_MAX_BODY,
    OPT_MAX_CONN,
    OPT_TIMEOUT,
    OPT_LOG_LEVEL,
    OPT_LOG_FORMAT,
    OPT_LABEL,
    OPT_HELP,
    OPT_TEST_DB,
    OPT_CORS,
    OPT_LOGIN_LIMIT,
    OPT_SIGNUP_LIMIT,
    OPT_LOCKOUT_AFTER,
    OPT_SCHEDULER_POLL,
    OPT_DB_POOL,
    OPT_IDLE_DAYS,
    OPT_AUDIT_DAYS,
    OPT_TRUSTED_PROXIES,
    OPT_FILES_DIR,
    OPT_MAX_FILE_BYTES,
    OPT_PUBLIC_URL,
    OPT_SMTP_URL,
    OPT_SMTP_USER,
    OPT_SMTP_PASSWORD_FILE,
    OPT_SMTP_FROM,
    OPT_SMTP_STARTTLS,
    OPT_SMTP_RETRY,
    OPT_SMTP_MAX_ATTEMPTS,
    OPT_SECRET_KEY_FILE,
};

static const struct option long_options[] = {
    {"app", required_argument, NULL, OPT_APP},
    {"db", required_argument, NULL, OPT_DB},
    {"test-db", required_argument, NULL, OPT_TEST_DB},
    {"cors-origins", required_argument, NULL, OPT_CORS},
    {"files-dir", required_argument, NULL, OPT_FILES_DIR},
    {"max-file-bytes", required_argument, NULL, OPT_MAX_FILE_BYTES},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"login-limit", required_argument, NULL, OPT_LOGIN_LIMIT},
    {"signup-limit", required_argument, NULL, OPT_SIGNUP_LIMIT},
    {"lockout-after", required_argument, NULL, OPT_LOCKOUT_AFTER},
    {"scheduler-poll-ms", required_argument, NULL, OPT_SCHEDULER_POLL},
    {"db-pool", required_argument, NULL, OPT_DB_POOL},
    {"idle-days", required_argument, NULL, OPT_IDLE_DAYS},
    {"audit-days", required_argument, NULL, OPT_AUDIT_DAYS},
    {"trusted-proxies", required_argument, NULL, OPT_TRUSTED_PROXIES},
    {"smtp-url", required_argument, NULL, OPT_SMTP_URL},
    {"smtp-user", required_argument, NULL, OPT_SMTP_USER},
    {"smtp-password-file", required_argument, NULL, OPT_SMTP_PASSWORD_FILE},
    {"smtp-from", required_argument, NULL, OPT_SMTP_FROM},
    {"smtp-starttls", required_argument, NULL, OPT_SMTP_STARTTLS},
    {"smtp-retry-ms", required_argument, NULL, OPT_SMTP_RETRY},
    {"smtp-max-attempts", required_argument, NULL, OPT_SMTP_MAX_ATTEMPTS},
    {"secret-key-file", required_argument, NULL, OPT_SECRET_KEY_FILE},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"label", required_argument, NULL, OPT_LABEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool set_uint(const char *name, const char *value, unsigned long max, unsigned long *out)
{
    if (!parse_uint(value, max, out)) {
        fprintf(stderr, "froth: invalid %s \"%s\": expected an integer from 0 to %lu\n", name,
                value, max);
        return false;
    }
    return true;
}

/* File URLs are built by appending to this base and are returned to clients, so it must be a
 * plain absolute URL that cannot break out of a JSON string or an HTML attribute. */
static bool public_url_is_valid(const char *s)
{
    const char *host = strncmp(s, "https://", 8) == 0  ? s + 8
                       : strncmp(s, "http://", 7) == 0 ? s + 7
                                                       : NULL;
    if (host == NULL || *host == '\0' || *host == '/' || strlen(s) > 1024)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'<>\\?#`", *p) != NULL)
            return false;
    }
    return true;
}

/* Applies one --smtp-* option. Returns false on an invalid value. */
static bool apply_smtp_option(options_t *o, int opt, const char *value)
{
    unsigned long v;
    char msg[256];
    mail_mailbox_t from;
    switch (opt) {
    case OPT_SMTP_URL:
        if (mail_url_check(value, msg, sizeof(msg)) != ERR_OK) {
            fprintf(stderr, "froth: %s (\"%s\")\n", msg, value);
            return false;
        }
        o->smtp_url = value;
        return true;
    case OPT_SMTP_USER:
        if (strpbrk(value, "\r\n") != NULL) {
            fprintf(stderr, "froth: invalid SMTP user: expected one line of text\n");
            return false;
        }
        o->smtp_user = value;
        return true;
    case OPT_SMTP_PASSWORD_FILE:
        o->smtp_password_file = value;
        return true;
    case OPT_SMTP_FROM:
        if (mail_mailbox_parse(value, &from) != ERR_OK) {
            fprintf(stderr,
                    "froth: invalid --smtp-from \"%s\": expected an ASCII address or "
                    "\"Name <address>\" without line breaks\n",
                    value);
            return false;
        }
        o->smtp_from = value;
        return true;
    case OPT_SMTP_STARTTLS:
        if (strcmp(value, "required") != 0 && strcmp(value, "optional") != 0) {
            fprintf(stderr, "froth: invalid --smtp-starttls \"%s\": use required or optional\n",
                    value);
            return false;
        }
        o->smtp_starttls =
            strcmp(value, "required") == 0 ? MAIL_STARTTLS_REQUIRED : MAIL_STARTTLS_OPTIONAL;
        return true;
    case OPT_SMTP_RETRY:
        if (!set_uint("SMTP retry delay", value, 3600000, &v) || v < 10) {
            fprintf(stderr, "froth: --smtp-retry-ms must be from 10 to 3600000\n");
            return false;
        }
        o->smtp_retry_ms = (unsigned)v;
        return true;
    case OPT_SMTP_MAX_ATTEMPTS:
        if (!set_uint("SMTP attempt limit", value, 100, &v) || v == 0) {
            fprintf(stderr, "froth: --smtp-max-attempts must be from 1 to 100\n");
            return false;
        }
        o->smtp_max_attempts = (unsigned)v;
        return true;
    }
    return false;
}

/* Applies one option (from a flag or the environment). Returns false on an invalid value. */
static bool apply_option(options_t *o, int opt, const char *value)
{
    unsigned long v;
    switch (opt) {
    case OPT_APP:
        o->app_path = value;
        return true;
    case OPT_DB:
        o->db_url = value;
        return true;
    case OPT_TEST_DB:
        o->test_db_url = value;
        return true;
    case OPT_CORS:
        o->cors = value;
        return true;
    case OPT_FILES_DIR:
        o->files_dir = value;
        return true;
    case OPT_SECRET_KEY_FILE:
        o->secret_key_file = value;
        return true;
    case OPT_PUBLIC_URL:
        if (!public_url_is_valid(value)) {
            fprintf(stderr,
                    "froth: invalid public URL \"%s\": expected http:// or https:// and "
                    "a host, without spaces, quotes, a query or a fragment\n",
                    value);
            return false;
        }
        o->public_url = value;
        return true;
    case OPT_MAX_FILE_BYTES:
        if (!set_uint("file size limit", value, 1UL << 30, &v))
            return false;
        o->max_file_bytes = v;
        return true;
    case OPT_HOST:
        o->http.host = value;
        return true;
    case OPT_LABEL:
        o->label = value;
        return true;
    case OPT_PORT:
        if (!set_uint("port", value, 65535, &v))
            return false;
        o->http.port = (uint16_t)v;
        return true;
    case OPT_THREADS:
        if (!set_uint("thread count", value, 1024, &v) || v == 0)
            return v != 0 ? false
                          : (fprintf(stderr, "froth: --threads must be at least 1\n"), false);
        o->http.threads = (unsigned)v;
        return true;
    case OPT_MAX_BODY:
        if (!set_uint("body limit", value, 1UL << 30, &v))
            return false;
        o->http.max_body = v;
        return true;
    case OPT_MAX_CONN:
        if (!set_uint("connection limit", value, 1000000, &v))
            return false;
        o->http.max_connections = (unsigned)v;
        return true;
    case OPT_TIMEOUT:
        if (!set_uint("timeout", value, 86400, &v))
            return false;
        o->http.timeout_s = (unsigned)v;
        return true;
    case OPT_LOGIN_LIMIT:
    case OPT_SIGNUP_LIMIT:
    case OPT_LOCKOUT_AFTER:
        if (!set_uint("limit", value, 100000000, &v))
            return false;
        if (opt == OPT_LOGIN_LIMIT)
            o->throttle.login_per_ip_per_minute = (int64_t)v;
        else if (opt == OPT_SIGNUP_LIMIT)
            o->throttle.signup_per_ip_per_hour = (int64_t)v;
        else
            o->throttle.failures_before_lock = (int64_t)v;
        return true;
    case OPT_TRUSTED_PROXIES:
        o->trusted_proxies = value;
        return true;
    case OPT_IDLE_DAYS:
        if (!set_uint("idle window", value, 3650, &v) || v == 0) {
            fprintf(stderr, "froth: --idle-days must be from 1 to 3650\n");
            return false;
        }
        o->idle_days = (unsigned)v;
        return true;
    case OPT_AUDIT_DAYS:
        if (!set_uint("audit retention", value, 36500, &v)) {
            fprintf(stderr, "froth: --audit-days must be from 0 to 36500\n");
            return false;
        }
        o->audit_days = (unsigned)v;
        return true;
    case OPT_DB_POOL:
        if (!set_uint("pool size", value, 1000, &v) || v == 0) {
            fprintf(stderr, "froth: --db-pool must be from 1 to 1000\n");
            return false;
        }
        db_pool_size = (unsigned)v;
        return true;
    case OPT_SCHEDULER_POLL:
        if (!set_uint("scheduler poll interval", value, 60000, &v) || v < 10) {
            fprintf(stderr, "froth: --scheduler-poll-ms must be from 10 to 60000\n");
            return false;
        }
        o->scheduler_poll_ms = (unsigned)v;
        return true;
    case OPT_SMTP_URL:
    case OPT_SMTP_USER:
    case OPT_SMTP_PASSWORD_FILE:
    case OPT_SMTP_FROM:
    case OPT_SMTP_STARTTLS:
    case OPT_SMTP_RETRY:
    case OPT_SMTP_MAX_ATTEMPTS:
        return apply_smtp_option(o, opt, value);
    case OPT_LOG_LEVEL:
        if (!log_level_parse(value, &o->log_level)) {
            fprintf(stderr, "froth: invalid log level \"%s\": use error, warn, info or debug\n",
                    value);
            return false;
        }
        return true;
    case OPT_LOG_FORMAT:
        if (strcmp(value, "json") != 0 && strcmp(value, "logfmt") != 0) {
            fprintf(stderr, "froth: invalid log format \"%s\": use logfmt or json\n", value);
            return false;
        }
        o->log_json = strcmp(value, "json") == 0;
        return true;
    }
    return false;
}

static bool load_env(options_t *o)
{
    static const struct {
        const char *name;
        int opt;
    } vars[] = {
        {"FROTH_APP", OPT_APP},
        {"FROTH_DB", OPT_DB},
        {"FROTH_TEST_DB", OPT_TEST_DB},
        {"FROTH_CORS_ORIGINS", OPT_CORS},
        {"FROTH_HOST", OPT_HOST},
        {"FROTH_FILES_DIR", OPT_FILES_DIR},
        {"FROTH_MAX_FILE_BYTES", OPT_MAX_FILE_BYTES},
        {"FROTH_PUBLIC_URL", OPT_PUBLIC_URL},
        {"FROTH_PORT", OPT_PORT},
        {"FROTH_THREADS", OPT_THREADS},
        {"FROTH_MAX_BODY", OPT_MAX_BODY},
        {"FROTH_MAX_CONNECTIONS", OPT_MAX_CONN},
        {"FROTH_TIMEOUT", OPT_TIMEOUT},
        {"FROTH_LOG_LEVEL", OPT_LOG_LEVEL},
        {"FROTH_LOG_FORMAT", OPT_LOG_FORMAT},
        {"FROTH_LOGIN_LIMIT", OPT_LOGIN_LIMIT},
        {"FROTH_SIGNUP_LIMIT", OPT_SIGNUP_LIMIT},
        {"FROTH_LOCKOUT_AFTER", OPT_LOCKOUT_AFTER},
        {"FROTH_SCHEDULER_POLL_MS", OPT_SCHEDULER_POLL},
        {"FROTH_DB_POOL", OPT_DB_POOL},
        {"FROTH_IDLE_DAYS", OPT_IDLE_DAYS},
        {"FROTH_AUDIT_DAYS", OPT_AUDIT_DAYS},
        {"FROTH_TRUSTED_PROXIES", OPT_TRUSTED_PROXIES},
        {"FROTH_SMTP_URL", OPT_SMTP_URL},
        {"FROTH_SMTP_USER", OPT_SMTP_USER},
        {"FROTH_SMTP_PASSWORD_FILE", OPT_SMTP_PASSWORD_FILE},
        {"FROTH_SMTP_FROM", OPT_SMTP_FROM},
        {"FROTH_SMTP_STARTTLS", OPT_SMTP_STARTTLS},
        {"FROTH_SMTP_RETRY_MS", OPT_SMTP_RETRY},
        {"FROTH_SMTP_MAX_ATTEMPTS", OPT_SMTP_MAX_ATTEMPTS},
        {"FROTH_SECRET_KEY_FILE", OPT_SECRET_KEY_FILE},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i].name);
        if (v != NULL && *v != '\0' && !apply_option(o, vars[i].opt, v))
            return false;
    }
    return true;
}

/* Parses flags after the command. Returns 0 to go on, 1 when help was printed, 2 on error. */
int cli_parse_options(int argc, char **argv, options_t *o, void (*help)(FILE *))
{
    memset(o, 0, sizeof(*o));
    http_config_default(&o->http);
    o->app_path = cli_env_or("FROTH_APP", DEFAULT_APP);
    o->db_url = cli_env_or("FROTH_DB", DEFAULT_DB);
    o->log_level = LOG_LEVEL_INFO;
    o->drain_ms = 10000;
    o->scheduler_poll_ms = 1000;
    o->idle_days = 30;
    o->audit_days = AUTH_AUDIT_DAYS;
    o->files_dir = "files";
    o->max_file_bytes = 10 * 1024 * 1024;
    o->smtp_starttls = MAIL_STARTTLS_REQUIRED;
    o->smtp_retry_ms = 30000;
    o->smtp_max_attempts = 8;
    o->throttle = (auth_throttle_config_t){
        .login_per_ip_per_minute = 20, .signup_per_ip_per_hour = 30, .failures_before_lock = 10};
    if (!load_env(o))
        return 2;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            help(stdout);
            return 1;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "froth: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
            help(stderr);
            return 2;
        }
        if (!apply_option(o, opt, optarg))
            return 2;
    }
    return 0;
}

static void print_app_errors(const char *path, const app_errors_t *errors)
{
    for (size_t i = 0; i < errors->count; i++) {
        const app_error_t *e = &errors->items[i];
        fprintf(stderr, "%s: %s%s%s\n", path, e->path, e->path[0] != '\0' ? ": " : "", e->message);
    }
}

int cli_load_app(const char *path, app_t **app)
{
    app_errors_t errors = {0};
    err_t err = app_load_file(path, app, &errors);
    if (err != ERR_OK) {
        print_app_errors(path, &errors);
        if (errors.count == 0)
            fprintf(stderr, "froth: cannot load %s: %s\n", path, err_name(err));
        else
            fprintf(stderr, "froth: %zu error%s in %s\n", errors.count,
                    errors.count == 1 ? "" : "s", path);
        app_errors_free(&errors);
        return 1;
    }
    app_errors_free(&errors);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    options_t o;
    int rc = cli_parse_options(argc, argv, &o, usage_check);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    app_t *app;
    if (cli_load_app(o.app_path, &app) != 0)
        return 1;
    printf("%s: ok (%zu types, %zu option sets, %zu workflows)\n", o.app_path, app->ntypes,
           app->noption_sets, app->nworkflows);
    app_free(app);
    return 0;
}

static void print_schema_ok(const char *url)
{
    char shown[512];
    store_redact_url(url, shown, sizeof(shown));
    printf("%s: schema is up to date\n", shown);
}

int cli_open_store(const char *url, store_t **store)
{
    char msg[512] = "";
    store_options_t so = {.pool_size = db_pool_size};
    err_t err = store_open(url, &so, store, msg, sizeof(msg));
    if (err != ERR_OK) {
        char shown[512];
        store_redact_url(url, shown, sizeof(shown));
        fprintf(stderr, "froth: cannot open database %s: %s\n", shown,
                msg[0] ? msg : err_name(err));
        return 1;
    }
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    options_t o;
    int rc = cli_parse_options(argc, argv, &o, usage_migrate);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    app_t *app;
    store_t *store;
    if (cli_load_app(o.app_path, &app) != 0)
        return 1;
    if (cli_open_store(o.db_url, &store) != 0) {
        app_free(app);
        return 1;
    }
    char msg[512] = "";
    err_t err = store_migrate(store, app, msg, sizeof(msg));
    if (err != ERR_OK)
        fprintf(stderr, "froth: migration failed: %s\n", msg[0] ? msg : err_name(err));
    else
        print_schema_ok(o.db_url);
    store_close(store);
    app_free(app);
    return err == ERR_OK ? 0 : 1;
}

bool cli_migrate_store(store_t *store, const app_t *app, const char *url)
{
    char msg[512] = "";
    if (store_migrate(store, app, msg, sizeof(msg)) != ERR_OK) {
        char shown[512];
        store_redact_url(url, shown, sizeof(shown));
        fprintf(stderr, "froth: migration of %s failed: %s\n", shown, msg);
        return false;
    }
    return true;
}

/* Splits a comma-separated origin list into one allocation: the pointer array followed by the
 * strings. Returns NULL for a NULL list or when out of memory. */
static char **split_origins(const char *list)
{
    if (list == NULL)
        return NULL;
    size_t n = 1, len = strlen(list);
    for (const char *p = list; *p != '\0'; p++)
        n += *p == ',';
    char **out = malloc((n + 1) * sizeof(char *) + len + 1);
    if (out == NULL)
        return NULL;
    char *text = (char *)(out + n + 1);
    memcpy(text, list, len + 1);
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(text, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save))
        out[k++] = tok;
    out[k] = NULL;
    return out;
}

/* True when a workflow of app enrols users in two-factor authentication or checks their codes,
 * so that serving it needs the secret key. */
static bool app_uses_two_factor(const app_t *app)
{
    for (size_t i = 0; i < app->nworkflows; i++) {
        const app_workflow_t *wf = &app->workflows[i];
        for (size_t j = 0; j < wf->nactions; j++) {
            switch (wf->actions[j].kind) {
            case ACT_ENABLE_2FA_START:
            case ACT_ENABLE_2FA_CONFIRM:
            case ACT_DISABLE_2FA:
            case ACT_REGENERATE_RECOVERY_CODES:
            case ACT_CHECK_2FA:
                return true;
            default:
                break;
            }
        }
    }
    return false;
}

/* Sets the secret key that encrypts TOTP secrets. A SQLite database is served by this process
 * alone, so its key can live in a file created beside it on first start. Several PostgreSQL
 * nodes must share one key, which froth cannot create for them, so there it must be given
 * explicitly when the app uses two-factor authentication. Returns false after printing why. */
static bool set_up_secret_key(const options_t *o, const app_t *app, const store_t *store)
{
    char msg[512] = "";
    bool created = false;
    const char *path = o->secret_key_file;
    if (path == NULL && store_is_shared(store)) {
        if (!app_uses_two_factor(app))
            return true;
        fprintf(stderr, "froth: --secret-key-file (or FROTH_SECRET_KEY_FILE) is required on "
                        "PostgreSQL when the app uses two-factor authentication, because every "
                        "node must encrypt TOTP secrets with the same key; create one with "
                        "'openssl rand -hex 32 > FILE' and give it to every node\n");
        return false;
    }
    char beside[4096];
    if (path == NULL) {
        const char *db = strncmp(o->db_url, "sqlite:", 7) == 0 ? o->db_url + 7 : o->db_url;
        if (strcmp(db, ":memory:") == 0) {
            /* The database vanishes with the process, and so may its key. */
            unsigned char key[AUTH_SECRET_KEY_BYTES];
            randombytes_buf(key, sizeof(key));
            auth_secret_key_set(key);
            sodium_memzero(key, sizeof(key));
            return true;
        }
        if ((size_t)snprintf(beside, sizeof(beside), "%s.secret-key", db) >= sizeof(beside)) {
            fprintf(stderr, "froth: the database path is too long for a key file beside it\n");
            return false;
        }
        path = beside;
    }
    if (auth_secret_key_load(path, o->secret_key_file == NULL, &created, msg, sizeof(msg)) !=
        ERR_OK) {
        fprintf(stderr, "froth: %s\n", msg);
        return false;
    }
    if (created)
        LOG_INFO("secret key file created", "path=%s note=%s", log_quote(path),
                 log_quote("back it up with the database: TOTP secrets need it"));
    else if (!auth_secret_key_file_is_private(path))
        LOG_WARN("secret key file is readable by other users; chmod 600 it", "path=%s",
                 log_quote(path));
    return true;
}

static unsigned default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && cores < 256 ? (unsigned)cores * 2 : 4;
}

static int cmd_serve(int argc, char **argv)
{
    options_t o;
    int rc = cli_parse_options(argc, argv, &o, usage_serve);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (getenv("FROTH_THREADS") == NULL && o.http.threads == 0)
        o.http.threads = default_threads();
    log_init(o.log_level, o.log_json);

    /* Every thread started from here on inherits the blocked signals, so only sigwait below
     * receives SIGINT and SIGTERM. A client that goes away must not kill the process. */
    sigset_t stop_signals;
    /* A shell starting a background job may hand it SIGINT ignored. An ignored signal is
     * discarded rather than queued for sigwait, so restore the default first. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mail_global_init() != ERR_OK) {
        LOG_ERROR("libcurl failed to initialise", "%s", "");
        return 1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (auth_init(cores > 0 ? (unsigned)cores : 1) != ERR_OK) {
        LOG_ERROR("crypto library failed to initialise", "%s", "");
        return 1;
    }
    app_t *app;
    if (cli_load_app(o.app_path, &app) != 0)
        return 1;
    store_t *store;
    if (cli_open_store(o.db_url, &store) != 0) {
        app_free(app);
        return 1;
    }
    store_t *test_store = NULL;
    char **origins = NULL;
    http_server_t *server = NULL;
    wf_scheduler_t *scheduler = NULL, *test_scheduler = NULL;
    mail_sender_t *sender = NULL, *test_sender = NULL;
    mail_config_t mail;
    char *smtp_password = NULL;
    api_proxy_t *proxies = NULL;
    size_t nproxies = 0;
    rc = 1;
    if (!cli_migrate_store(store, app, o.db_url) || !set_up_secret_key(&o, app, store))
        goto out;
    auth_throttle_configure(&o.throttle);
    auth_set_idle_window((int64_t)o.idle_days * 24 * 3600);
    if (auth_cache_attach(store) != ERR_OK) {
        fprintf(stderr, "froth: cannot start the store's change notifications\n");
        goto out;
    }
    if (o.test_db_url != NULL && (cli_open_store(o.test_db_url, &test_store) != 0 ||
                                  !cli_migrate_store(test_store, app, o.test_db_url)))
        goto out;
    origins = split_origins(o.cors);
    if (o.cors != NULL && origins == NULL)
        goto out;

    if (wf_scheduler_start(app, store, o.scheduler_poll_ms, o.audit_days, &scheduler) != ERR_OK ||
        (test_store != NULL && wf_scheduler_start(app, test_store, o.scheduler_poll_ms,
                                                  o.audit_days, &test_scheduler) != ERR_OK)) {
        fprintf(stderr, "froth: cannot start the scheduler\n");
        goto out;
    }

    if (cli_mail_configure(&o, app, &mail, &smtp_password) != 0)
        goto out;
    if (mail.url == NULL) {
        LOG_INFO("no SMTP relay: emails stay in the _froth_outbox table", "%s", "");
    } else if (mail_sender_start(&mail, store, &sender) != ERR_OK ||
               (test_store != NULL &&
                mail_sender_start(&mail, test_store, &test_sender) != ERR_OK)) {
        fprintf(stderr, "froth: cannot start the email sender\n");
        goto out;
    } else {
        LOG_INFO("email sender started", "url=%s from=%s starttls=%s", log_quote(mail.url),
                 log_quote(mail.from.address),
                 mail.starttls == MAIL_STARTTLS_REQUIRED ? "required" : "optional");
    }

    char files_msg[512] = "";
    if (api_files_prepare(o.files_dir, files_msg, sizeof(files_msg)) != ERR_OK) {
        fprintf(stderr, "froth: cannot use the files directory: %s\n", files_msg);
        goto out;
    }

    char proxy_error[256] = "";
    if (api_proxies_parse(o.trusted_proxies, &proxies, &nproxies, proxy_error,
                          sizeof(proxy_error)) != ERR_OK) {
        fprintf(stderr, "froth: %s\n", proxy_error[0] ? proxy_error : "out of memory");
        goto out;
    }
    api_t api = {.app = app,
                 .store = store,
                 .test_store = test_store,
                 .cors_origins = (const char *const *)origins,
                 .files_dir = o.files_dir,
                 .max_file_bytes = o.max_file_bytes,
                 .public_url = o.public_url,
                 .proxies = proxies,
                 .nproxies = nproxies};
    if (http_server_start(&o.http, api_handle, &api, &server) != ERR_OK) {
        fprintf(stderr, "froth: cannot listen on %s:%u\n", o.http.host, o.http.port);
        goto out;
    }
    char shown_db[512];
    store_redact_url(o.db_url, shown_db, sizeof(shown_db));
    LOG_INFO("froth started",
             "version=%s app=%s db=%s host=%s port=%u threads=%u max_body=%zu files_dir=%s",
             FROTH_VERSION, log_quote(o.app_path), log_quote(shown_db), o.http.host,
             http_server_port(server), o.http.threads, o.http.max_body, log_quote(o.files_dir));

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }
    LOG_INFO("froth stopping", "signal=%d drain_ms=%u", sig, o.drain_ms);
    http_server_stop(server, o.drain_ms);
    LOG_INFO("froth stopped", "%s", "");
    rc = 0;
out:
    wf_scheduler_stop(scheduler);
    wf_scheduler_stop(test_scheduler);
    mail_sender_stop(sender);
    mail_sender_stop(test_sender);
    cli_mail_free(smtp_password);
    mail_global_cleanup();
    if (test_store != NULL)
        store_close(test_store);
    store_close(store);
    app_free(app);
    free(origins);
    free(proxies);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("froth %s\n", FROTH_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "admin-token") == 0)
        return cmd_admin_token(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    fprintf(stderr, "froth: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}

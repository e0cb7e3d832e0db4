/* froth serve's SMTP relay settings: the sender address, the password file and the checks that
 * keep a relay from starting in a state where it cannot or should not send. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* A password longer than this is surely the wrong file. */
#define PASSWORD_MAX 1024

/* Reads the password from the first line of path. Returns NULL after printing why it failed. */
static char *read_password(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "froth: cannot open the SMTP password file %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0)
        LOG_WARN("the SMTP password file can be read by other users", "path=%s mode=%03o",
                 log_quote(path), (unsigned)(st.st_mode & 0777));
    char *password = malloc(PASSWORD_MAX + 2);
    ssize_t n = password != NULL ? read(fd, password, PASSWORD_MAX + 1) : -1;
    close(fd);
    const char *problem = password == NULL   ? "out of memory"
                          : n < 0            ? strerror(errno)
                          : n > PASSWORD_MAX ? "longer than 1024 bytes"
                                             : NULL;
    if (problem == NULL) {
        password[n] = '\0';
        password[strcspn(password, "\r\n")] = '\0';
        if (password[0] == '\0')
            problem = "the first line is empty";
    }
    if (problem != NULL) {
        fprintf(stderr, "froth: cannot use the SMTP password file %s: %s\n", path, problem);
        cli_mail_free(password);
        return NULL;
    }
    return password;
}

void cli_mail_free(char *password)
{
    if (password == NULL)
        return;
    sodium_memzero(password, PASSWORD_MAX + 2);
    free(password);
}

static int set_sender(const options_t *o, const app_t *app, mail_config_t *config)
{
    const char *from = o->smtp_from != NULL ? o->smtp_from : app->settings.email_from;
    if (from == NULL) {
        fprintf(stderr, "froth: --smtp-url needs a sender address: set --smtp-from or "
                        "settings.email.from in the app definition\n");
        return 1;
    }
    if (mail_mailbox_parse(from, &config->from) != ERR_OK) {
        fprintf(stderr,
                "froth: invalid sender \"%s\" (%s): expected an ASCII address or "
                "\"Name <address>\" without line breaks\n",
                from, o->smtp_from != NULL ? "--smtp-from" : "settings.email.from");
        return 1;
    }
    return 0;
}

int cli_mail_configure(const options_t *o, const app_t *app, mail_config_t *config, char **password)
{
    memset(config, 0, sizeof(*config));
    *password = NULL;
    if (o->smtp_url == NULL) {
        if (o->smtp_user != NULL || o->smtp_password_file != NULL || o->smtp_from != NULL)
            LOG_WARN("SMTP settings are ignored without --smtp-url", "%s", "");
        return 0;
    }
    if ((o->smtp_user == NULL) != (o->smtp_password_file == NULL)) {
        fprintf(stderr, "froth: --smtp-user and --smtp-password-file go together: set both "
                        "or neither\n");
        return 1;
    }
    if (set_sender(o, app, config) != 0)
        return 1;
    if (o->smtp_password_file != NULL && (*password = read_password(o->smtp_password_file)) == NULL)
        return 1;
    config->url = o->smtp_url;
    config->user = o->smtp_user;
    config->password = *password;
    config->starttls = o->smtp_starttls;
    config->poll_ms = o->scheduler_poll_ms;
    config->retry_ms = o->smtp_retry_ms;
    config->max_attempts = o->smtp_max_attempts;
    if (o->smtp_user != NULL && strncmp(o->smtp_url, "smtp://", 7) == 0 &&
        o->smtp_starttls == MAIL_STARTTLS_OPTIONAL)
        LOG_WARN("the SMTP password is sent in clear text when the relay offers no STARTTLS",
                 "url=%s", log_quote(o->smtp_url));
    return 0;
}

/* Email: building RFC 5322 messages and delivering the outbox through an SMTP relay.
 *
 * Workflow actions queue emails in the store's outbox. A sender thread per store claims them,
 * hands each to the relay with libcurl, and records the outcome. Without a relay nothing is sent
 * and the outbox only fills. This module does not receive mail, resolve MX records or queue
 * anything in memory: the store is the queue.
 */
#ifndef FROTH_MAIL_H
#define FROTH_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sbuf.h"
#include "store/store.h"

/* Maximum length of an address, in bytes: the path limit of RFC 5321 (256) less its brackets. */
#define MAIL_ADDRESS_MAX 254
/* Maximum length of a display name, in bytes of UTF-8. */
#define MAIL_NAME_MAX 200

/* A mailbox: an optional display name and an address. */
typedef struct {
    char name[MAIL_NAME_MAX + 1]; /* UTF-8, "" when absent */
    char address[MAIL_ADDRESS_MAX + 1];
} mail_mailbox_t;

/* Returns true when address is a plain ASCII addr-spec (local@domain) that can go into a header
 * and an SMTP command as it is. That means no spaces, control characters, brackets, quotes or
 * commas, one
 * "@", a non-empty local part and a domain of letters, digits, dots and hyphens. Stricter than RFC
 * 5322 on purpose, so that nothing in it can end a header or a command. */
bool mail_address_is_valid(const char *address);

/* Parses "address" or "Display Name <address>" (the name may be in double quotes) into out.
 * ERR_INVALID when the address is invalid, the name contains a control character (CR and LF
 * included) or is not UTF-8, or either is too long. */
err_t mail_mailbox_parse(const char *text, mail_mailbox_t *out) WARN_UNUSED;

/* The fields of one message. body is UTF-8 text with LF or CRLF line ends. */
typedef struct {
    const mail_mailbox_t *from;
    const char *to;      /* an address that mail_address_is_valid accepts */
    const char *subject; /* UTF-8, one line */
    const char *body;
    const char *message_id; /* "<unique@domain>" */
    int64_t date_ms;        /* the Date header, in epoch milliseconds */
} mail_message_t;

/* Appends the message to out: From, To, Subject (as RFC 2047 encoded words when it is not plain
 * ASCII), Date, Message-ID, MIME-Version and a text/plain UTF-8 body with CRLF line ends. The body
 * is sent as 7bit when it is ASCII with short lines, and as base64 otherwise. Dot-stuffing is left
 * to the SMTP client. ERR_INVALID when the recipient or message id is unusable or the subject holds
 * a control character or invalid UTF-8, which is how a header injection is rejected; out's own
 * error otherwise. */
err_t mail_message_write(const mail_message_t *m, sbuf_t *out) WARN_UNUSED;

/* ---- The sender (sender.c) ---- */

typedef enum {
    MAIL_STARTTLS_REQUIRED = 0, /* smtp:// refuses to send without STARTTLS */
    MAIL_STARTTLS_OPTIONAL,     /* smtp:// uses STARTTLS when the relay offers it */
} mail_starttls_t;

typedef struct {
    const char *url;      /* smtp://host[:port][/ehlo-name] or smtps://... */
    const char *user;     /* NULL for no authentication */
    const char *password; /* NULL with no user */
    mail_mailbox_t from;
    mail_starttls_t starttls;
    unsigned poll_ms;      /* how often the outbox is looked at */
    unsigned retry_ms;     /* delay before the first retry; each later one doubles */
    unsigned max_attempts; /* attempts before a temporary failure becomes final */
} mail_config_t;

/* Checks an SMTP relay URL: smtp:// or smtps://, a host, an optional port and an optional path
 * (the name sent in EHLO), no user name or password, no spaces, query or fragment. On failure
 * writes a reason to msg and returns ERR_INVALID. */
err_t mail_url_check(const char *url, char *msg, size_t msg_len) WARN_UNUSED;

/* Initialises libcurl. Call once from the main thread before any sender starts. */
err_t mail_global_init(void) WARN_UNUSED;
void mail_global_cleanup(void);

typedef struct mail_sender mail_sender_t;

/* Starts a thread that claims queued emails from store every config->poll_ms and sends each
 * through the relay. config and the strings it points to must outlive the sender. Several nodes
 * may run senders on one store: each email goes to one node at a time. */
err_t mail_sender_start(const mail_config_t *config, store_t *store,
                        mail_sender_t **out) WARN_UNUSED;

/* Stops the thread after the attempt in progress, if any. Accepts NULL. */
void mail_sender_stop(mail_sender_t *sender);

#endif

/* The sender: a thread that delivers the outbox through an SMTP relay with libcurl.
 *
 * libcurl speaks SMTP, STARTTLS, implicit TLS and SASL authentication, and escapes lines that
 * start with a dot, so this file only chooses what to send and what a failure means. Each email
 * is claimed with a lease, so with several nodes on one store each attempt is made by one node.
 * A reply in the 4xx range, a connection or TLS failure and a refused login or STARTTLS are
 * temporary, and they are retried with exponential backoff. A 5xx reply is permanent. A node that
 * stops after the relay accepted an email but before recording it leaves the email to be sent again
 * after its lease.
 */
#include "mail/mail.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"

#define CLAIM_BATCH 8
/* Longer than any attempt can take: the connection timeout plus the transfer timeout. */
#define LEASE_MS (5 * 60 * 1000)
#define CONNECT_TIMEOUT_S 10L
#define TRANSFER_TIMEOUT_S 60L
/* An email still unsent a day after it was queued is given up: a reset link in it has long
 * expired, and a relay configured after months of queueing must not send old mail. */
#define MAX_AGE_MS (24LL * 60 * 60 * 1000)
/* Retries are never further apart than this, however many attempts the limit allows. */
#define MAX_RETRY_DELAY_MS (60LL * 60 * 1000)
/* The largest message built: the body is a short text, so this is far above any real one. */
#define MESSAGE_MAX (1u << 20)

struct mail_sender {
    const mail_config_t *config;
    const char *domain; /* of the sender address: the right side of Message-IDs */
    store_t *store;
    CURL *curl;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    atomic_bool stopping; /* read by libcurl's progress callback without the lock */
};

typedef enum {
    ATTEMPT_SENT,
    ATTEMPT_TEMPORARY,
    ATTEMPT_PERMANENT,
} attempt_result_t;

typedef struct {
    attempt_result_t result;
    long code;                   /* the relay's last reply code, 0 when none came */
    char error[CURL_ERROR_SIZE]; /* why it failed; contains no password and no body */
} attempt_t;

err_t mail_url_check(const char *url, char *msg, size_t msg_len)
{
    const char *host = strncmp(url, "smtp://", 7) == 0    ? url + 7
                       : strncmp(url, "smtps://", 8) == 0 ? url + 8
                                                          : NULL;
    const char *problem = NULL;
    if (host == NULL)
        problem = "expected smtp:// or smtps://";
    else if (*host == '\0' || *host == '/' || *host == ':')
        problem = "the host is missing";
    else if (strlen(url) > 1024)
        problem = "longer than 1024 characters";
    for (const char *p = url; problem == NULL && *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            problem = "spaces and control characters are not allowed";
        else if (*p == '?' || *p == '#')
            problem = "a query or fragment is not allowed";
    }
    const char *authority_end = host != NULL ? host + strcspn(host, "/") : NULL;
    if (problem == NULL && memchr(host, '@', (size_t)(authority_end - host)) != NULL)
        problem = "a user name in the URL is not allowed: use --smtp-user and "
                  "--smtp-password-file";
    if (problem == NULL)
        return ERR_OK;
    snprintf(msg, msg_len, "invalid SMTP URL: %s", problem);
    return ERR_INVALID;
}

err_t mail_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? ERR_OK : ERR_INTERNAL;
}

void mail_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- One attempt ---- */

typedef struct {
    const char *p;
    size_t left;
} upload_t;

static size_t read_message(char *buffer, size_t size, size_t nitems, void *userdata)
{
    upload_t *u = userdata;
    size_t n = size * nitems < u->left ? size * nitems : u->left;
    memcpy(buffer, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/* Aborts the transfer when the sender is stopping, so that stopping waits for no timeout. */
static int check_stop(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    const mail_sender_t *s = userdata;
    return atomic_load(&s->stopping) ? 1 : 0;
}

static void set_options(mail_sender_t *s, struct curl_slist *recipients, upload_t *upload,
                        char *error)
{
    const mail_config_t *c = s->config;
    CURL *curl = s->curl;
    char from_path[MAIL_ADDRESS_MAX + 3];
    snprintf(from_path, sizeof(from_path), "<%s>", c->from.address);
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, TRANSFER_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_stop);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, s);
    if (strncmp(c->url, "smtp://", 7) == 0)
        curl_easy_setopt(curl, CURLOPT_USE_SSL,
                         c->starttls == MAIL_STARTTLS_REQUIRED ? (long)CURLUSESSL_ALL
                                                               : (long)CURLUSESSL_TRY);
    if (c->user != NULL) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from_path);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload->left);
}

/* Hands one message to the relay and classifies what happened. */
static void deliver(mail_sender_t *s, const char *to, const sbuf_t *message, attempt_t *a)
{
    char to_path[MAIL_ADDRESS_MAX + 3];
    snprintf(to_path, sizeof(to_path), "<%s>", to);
    struct curl_slist *recipients = curl_slist_append(NULL, to_path);
    a->error[0] = '\0';
    a->code = 0;
    if (recipients == NULL) {
        a->result = ATTEMPT_TEMPORARY;
        snprintf(a->error, sizeof(a->error), "out of memory");
        return;
    }
    upload_t upload = {.p = sbuf_cstr(message), .left = message->len};
    set_options(s, recipients, &upload, a->error);
    const CURLcode rc = curl_easy_perform(s->curl);
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &a->code);
    curl_slist_free_all(recipients);
    /* The handle keeps its connection for the next email but no pointer into this one. */
    curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, NULL);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OK) {
        a->result = ATTEMPT_SENT;
        return;
    }
    if (a->error[0] == '\0')
        snprintf(a->error, sizeof(a->error), "%s", curl_easy_strerror(rc));
    /* A refused login or STARTTLS is the relay's configuration, not this email's fault: it is
     * retried like a connection failure, though the relay may reply to it with a 5xx code. */
    const bool setup = rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED;
    a->result = a->code >= 500 && a->code < 600 && !setup ? ATTEMPT_PERMANENT : ATTEMPT_TEMPORARY;
}

/* ---- The loop ---- */

static int64_t retry_delay_ms(const mail_config_t *c, int attempt)
{
    int64_t delay = c->retry_ms;
    for (int i = 1; i < attempt && delay < MAX_RETRY_DELAY_MS; i++)
        delay *= 2;
    return delay < MAX_RETRY_DELAY_MS ? delay : MAX_RETRY_DELAY_MS;
}

static void record(store_conn_t *conn, const store_mail_t *m, store_mail_outcome_t outcome,
                   int64_t next_ms, const char *error)
{
    if (store_outbox_finish(conn, m->id, outcome, clock_now_ms(), next_ms, error) != ERR_OK)
        LOG_ERROR("recording an email's delivery failed", "id=%lld", (long long)m->id);
}

/* Builds the message of a claimed email. */
static err_t build(const mail_sender_t *s, const store_mail_t *m, sbuf_t *out)
{
    const mail_message_t message = {.from = &s->config->from,
                                    .to = m->recipient,
                                    .subject = m->subject,
                                    .body = m->body,
                                    .message_id = m->message_id,
                                    .date_ms = clock_now_ms()};
    return mail_message_write(&message, out);
}

static void send_one(mail_sender_t *s, store_conn_t *conn, const store_mail_t *m)
{
    const long long id = (long long)m->id;
    if (clock_now_ms() - m->created_ms > MAX_AGE_MS) {
        LOG_WARN("email given up unsent", "id=%lld attempt=%d reason=%s", id, m->attempt,
                 log_quote("queued more than 24 hours ago"));
        record(conn, m, STORE_MAIL_FAILED, 0, "queued more than 24 hours ago");
        return;
    }
    sbuf_t message;
    sbuf_init(&message, MESSAGE_MAX);
    const err_t err = build(s, m, &message);
    if (err != ERR_OK) {
        /* Only a recipient or subject that can never go into a header gets here. */
        const char *why = err == ERR_INVALID ? "invalid recipient address or subject"
                                             : "the message could not be built";
        LOG_WARN("email rejected before sending", "id=%lld reason=%s err=%s", id, log_quote(why),
                 err_name(err));
        record(conn, m, STORE_MAIL_FAILED, 0, why);
    } else {
        attempt_t a;
        deliver(s, m->recipient, &message, &a);
        const bool last = m->attempt >= (int)s->config->max_attempts;
        if (a.result == ATTEMPT_SENT) {
            LOG_INFO("email sent", "id=%lld attempt=%d code=%ld message_id=%s", id, m->attempt,
                     a.code, log_quote(m->message_id));
            record(conn, m, STORE_MAIL_SENT, 0, NULL);
        } else if (a.result == ATTEMPT_TEMPORARY && !last) {
            const int64_t delay = retry_delay_ms(s->config, m->attempt);
            LOG_WARN("email delivery failed, will retry",
                     "id=%lld attempt=%d code=%ld error=%s retry_in_ms=%lld", id, m->attempt,
                     a.code, log_quote(a.error), (long long)delay);
            record(conn, m, STORE_MAIL_RETRY, clock_now_ms() + delay, a.error);
        } else {
            LOG_WARN("email delivery failed", "id=%lld attempt=%d code=%ld error=%s final=%s", id,
                     m->attempt, a.code, log_quote(a.error),
                     a.result == ATTEMPT_PERMANENT ? "permanent" : "attempts_exhausted");
            record(conn, m, STORE_MAIL_FAILED, 0, a.error);
        }
    }
    if (message.data != NULL)
        sodium_memzero(message.data, message.len);
    sbuf_deinit(&message);
}

/* Claims and sends one batch. Returns how many were claimed. */
static size_t send_due(mail_sender_t *s)
{
    store_conn_t *conn;
    if (store_acquire(s->store, &conn) != ERR_OK)
        return 0;
    arena_t *arena = arena_new(16 * 1024, 16u << 20);
    store_mail_t *mails = NULL;
    size_t n = 0;
    const err_t err = arena == NULL ? ERR_NOMEM
                                    : store_outbox_claim(conn, clock_now_ms(), LEASE_MS, s->domain,
                                                         CLAIM_BATCH, arena, &mails, &n);
    if (err != ERR_OK)
        LOG_ERROR("claiming emails to send failed", "err=%s", err_name(err));
    for (size_t i = 0; err == ERR_OK && i < n; i++) {
        send_one(s, conn, &mails[i]);
        sodium_memzero((char *)mails[i].body, strlen(mails[i].body));
    }
    arena_free(arena);
    store_release(conn);
    return err == ERR_OK ? n : 0;
}

static void *sender_main(void *arg)
{
    mail_sender_t *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        const size_t claimed = send_due(s);
        pthread_mutex_lock(&s->lock);
        if (claimed == CLAIM_BATCH || s->stop)
            continue; /* more may be waiting */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(s->config->poll_ms % 1000) * 1000000L;
        until.tv_sec += s->config->poll_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

err_t mail_sender_start(const mail_config_t *config, store_t *store, mail_sender_t **out)
{
    const char *at = strchr(config->from.address, '@');
    if (at == NULL || config->url == NULL || config->poll_ms == 0 || config->max_attempts == 0)
        return ERR_INVALID;
    mail_sender_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    s->config = config;
    s->domain = at + 1;
    s->store = store;
    atomic_init(&s->stopping, false);
    s->curl = curl_easy_init();
    if (s->curl == NULL) {
        free(s);
        return ERR_NOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        curl_easy_cleanup(s->curl);
        free(s);
        return ERR_INTERNAL;
    }
    *out = s;
    return ERR_OK;
}

void mail_sender_stop(mail_sender_t *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stopping, true);
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    curl_easy_cleanup(s->curl);
    free(s);
}

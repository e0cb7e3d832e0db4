/* Uploaded files: the base64 file objects of the Data and Workflow APIs, kept on disk, and the
 * route /_froth/files/<id>/<name> that serves them back.
 *
 * A file lives at <files dir>/<id>/<name> next to a sidecar <files dir>/<id>.json that records
 * its name, whether it is private and the thing it is attached to. The sidecar is written last,
 * so a file without one was never completed and is never served. The store is not involved: a
 * private file is checked against the attached thing's privacy rules on every read. Multipart
 * uploads are not handled here.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "core/ids.h"
#include "core/log.h"
#include "json/jsonx.h"

#define ROUTE_PREFIX "/_froth/files/"
#define NAME_MAX_CHARS 100
#define EXTENSION_MAX_CHARS 16 /* ".jpeg", ".docx": longer tails are not kept when cutting */
#define SIDECAR_MAX_BYTES 65536
#define HOST_MAX_CHARS 255

/* One file stored by the request in flight, so a request that fails can remove it again. */
struct api__upload {
    char id[ID_SIZE];
    const char *name;
    struct api__upload *next;
};

/* What a sidecar records about a file. */
typedef struct {
    const char *name;
    bool is_private;
    bool test_env;           /* uploaded through /version-test: its thing is in the test database */
    const char *attach_type; /* display name of the attached thing's type, or NULL */
    const char *attach_id;   /* or NULL */
} sidecar_t;

static void log_io_error(const char *what, const char *id, int error)
{
    char text[128] = "unknown error";
    (void)strerror_r(error, text, sizeof(text));
    LOG_ERROR("file storage failed", "operation=%s file=%s error=%s", what, id, log_quote(text));
}

/* ---- Names -------------------------------------------------------------------------------- */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* A name as sanitize_name writes it, which is what the route accepts: it never contains a path
 * separator and never starts with a dot, so it cannot be ".", ".." or a sidecar. */
static bool name_is_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_CHARS || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_name_char(s[i]))
            return false;
    }
    return true;
}

/* Writes a safe version of a client's file name into out (NAME_MAX_CHARS + 1 bytes). Characters
 * outside [A-Za-z0-9._-] become '_' (one per UTF-8 sequence) and a leading '.' becomes '_'. A name
 * over the limit is cut in its stem, so the extension that decides the Content-Type survives. An
 * empty name becomes "file". */
static void sanitize_name(const char *in, size_t n, char *out)
{
    char mapped[NAME_MAX_CHARS + EXTENSION_MAX_CHARS + 1];
    size_t len = 0, extension = 0;
    char tail[EXTENSION_MAX_CHARS + 1] = "";
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)in[i];
        if ((c & 0xC0) == 0x80)
            continue;
        const char safe = is_name_char((char)c) ? (char)c : '_';
        if (len < sizeof(mapped) - 1)
            mapped[len++] = safe;
        /* The extension is tracked over the whole name, because the stem may be cut. */
        if (safe == '.') {
            extension = 1;
            tail[0] = '.';
            tail[1] = '\0';
        } else if (extension > 0 && extension < EXTENSION_MAX_CHARS) {
            tail[extension++] = safe;
            tail[extension] = '\0';
        } else if (extension > 0) {
            extension = 0;
            tail[0] = '\0';
        }
    }
    mapped[len] = '\0';
    if (len > NAME_MAX_CHARS) {
        const size_t keep = NAME_MAX_CHARS - strlen(tail);
        memcpy(out, mapped, keep);
        strcpy(out + keep, tail);
    } else {
        memcpy(out, mapped, len + 1);
    }
    if (out[0] == '\0')
        strcpy(out, "file");
    if (out[0] == '.')
        out[0] = '_';
}

static const char *content_type_for(const char *name)
{
    static const struct {
        const char *extension;
        const char *type;
    } types[] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},   {"webp", "image/webp"},     {"svg", "image/svg+xml"},
        {"pdf", "application/pdf"}, {"txt", "text/plain"},  {"json", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    if (dot != NULL) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            if (strcasecmp(dot + 1, types[i].extension) == 0)
                return types[i].type;
        }
    }
    return "application/octet-stream";
}

/* ---- URLs --------------------------------------------------------------------------------- */

/* Returns the Host header when it looks like a host name, an IPv4 or a bracketed IPv6 address
 * with an optional port. Anything else could inject text into the URLs built from it. */
static const char *request_host(const api_call_t *call)
{
    const char *host = http_header(call->req, "Host");
    if (host == NULL || host[0] == '\0' || strlen(host) > HOST_MAX_CHARS)
        return "localhost";
    for (const char *p = host; *p != '\0'; p++) {
        const char c = *p;
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == ':' || c == '-' || c == '[' || c == ']';
        if (!ok)
            return "localhost";
    }
    return host;
}

/* The field value of a stored file: protocol-relative on the request's host, as Bubble's own
 * file URLs are, or on --public-url when it is set. */
static char *file_url(const api_call_t *call, const char *id, const char *name)
{
    const char *base = call->api->public_url;
    if (base != NULL && base[0] != '\0') {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
            n--;
        return arena_printf(call->req->arena, "%.*s" ROUTE_PREFIX "%s/%s", (int)n, base, id, name);
    }
    return arena_printf(call->req->arena, "//%s" ROUTE_PREFIX "%s/%s", request_host(call), id,
                        name);
}

/* ---- Upload objects ----------------------------------------------------------------------- */

typedef struct {
    const json_t *filename;
    const json_t *contents;
    const json_t *is_private;
    const json_t *attach_to;
} file_object_t;

static err_t read_file_object(api_call_t *call, const json_t *j, file_object_t *o,
                              const char **reason)
{
    memset(o, 0, sizeof(*o));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        if (strcmp(key, "filename") == 0) {
            o->filename = v;
        } else if (strcmp(key, "contents") == 0) {
            o->contents = v;
        } else if (strcmp(key, "private") == 0) {
            o->is_private = v;
        } else if (strcmp(key, "attach_to") == 0) {
            o->attach_to = v;
        } else {
            const char *text = arena_printf(call->req->arena,
                                            "unknown key %.64s in a file object: the keys are "
                                            "filename, contents, private and attach_to", key);
            *reason = text != NULL ? text : "unknown key in a file object";
            return ERR_INVALID;
        }
    }
    if (o->contents == NULL || !json_is_string(o->contents)) {
        *reason = "a file object needs contents: the file's bytes as base64 text";
        return ERR_INVALID;
    }
    if (o->filename != NULL && !json_is_null(o->filename) && !json_is_string(o->filename)) {
        *reason = "filename must be text";
        return ERR_INVALID;
    }
    if (o->is_private != NULL && !json_is_boolean(o->is_private)) {
        *reason = "private must be true or false";
        return ERR_INVALID;
    }
    if (o->attach_to != NULL && !json_is_string(o->attach_to)) {
        *reason = "attach_to must be the unique id of a thing";
        return ERR_INVALID;
    }
    if (o->is_private != NULL && json_is_true(o->is_private) && o->attach_to == NULL) {
        *reason = "a private file needs attach_to: the unique id of the thing whose privacy rules "
                  "decide who may read it";
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* Decodes standard base64 with or without padding (line breaks are skipped, as MIME encoders
 * insert them) into a new malloc'd buffer the caller frees. */
static err_t decode_contents(const api_call_t *call, const json_t *contents, unsigned char **out,
                             size_t *len, const char **reason)
{
    const char *text = json_string_value(contents);
    const size_t n = json_string_length(contents);
    const size_t cap = n / 4 * 3 + 3;
    unsigned char *bin = malloc(cap);
    if (bin == NULL)
        return ERR_NOMEM;
    size_t bin_len = 0;
    if (sodium_base642bin(bin, cap, text, n, "\r\n", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 &&
        sodium_base642bin(bin, cap, text, n, "\r\n", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) {
        free(bin);
        *reason = "contents must be standard base64 (A-Z, a-z, 0-9, + and /, padding optional)";
        return ERR_INVALID;
    }
    if (bin_len > call->api->max_file_bytes) {
        free(bin);
        const char *text_reason =
            arena_printf(call->req->arena, "the file is %zu bytes and the limit is %zu", bin_len,
                         call->api->max_file_bytes);
        *reason = text_reason != NULL ? text_reason : "the file is over the size limit";
        return ERR_TOO_LARGE;
    }
    *out = bin;
    *len = bin_len;
    return ERR_OK;
}

/* Finds the type of the thing an attach_to id names. The uploader must be able to view the
 * thing, so that attach_to cannot be used to probe for the ids of hidden things. */
static err_t find_attach_target(api_call_t *call, const json_t *attach_to,
                                const app_type_t **type_out, const char **reason)
{
    static const char *const not_found = "attach_to names no thing you can view";
    const char *id = json_string_value(attach_to);
    if (!id_is_valid(id, json_string_length(attach_to))) {
        *reason = not_found;
        return ERR_INVALID;
    }
    /* Every type is tried with one statement that only matches a visible thing, so a hidden
     * thing and a missing one cost the same work. */
    for (size_t i = 0; i < call->app->ntypes; i++) {
        const app_type_t *type = &call->app->types[i];
        store_row_t row;
        const err_t err = privacy_get_visible(&call->pctx, type, id, &row, NULL);
        if (err == ERR_NOT_FOUND)
            continue;
        if (err != ERR_OK)
            return err;
        *type_out = type;
        return ERR_OK;
    }
    *reason = not_found;
    return ERR_INVALID;
}

/* ---- Disk --------------------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        const ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes data to dir_fd/name through a temporary name and a rename, so a reader never sees a
 * half-written file. Returns 0 or an errno value. */
static int write_atomically(int dir_fd, const char *name, const void *data, size_t n)
{
    char tmp[NAME_MAX_CHARS + 64];
    snprintf(tmp, sizeof(tmp), "%s.tmp", name);
    const int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    int error = write_all(fd, data, n);
    if (error == 0 && fsync(fd) != 0)
        error = errno;
    if (close(fd) != 0 && error == 0)
        error = errno;
    if (error == 0 && renameat(dir_fd, tmp, dir_fd, name) != 0)
        error = errno;
    if (error != 0)
        unlinkat(dir_fd, tmp, 0);
    return error;
}

/* Reads exactly n bytes from the start of fd. */
static bool read_fully(int fd, char *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        const ssize_t r = pread(fd, buf + done, n - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

static int open_files_dir(const api_call_t *call)
{
    const int root = open(call->api->files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        log_io_error("open files directory", "-", errno);
    return root;
}

/* Creates <id>/ with the file in it, then the sidecar, under a fresh id written into id. On
 * failure removes whatever it created. */
static err_t store_file(const api_call_t *call, const char *name, const void *data, size_t n,
                        const sbuf_t *sidecar, char *id)
{
    const int root = open_files_dir(call);
    if (root < 0)
        return ERR_IO;
    int error = 0;
    /* A fresh id is unique in practice. If its directory exists anyway, another id is drawn,
     * because writing into a directory this request did not create could mix two files. */
    for (int attempt = 0; attempt < 3; attempt++) {
        id_generate(id);
        error = mkdirat(root, id, 0700) == 0 ? 0 : errno;
        if (error != EEXIST)
            break;
    }
    const bool created = error == 0;
    int dir = -1;
    if (created) {
        dir = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        error = dir < 0 ? errno : write_atomically(dir, name, data, n);
    }
    char sidecar_name[ID_SIZE + 8];
    snprintf(sidecar_name, sizeof(sidecar_name), "%s.json", id);
    if (error == 0)
        error = write_atomically(root, sidecar_name, sidecar->data, sidecar->len);
    if (error != 0) {
        log_io_error("write file", id, error);
        if (dir >= 0)
            unlinkat(dir, name, 0);
        if (created)
            unlinkat(root, id, AT_REMOVEDIR);
    }
    if (dir >= 0)
        close(dir);
    close(root);
    return error == 0 ? ERR_OK : ERR_IO;
}

/* Removes a stored file, its sidecar first so that it stops being served at once. */
static void remove_stored(int root, const char *id, const char *name)
{
    char path[ID_SIZE + NAME_MAX_CHARS + 8];
    snprintf(path, sizeof(path), "%s.json", id);
    if (unlinkat(root, path, 0) != 0)
        log_io_error("remove sidecar", id, errno);
    snprintf(path, sizeof(path), "%s/%s", id, name);
    if (unlinkat(root, path, 0) != 0)
        log_io_error("remove file", id, errno);
    if (unlinkat(root, id, AT_REMOVEDIR) != 0)
        log_io_error("remove file directory", id, errno);
}

static void write_sidecar(const api_call_t *call, const char *name, const file_object_t *o,
                          const app_type_t *attach_type, size_t bytes, sbuf_t *sb)
{
    const bool is_private = o->is_private != NULL && json_is_true(o->is_private);
    sbuf_puts(sb, "{\"name\":");
    sbuf_put_json_string(sb, name, strlen(name));
    sbuf_printf(sb, ",\"private\":%s,\"env\":\"%s\",\"bytes\":%zu", is_private ? "true" : "false",
                call->env_name, bytes);
    if (attach_type != NULL) {
        sbuf_puts(sb, ",\"attach_type\":");
        sbuf_put_json_string(sb, attach_type->name, strlen(attach_type->name));
        sbuf_puts(sb, ",\"attach_id\":");
        sbuf_put_json_string(sb, json_string_value(o->attach_to), json_string_length(o->attach_to));
    }
    const char *uploader = api__creator_id(call);
    if (uploader != NULL) {
        sbuf_puts(sb, ",\"uploaded_by\":");
        sbuf_put_json_string(sb, uploader, strlen(uploader));
    }
    sbuf_putc(sb, '}');
}

err_t api__file_from_json(api_call_t *call, const json_t *j, value_t *out, const char **reason)
{
    if (call->api->files_dir == NULL) {
        *reason = "this server does not store uploaded files: send the file's URL";
        return ERR_INVALID;
    }
    file_object_t o;
    err_t err = read_file_object(call, j, &o, reason);
    if (err != ERR_OK)
        return err;
    char name[NAME_MAX_CHARS + 1];
    if (o.filename != NULL && json_is_string(o.filename))
        sanitize_name(json_string_value(o.filename), json_string_length(o.filename), name);
    else
        sanitize_name("", 0, name);
    unsigned char *data = NULL;
    size_t n = 0;
    err = decode_contents(call, o.contents, &data, &n, reason);
    if (err != ERR_OK)
        return err;
    const app_type_t *attach_type = NULL;
    if (o.attach_to != NULL)
        err = find_attach_target(call, o.attach_to, &attach_type, reason);

    sbuf_t sidecar;
    sbuf_init(&sidecar, SIDECAR_MAX_BYTES);
    write_sidecar(call, name, &o, attach_type, n, &sidecar);
    if (err == ERR_OK)
        err = sbuf_error(&sidecar);
    char id[ID_SIZE];
    if (err == ERR_OK)
        err = store_file(call, name, data, n, &sidecar, id);
    free(data);
    sbuf_deinit(&sidecar);
    if (err != ERR_OK)
        return err;

    struct api__upload *upload = arena_calloc(call->req->arena, 1, sizeof(*upload));
    char *url = file_url(call, id, name);
    char *stored_name = arena_strdup(call->req->arena, name);
    if (upload == NULL || url == NULL || stored_name == NULL) {
        /* Without its record the file could not be removed if the request fails later. */
        const int root = open_files_dir(call);
        if (root >= 0) {
            remove_stored(root, id, name);
            close(root);
        }
        return ERR_NOMEM;
    }
    memcpy(upload->id, id, ID_SIZE);
    upload->name = stored_name;
    upload->next = call->uploads;
    call->uploads = upload;
    call->nuploads++;
    LOG_INFO("file stored", "file=%s name=%s bytes=%zu private=%s", id, name, n,
             o.is_private != NULL && json_is_true(o.is_private) ? "true" : "false");
    *out = value_text(url, strlen(url));
    return ERR_OK;
}

void api__files_discard(api_call_t *call, size_t keep)
{
    if (call->nuploads <= keep || call->api->files_dir == NULL)
        return;
    const int root = open_files_dir(call);
    while (call->nuploads > keep && call->uploads != NULL) {
        const struct api__upload *u = call->uploads;
        if (root >= 0)
            remove_stored(root, u->id, u->name);
        LOG_INFO("file removed because its request failed", "file=%s", u->id);
        call->uploads = u->next;
        call->nuploads--;
    }
    if (root >= 0)
        close(root);
}

/* ---- Serving ------------------------------------------------------------------------------ */

static const char *json_text(const json_t *object, const char *key)
{
    const json_t *v = json_object_get(object, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static err_t parse_sidecar(api_call_t *call, const char *text, size_t n, sidecar_t *out)
{
    json_t *root = NULL;
    char msg[160];
    if (jsonx_parse(text, n, &root, msg, sizeof(msg)) != ERR_OK)
        return ERR_INVALID;
    const char *name = json_text(root, "name");
    const char *env = json_text(root, "env");
    const char *type = json_text(root, "attach_type");
    const char *thing = json_text(root, "attach_id");
    const json_t *is_private = json_object_get(root, "private");
    err_t err = ERR_INVALID;
    if (name != NULL && name_is_valid(name) && env != NULL && json_is_boolean(is_private) &&
        (!json_is_true(is_private) || (type != NULL && thing != NULL))) {
        out->name = arena_strdup(call->req->arena, name);
        out->is_private = json_is_true(is_private);
        out->test_env = strcmp(env, "test") == 0;
        out->attach_type = type != NULL ? arena_strdup(call->req->arena, type) : NULL;
        out->attach_id = thing != NULL ? arena_strdup(call->req->arena, thing) : NULL;
        err = out->name == NULL || (type != NULL && out->attach_type == NULL) ||
                      (thing != NULL && out->attach_id == NULL)
                  ? ERR_NOMEM
                  : ERR_OK;
    }
    json_decref(root);
    return err;
}

/* Loads the sidecar of id. ERR_NOT_FOUND when there is none or it cannot be read as one. */
static err_t read_sidecar(api_call_t *call, int root, const char *id, sidecar_t *out)
{
    char path[64];
    snprintf(path, sizeof(path), "%s.json", id);
    const int fd = openat(root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return ERR_NOT_FOUND;
        log_io_error("open sidecar", id, errno);
        return ERR_IO;
    }
    struct stat st;
    char *text = NULL;
    err_t err = ERR_NOT_FOUND;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= SIDECAR_MAX_BYTES) {
        const size_t n = (size_t)st.st_size;
        text = arena_alloc(call->req->arena, n + 1);
        if (text == NULL)
            err = ERR_NOMEM;
        else if (read_fully(fd, text, n))
            err = parse_sidecar(call, text, n, out);
    }
    close(fd);
    if (err == ERR_INVALID || err == ERR_NOT_FOUND) {
        LOG_WARN("sidecar unreadable; the file is not served", "file=%s", id);
        err = ERR_NOT_FOUND;
    }
    return err;
}

/* Decides whether the caller may read a private file. An admin may, and so may a caller who can
 * view the attached thing and has the view_files permission on it. A bad credential gets no
 * permission rather than a 401, so every refusal looks like a missing file. */
static err_t may_read_private(api_call_t *call, const sidecar_t *sc, bool *allowed)
{
    *allowed = false;
    call->store = sc->test_env ? call->api->test_store : call->api->store;
    call->env_name = sc->test_env ? "test" : "live";
    if (call->store == NULL)
        return ERR_OK;
    err_t err = store_acquire(call->store, &call->conn);
    if (err != ERR_OK)
        return err;
    err = api__authenticate(call);
    if (err == ERR_EXPIRED) {
        err = ERR_OK;
        goto out;
    }
    if (err != ERR_OK)
        goto out;
    if (call->caller.kind == CALLER_ADMIN) {
        *allowed = true;
        goto out;
    }
    const app_type_t *type = app_find_type(call->app, sc->attach_type, strlen(sc->attach_type));
    store_row_t row;
    if (type == NULL || !id_is_valid(sc->attach_id, strlen(sc->attach_id)))
        goto out;
    /* A deleted thing and a hidden one take the same one statement and give the same 404. */
    privacy_perms_t perms;
    err = privacy_get_visible(&call->pctx, type, sc->attach_id, &row, &perms);
    if (err == ERR_NOT_FOUND) {
        err = ERR_OK;
        goto out;
    }
    *allowed = err == ERR_OK && perms.view_files;
out:
    store_release(call->conn);
    call->conn = NULL;
    return err;
}

static void set_file_headers(api_call_t *call, const sidecar_t *sc)
{
    http_response_t *res = call->res;
    res->content_type = content_type_for(sc->name);
    http_response_header(res, "X-Content-Type-Options", "nosniff");
    /* An SVG opened as a page runs its scripts on this origin. Sent as an attachment, it is saved
     * by browsers instead of shown. */
    if (strcmp(res->content_type, "image/svg+xml") == 0) {
        const char *disposition =
            arena_printf(call->req->arena, "attachment; filename=\"%s\"", sc->name);
        http_response_header(res, "Content-Disposition",
                             disposition != NULL ? disposition : "attachment");
    }
    http_response_header(res, "Cache-Control",
                         sc->is_private ? "private, no-store" : "public, max-age=86400");
}

/* Copies the file into the response body. Files are capped at upload, so reading one whole is
 * bounded; the response buffer's own cap still applies. */
static err_t send_file(api_call_t *call, int root, const char *id, const sidecar_t *sc)
{
    char path[ID_SIZE + NAME_MAX_CHARS + 8];
    snprintf(path, sizeof(path), "%s/%s", id, sc->name);
    const int fd = openat(root, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        if (error != ENOENT)
            log_io_error("open file", id, error);
        else
            LOG_WARN("file missing next to its sidecar", "file=%s", id);
        return error == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ERR_NOT_FOUND;
    }
    sbuf_t *body = &call->res->body;
    sbuf_clear(body);
    char chunk[16384];
    err_t err = ERR_OK;
    for (;;) {
        const ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            log_io_error("read file", id, errno);
            err = ERR_IO;
            break;
        }
        if (r == 0)
            break;
        sbuf_append(body, chunk, (size_t)r);
    }
    close(fd);
    if (err == ERR_OK)
        err = sbuf_error(body);
    if (err != ERR_OK) {
        sbuf_clear(body);
        return err;
    }
    set_file_headers(call, sc);
    call->res->status = 200;
    return ERR_OK;
}

static void reply_file_not_found(api_call_t *call)
{
    api__reply_envelope(call, 404, "NOT_FOUND", "File not found");
}

/* Splits "<id>/<name>" after the route prefix. Only one shape is accepted: an id as ids are
 * generated and a name as sanitize_name writes them, which leaves no way to name a path outside
 * the files directory. */
static bool parse_file_path(api_call_t *call, const char **id, const char **name)
{
    const size_t prefix = strlen(ROUTE_PREFIX);
    const char *rest = call->req->path + prefix;
    const size_t n = call->req->path_len - prefix;
    const char *slash = memchr(rest, '/', n);
    if (slash == NULL)
        return false;
    size_t id_len, name_len;
    char *decoded_id = http_url_decode(call->req->arena, rest, (size_t)(slash - rest), &id_len);
    char *decoded_name = http_url_decode(call->req->arena, slash + 1,
                                         (size_t)(rest + n - slash - 1), &name_len);
    if (decoded_id == NULL || decoded_name == NULL || !id_is_valid(decoded_id, id_len) ||
        !name_is_valid(decoded_name))
        return false;
    *id = decoded_id;
    *name = decoded_name;
    return true;
}

static void serve_file(api_call_t *call, const char *id, const char *name)
{
    const int root = open_files_dir(call);
    if (root < 0) {
        api__reply_failure(call, ERR_IO, "open files directory");
        return;
    }
    /* NOTE: a missing file returns here without a database statement, while a private file
     * that the caller may not read costs one, so the time taken shows whether the id exists. */
    sidecar_t sc;
    err_t err = read_sidecar(call, root, id, &sc);
    if (err == ERR_OK && strcmp(sc.name, name) != 0)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK && sc.is_private) {
        bool allowed = false;
        err = may_read_private(call, &sc, &allowed);
        if (err == ERR_OK && !allowed)
            err = ERR_NOT_FOUND;
    }
    if (err == ERR_OK)
        err = send_file(call, root, id, &sc);
    close(root);
    if (err == ERR_NOT_FOUND)
        reply_file_not_found(call);
    else if (err != ERR_OK)
        api__reply_failure(call, err, "serve file");
}

bool api__files_route(api_call_t *call)
{
    const http_request_t *req = call->req;
    const size_t prefix = strlen(ROUTE_PREFIX);
    if (req->path_len < prefix || memcmp(req->path, ROUTE_PREFIX, prefix) != 0)
        return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_response_header(call->res, "Allow", "GET, HEAD");
        api__reply_message(call, 405, "Wrong method");
        return true;
    }
    const char *id, *name;
    if (call->api->files_dir == NULL || !parse_file_path(call, &id, &name)) {
        reply_file_not_found(call);
        return true;
    }
    serve_file(call, id, name);
    return true;
}

/* ---- Start-up ----------------------------------------------------------------------------- */

err_t api_files_prepare(const char *dir, char *errbuf, size_t errlen)
{
    const size_t n = strlen(dir);
    if (n == 0 || n >= 4096) {
        snprintf(errbuf, errlen, "the files directory must be a path of 1 to 4095 bytes");
        return ERR_INVALID;
    }
    char path[4096];
    memcpy(path, dir, n + 1);
    /* Creates each missing parent too, as mkdir -p does; directories that exist keep their
     * mode, and only the ones created here get 0700. */
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        const char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(errbuf, errlen, "cannot create %s: %s", path, strerror(errno));
            return ERR_IO;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "%s is not a directory", dir);
        return ERR_IO;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(errbuf, errlen, "%s is not writable: %s", dir, strerror(errno));
        return ERR_IO;
    }
    return ERR_OK;
}

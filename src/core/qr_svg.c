/* QR codes as SVG data URIs. The symbol comes from libqrencode. The SVG writer is ours, so the
 * image is one plain path that any browser or image library renders the same way. */
#include "core/qr_svg.h"

#include <errno.h>
#include <qrencode.h>
#include <sodium.h>
#include <string.h>

static const char data_uri_prefix[] = "data:image/svg+xml;base64,";

/* Appends one rectangle per run of dark modules in row y. */
static void put_row(sbuf_t *out, const unsigned char *row, int width, int y)
{
    int x = 0;
    while (x < width) {
        if ((row[x] & 1) == 0) {
            x++;
            continue;
        }
        const int start = x;
        while (x < width && (row[x] & 1) != 0)
            x++;
        sbuf_printf(out, "M%d %dh%dv1h-%dz", start + QR_SVG_QUIET_ZONE, y + QR_SVG_QUIET_ZONE,
                    x - start, x - start);
    }
}

err_t qr_svg_write(const unsigned char *modules, int width, sbuf_t *out)
{
    if (modules == NULL || width <= 0 || out == NULL)
        return ERR_INVALID;
    const int size = width + 2 * QR_SVG_QUIET_ZONE;
    /* The default size of 4 pixels per module makes images of 116 to 740 pixels. A page can
     * scale them to any other size because of the viewBox. */
    sbuf_printf(out,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
                "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\"",
                size * 4, size * 4, size, size, size, size);
    for (int y = 0; y < width; y++)
        put_row(out, modules + (size_t)y * (size_t)width, width, y);
    sbuf_puts(out, "\"/></svg>");
    return sbuf_error(out);
}

/* Sets *uri to the data URI of the SVG in svg. */
static err_t to_data_uri(const sbuf_t *svg, arena_t *arena, char **uri)
{
    const size_t prefix = sizeof(data_uri_prefix) - 1;
    const size_t encoded = sodium_base64_ENCODED_LEN(svg->len, sodium_base64_VARIANT_ORIGINAL);
    *uri = arena_alloc(arena, prefix + encoded);
    if (*uri == NULL)
        return ERR_NOMEM;
    memcpy(*uri, data_uri_prefix, prefix);
    sodium_bin2base64(*uri + prefix, encoded, (const unsigned char *)sbuf_cstr(svg), svg->len,
                      sodium_base64_VARIANT_ORIGINAL);
    return ERR_OK;
}

err_t qr_svg_data_uri(const char *text, size_t n, arena_t *arena, char **uri)
{
    *uri = NULL;
    if (text == NULL || n == 0)
        return ERR_INVALID;
    if (n > QR_SVG_MAX_TEXT)
        return ERR_TOO_LARGE;
    /* Version 0 selects the smallest version that fits the data. */
    QRcode *code = QRcode_encodeData((int)n, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (code == NULL)
        return errno == ERANGE ? ERR_TOO_LARGE : ERR_NOMEM;
    sbuf_t svg;
    sbuf_init(&svg, QR_SVG_MAX_BYTES);
    err_t err = qr_svg_write(code->data, code->width, &svg);
    if (err == ERR_OK)
        err = to_data_uri(&svg, arena, uri);
    /* The symbol and its image carry the text, which may be a TOTP secret. */
    sodium_memzero(code->data, (size_t)code->width * (size_t)code->width);
    QRcode_free(code);
    if (svg.data != NULL)
        sodium_memzero(svg.data, svg.len);
    sbuf_deinit(&svg);
    return err;
}

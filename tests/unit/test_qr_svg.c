/* The QR code SVG writer: exact output for a small bitmap, the quiet zone, and a module-for-module
 * read-back of the image of real symbols against libqrencode's own bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <qrencode.h>
#include <sodium.h>

#include "core/qr_svg.h"

#define Q QR_SVG_QUIET_ZONE

/* Reads the SVG's size from its viewBox and paints every rectangle of its path into a new
 * size * size bitmap (1 = dark). Fails the test on any text it does not expect. */
static unsigned char *read_back(const char *svg, int *size)
{
    int w = 0, h = 0;
    const char *view = strstr(svg, "viewBox=\"0 0 ");
    assert_non_null(view);
    assert_int_equal(sscanf(view, "viewBox=\"0 0 %d %d\"", &w, &h), 2);
    assert_int_equal(w, h);
    assert_true(w > 2 * Q);
    unsigned char *bits = calloc((size_t)w * (size_t)w, 1);
    assert_non_null(bits);

    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    while (*d == 'M') {
        int x, y, run, back, used = 0;
        assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back, &used), 4);
        assert_true(used > 0);
        assert_int_equal(run, back);
        assert_true(run > 0);
        assert_true(x >= 0 && y >= 0 && x + run <= w && y < w);
        for (int i = 0; i < run; i++) {
            assert_int_equal(bits[y * w + x + i], 0); /* no module is drawn twice */
            bits[y * w + x + i] = 1;
        }
        d += used;
    }
    assert_string_equal(d, "\"/></svg>");
    *size = w;
    return bits;
}

/* Checks the image of code module by module, and that the quiet zone is light. */
static void assert_image_matches(const char *svg, const QRcode *code)
{
    int size = 0;
    unsigned char *bits = read_back(svg, &size);
    assert_int_equal(size, code->width + 2 * Q);
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            const int mx = x - Q, my = y - Q;
            const bool inside = mx >= 0 && my >= 0 && mx < code->width && my < code->width;
            const int expected = inside ? code->data[my * code->width + mx] & 1 : 0;
            if (bits[y * size + x] != expected)
                fail_msg("module (%d, %d) differs from libqrencode's", x, y);
        }
    }
    free(bits);
}

static void svg_small_bitmap_exact(void **state)
{
    /* libqrencode sets other bits besides bit 0 (0xc1 is a dark function module, 0xc0 a light
     * one); only bit 0 decides. */
    static const unsigned char modules[9] = {1, 0xc1, 0xc0, 0, 1, 0, 1, 0, 1};
    sbuf_t out;
    sbuf_init(&out, 4096);
    assert_int_equal(qr_svg_write(modules, 3, &out), ERR_OK);
    assert_string_equal(sbuf_cstr(&out),
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"44\" height=\"44\" "
                        "viewBox=\"0 0 11 11\" shape-rendering=\"crispEdges\">"
                        "<rect width=\"11\" height=\"11\" fill=\"#ffffff\"/>"
                        "<path fill=\"#000000\" d=\"M4 4h2v1h-2zM5 5h1v1h-1zM4 6h1v1h-1z"
                        "M6 6h1v1h-1z\"/></svg>");
    sbuf_deinit(&out);
}

static void svg_all_light_has_empty_path(void **state)
{
    static const unsigned char modules[4] = {0};
    sbuf_t out;
    sbuf_init(&out, 4096);
    assert_int_equal(qr_svg_write(modules, 2, &out), ERR_OK);
    assert_non_null(strstr(sbuf_cstr(&out), " d=\"\"/></svg>"));
    sbuf_deinit(&out);
}

static void svg_rejects_bad_arguments(void **state)
{
    static const unsigned char modules[1] = {1};
    sbuf_t out;
    sbuf_init(&out, 4096);
    assert_int_equal(qr_svg_write(NULL, 1, &out), ERR_INVALID);
    assert_int_equal(qr_svg_write(modules, 0, &out), ERR_INVALID);
    sbuf_deinit(&out);
}

static void svg_over_buffer_maximum_fails(void **state)
{
    static const unsigned char modules[4] = {1, 1, 1, 1};
    sbuf_t out;
    sbuf_init(&out, 64);
    assert_int_equal(qr_svg_write(modules, 2, &out), ERR_TOO_LARGE);
    sbuf_deinit(&out);
}

/* A version 1 symbol is 21 modules wide, and a 2FA URI needs a larger version. */
static void svg_matches_libqrencode_symbols(void **state)
{
    static const char *const texts[] = {
        "froth",
        "otpauth://totp/Froth%20Test%20%26%20Co:ann%40example.com?secret="
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Froth%20Test%20%26%20Co&algorithm=SHA1&"
        "digits=6&period=30",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        QRcode *code = QRcode_encodeData((int)strlen(texts[i]), (const unsigned char *)texts[i], 0,
                                         QR_ECLEVEL_M);
        assert_non_null(code);
        if (i == 0)
            assert_int_equal(code->width, 21);
        sbuf_t out;
        sbuf_init(&out, QR_SVG_MAX_BYTES);
        assert_int_equal(qr_svg_write(code->data, code->width, &out), ERR_OK);
        assert_image_matches(sbuf_cstr(&out), code);
        sbuf_deinit(&out);
        QRcode_free(code);
    }
}

/* Decodes the base64 of a data URI into a NUL-terminated string. */
static char *decode_data_uri(const char *uri)
{
    static const char prefix[] = "data:image/svg+xml;base64,";
    assert_memory_equal(uri, prefix, sizeof(prefix) - 1);
    const char *b64 = uri + sizeof(prefix) - 1;
    const size_t max = strlen(b64);
    char *svg = calloc(max + 1, 1);
    assert_non_null(svg);
    size_t n = 0;
    assert_int_equal(sodium_base642bin((unsigned char *)svg, max, b64, strlen(b64), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    svg[n] = '\0';
    return svg;
}

static void data_uri_holds_the_symbol(void **state)
{
    static const char text[] = "otpauth://totp/x:y?secret=ABCDEFGH";
    arena_t *arena = arena_new(4096, 1 << 22);
    assert_non_null(arena);
    char *uri = NULL;
    assert_int_equal(qr_svg_data_uri(text, strlen(text), arena, &uri), ERR_OK);
    char *svg = decode_data_uri(uri);
    QRcode *code =
        QRcode_encodeData((int)strlen(text), (const unsigned char *)text, 0, QR_ECLEVEL_M);
    assert_non_null(code);
    assert_image_matches(svg, code);
    QRcode_free(code);
    free(svg);
    arena_free(arena);
}

static void data_uri_capacity_limits(void **state)
{
    arena_t *arena = arena_new(4096, 1 << 24);
    assert_non_null(arena);
    char *text = malloc(QR_SVG_MAX_TEXT + 1);
    assert_non_null(text);
    memset(text, 'a', QR_SVG_MAX_TEXT + 1);
    char *uri = NULL;

    assert_int_equal(qr_svg_data_uri(text, QR_SVG_MAX_TEXT, arena, &uri), ERR_OK);
    char *svg = decode_data_uri(uri);
    assert_non_null(strstr(svg, "viewBox=\"0 0 185 185\"")); /* version 40: 177 + 2 * 4 */
    free(svg);

    assert_int_equal(qr_svg_data_uri(text, QR_SVG_MAX_TEXT + 1, arena, &uri), ERR_TOO_LARGE);
    assert_null(uri);
    assert_int_equal(qr_svg_data_uri(text, 0, arena, &uri), ERR_INVALID);
    free(text);
    arena_free(arena);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(svg_small_bitmap_exact),
        cmocka_unit_test(svg_all_light_has_empty_path),
        cmocka_unit_test(svg_rejects_bad_arguments),
        cmocka_unit_test(svg_over_buffer_maximum_fails),
        cmocka_unit_test(svg_matches_libqrencode_symbols),
        cmocka_unit_test(data_uri_holds_the_symbol),
        cmocka_unit_test(data_uri_capacity_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

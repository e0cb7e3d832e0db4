/* QR codes as SVG images: libqrencode computes the symbol, and qr_svg writes it as one SVG path.
 *
 * The SVG has a quiet zone of QR_SVG_QUIET_ZONE light modules on each side, the margin that QR
 * readers expect and libqrencode's own tools draw, and one unit of its viewBox per module. Dark modules are drawn as one rectangle per
 * horizontal run, so the image stays small. Nothing here logs: the encoded text may be a secret.
 */
#ifndef FROTH_CORE_QR_SVG_H
#define FROTH_CORE_QR_SVG_H

#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/sbuf.h"

#define QR_SVG_QUIET_ZONE 4         /* light modules around the symbol */
#define QR_SVG_MAX_TEXT 2331        /* bytes that fit in a version 40 symbol at level M */
/* Cap of the SVG text. A version 40 symbol of alternating modules, the worst case, needs about
 * 16,000 rectangles of at most 20 bytes each, so about 320 KB (an estimate, not a measurement). */
#define QR_SVG_MAX_BYTES (1u << 20)

/* Writes an SVG image of a QR symbol into out. modules has width * width bytes, row by row,
 * and a module is dark when bit 0 of its byte is set (libqrencode's layout). Returns the sbuf's
 * error: ERR_NOMEM, or ERR_TOO_LARGE when out's maximum is too small. */
err_t qr_svg_write(const unsigned char *modules, int width, sbuf_t *out) WARN_UNUSED;

/* Encodes n bytes of text as a QR code (byte mode, error correction level M, the smallest
 * version that fits) and sets *uri to a "data:image/svg+xml;base64," URI of its SVG image,
 * allocated in arena. Returns ERR_TOO_LARGE when the text is longer than QR_SVG_MAX_TEXT bytes,
 * ERR_INVALID when it is empty, and ERR_NOMEM. Thread-safe: Debian builds libqrencode with
 * pthread support. */
err_t qr_svg_data_uri(const char *text, size_t n, arena_t *arena, char **uri) WARN_UNUSED;

#endif

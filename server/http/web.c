/*
 * web.c — see web.h.  Static files only: a name is checked, opened
 * relative to the directory, and streamed; nothing is cached in memory.
 */
#include "server/http/web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "civetweb.h"

#define WEB_PATH_MAX 256
#define WEB_FILE_MAX (32u << 20) /* larger files are not the app's */

/* What the app may load: itself, its own API and live socket (same
 * origin), photos it made (blob:) and nothing inline. */
static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; "
	"manifest-src 'self'; media-src 'self' blob:; font-src 'self'; "
	"object-src 'none'; base-uri 'none'; form-action 'self'; "
	"frame-ancestors 'none'";

static const struct {
	const char *ext, *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json"},
	{".webmanifest", "application/manifest+json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".txt", "text/plain; charset=utf-8"},
	{".map", "application/json"},
	{".woff2", "font/woff2"},
};

int web_owns(const char *method, const char *uri)
{
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return 0;
	return strncmp(uri, "/v1/", 4) && strcmp(uri, "/v1") &&
	       strcmp(uri, "/healthz") &&
	       strcmp(uri, "/metrics");
}

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

/* uri -> a relative name inside the directory, or -1.  Each segment is
 * 1..64 bytes of [A-Za-z0-9._-] not starting with '.', so "..", hidden
 * files, encoded slashes and NUL never get through. */
static int map_name(const char *uri, char *out, size_t cap)
{
	if (uri[0] != '/')
		return -1;
	const char *p = uri + 1;
	const char *last = p;
	size_t n = 0, seg = 0;
	for (; *p; p++) {
		char ch = *p;
		if (ch == '/') {
			if (!seg)
				return -1;
			seg = 0;
			last = p + 1;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		           (ch == '.' && seg)) {
			seg++;
		} else {
			return -1;
		}
		if (seg > 64 || n + 1 >= cap)
			return -1;
		out[n++] = ch;
	}
	out[n] = 0;
	/* "/": the app shell (its screens are hash routes, #/shift, so no
	 * other path is the app's and unknown paths stay 404) */
	if (!n)
		return snprintf(out, cap, "index.html") >= (int)cap ? -1 : 0;
	return *last && strchr(last, '.') ? 0 : -1;
}

/* Long-lived caching is left to the service worker: every file is
 * revalidated (ETag), so a new build is picked up on the next load. */
static void send_head(struct mg_connection *c, int status, const char *type,
                      const char *etag, long long len, const char *enc,
                      int https)
{
	mg_printf(c,
	          "HTTP/1.1 %d %s\r\n"
	          "Content-Security-Policy: %s\r\n"
	          "X-Content-Type-Options: nosniff\r\n"
	          "Referrer-Policy: no-referrer\r\n"
	          "X-Frame-Options: DENY\r\n"
	          "Cross-Origin-Opener-Policy: same-origin\r\n"
	          "Permissions-Policy: camera=(self), geolocation=(self)\r\n"
	          "%s"
	          "Cache-Control: no-cache\r\n"
	          "ETag: %s\r\nVary: Accept-Encoding\r\n",
	          status, mg_get_response_code_text(c, status), csp,
	          https ? "Strict-Transport-Security: max-age=31536000\r\n" : "",
	          etag);
	if (status == 200)
		mg_printf(c, "Content-Type: %s\r\nContent-Length: %lld\r\n%s%s%s",
		          type, len, enc ? "Content-Encoding: " : "",
		          enc ? enc : "", enc ? "\r\n" : "");
	mg_printf(c, "\r\n");
}

static int etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return 0;
	if (!strcmp(inm, "*"))
		return 1;
	size_t n = strlen(etag);
	for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag))
		if ((p == inm || p[-1] == ' ' || p[-1] == ',') &&
		    (!p[n] || p[n] == ',' || p[n] == ' '))
			return 1;
	return 0;
}

/* Opens dir/name (a regular file, no symlink at the end); -1 otherwise. */
static int open_file(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) || !S_ISREG(st->st_mode) || st->st_size > WEB_FILE_MAX) {
		close(fd);
		return -1;
	}
	return fd;
}

static int accepts_gzip(struct mg_connection *c)
{
	const char *ae = mg_get_header(c, "Accept-Encoding");
	return ae && strcasestr(ae, "gzip") != NULL;
}

static void stream(struct mg_connection *c, int fd, off_t size)
{
	char buf[65536];
	off_t left = size;
	while (left > 0) {
		ssize_t k = read(fd, buf, left < (off_t)sizeof(buf) ? (size_t)left
		                                                    : sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || mg_write(c, buf, (size_t)k) <= 0)
			return; /* the length was promised: the client sees it cut */
		left -= k;
	}
}

int web_serve(struct mg_connection *c, const char *dir, const char *uri,
              int https)
{
	char name[WEB_PATH_MAX], gz[WEB_PATH_MAX + 3];
	const char *type;
	if (map_name(uri, name, sizeof(name)) || !(type = type_of(name)))
		return 0;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	struct stat st;
	int fd = open_file(dirfd, name, &st);
	if (fd < 0) {
		close(dirfd);
		return 0;
	}
	/* a precompressed copy, when it is at least as new as the file */
	const char *enc = NULL;
	snprintf(gz, sizeof(gz), "%s.gz", name);
	struct stat zst;
	int zfd = accepts_gzip(c) ? open_file(dirfd, gz, &zst) : -1;
	close(dirfd);
	if (zfd >= 0 && zst.st_mtime >= st.st_mtime) {
		close(fd);
		fd = zfd;
		st = zst;
		enc = "gzip";
	} else if (zfd >= 0) {
		close(zfd);
	}
	char etag[80];
	snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"",
	         (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
	                 (unsigned long long)st.st_mtim.tv_nsec,
	         enc ? "-gz" : "");
	const struct mg_request_info *ri = mg_get_request_info(c);
	int status = etag_matches(mg_get_header(c, "If-None-Match"), etag) ? 304 : 200;
	send_head(c, status, type, etag, (long long)st.st_size, enc, https);
	if (status == 200 && strcmp(ri->request_method, "HEAD"))
		stream(c, fd, st.st_size);
	close(fd);
	return status;
}

/*
 * errors.h — the project's error codes.  One list gives each code its
 * wire name (as sent in "error" / "code"), its HTTP status when it fails a
 * whole request, and its default message.  Functions return int: 0 is
 * FS_OK, anything else is one of these.
 */
#ifndef FS_ERRORS_H
#define FS_ERRORS_H

#define FS_ERROR_LIST(X)                                                       \
	X(OK, 200, "ok")                                                       \
	X(BAD_MSGPACK, 400, "body is not valid MessagePack")                  \
	X(BAD_REQUEST, 400, "malformed request")                              \
	X(UNSUPPORTED_VERSION, 400, "unsupported protocol version")           \
	X(UNAUTHORIZED, 401, "missing, unknown, expired or revoked token")    \
	X(FORBIDDEN, 403, "not allowed for this role")                        \
	X(TOO_LARGE, 413, "over a configured limit")                          \
	X(UNSUPPORTED_MEDIA_TYPE, 415, "unsupported content type or encoding") \
	X(NOT_FOUND, 404, "not found")                                        \
	X(METHOD_NOT_ALLOWED, 405, "method not allowed")                      \
	X(UNKNOWN_COLLECTION, 400, "unknown collection")                      \
	X(UNKNOWN_FIELD, 400, "unknown field")                                \
	X(BAD_TYPE, 400, "value has the wrong type")                          \
	X(BAD_ID, 400, "id must be 1-128 bytes of [A-Za-z0-9._:-]")           \
	X(IMMUTABLE, 409, "evidence records cannot be changed")               \
	X(CLOCK_AHEAD, 400, "stamp is too far ahead of the server clock")     \
	X(OUT_OF_SCOPE, 403, "record is outside the writer's scope")          \
	X(RATE_LIMITED, 429, "too many requests")                             \
	X(UNAVAILABLE, 503, "store unavailable, retry later")                 \
	X(INTERNAL, 500, "internal error")

enum {
#define FS_X(name, status, msg) FS_E_##name,
	FS_ERROR_LIST(FS_X)
#undef FS_X
	FS_E__COUNT
};
#define FS_OK FS_E_OK

/* Wire name of a code ("BAD_TYPE"); "INTERNAL" for anything unknown. */
const char *fs_err_name(int code);
/* HTTP status for a whole-request failure with this code. */
int fs_err_status(int code);
/* Default human message. */
const char *fs_err_msg(int code);

#endif

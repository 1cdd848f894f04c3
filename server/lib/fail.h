/*
 * fail.h — the one way the server's request functions fail.  A function
 * that answers with a code and a message (`const char **msg`) sets *msg
 * and returns the code with FAIL; one that owns resources keeps `int rc`
 * and a single cleanup label `out:` at its end, and leaves through
 * FAIL_OUT (or `goto out` with rc set), so every exit runs the cleanup.
 */
#ifndef FS_FAIL_H
#define FS_FAIL_H

#define FAIL(code, m)                                                          \
	do {                                                                   \
		*msg = (m);                                                    \
		return (code);                                                 \
	} while (0)

#define FAIL_OUT(code, m)                                                      \
	do {                                                                   \
		*msg = (m);                                                    \
		rc = (code);                                                   \
		goto out;                                                      \
	} while (0)

#endif

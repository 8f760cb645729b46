/* Redaction of secrets in text a record may carry (the arguments of an
 * exec, only with --exec-args on; the messages of a pod's events). Pure
 * functions. */
#ifndef NODETRAIL_BASE_REDACT_H
#define NODETRAIL_BASE_REDACT_H

#include <stddef.h>
#include <regex.h>
#include <cjson/cJSON.h>

#define REDACTED "<redacted>"

/* argv of an exec (NUL-separated, as the kernel keeps it) as a JSON array of
 * strings, with secrets redacted: the value of NAME=VALUE anywhere in an
 * argument ("--set=db.password=x", "a=1,token=x", a URL query) and of the
 * word after a --NAME flag when NAME looks like a secret (password, secret,
 * token, key, credential, auth, cookie, pwd, jwt, bearer); a URL's password
 * (user:pass@); Authorization, Cookie and X-Api-Key header values and the
 * credentials after "Bearer "/"Basic "; the secret short flags of mysql,
 * mysqldump, mysqladmin, mariadb (-pVALUE), sshpass (-p), redis-cli (-a)
 * and curl (-u); and any argument matching the operator's extra pattern
 * (POSIX ERE, NULL for none). NULL on ENOMEM. */
cJSON *redact_exec_args(const char *raw, size_t len, const regex_t *extra);

/* Free text that may quote a command or its output (a kubelet probe
 * message): the same rules word by word (words split at spaces, quotes
 * and commas kept), then cut to cap bytes (an ellipsis says so), into out
 * (len > cap). */
void redact_text(const char *in, size_t cap, char *out, size_t len);

#endif
